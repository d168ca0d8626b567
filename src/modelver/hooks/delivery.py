"""Sending hook payloads: one attempt at once, the outbox, retries with backoff, and the delivery log.

After an event is durably written, :func:`emit` gives each hook that wants its kind one POST with a short timeout
(:data:`DEFAULT_TIMEOUT_S`). Every delivery and every attempt is a write-once record::

    hooks/deliveries/<delivery-id>/payload.json       what is sent, to which hook and URL (create-if-absent)
    hooks/deliveries/<delivery-id>/attempt-<n>.json   attempt n: outcome, HTTP status, error, when to retry

A delivery whose last attempt failed is in the **outbox**: :func:`deliver` (``modelver hooks deliver``, cron-able)
retries it once its backoff (``base * 2**(n-1)``) has passed, and gives up after ``max_attempts``.

The body is canonical JSON; ``X-Modelver-Signature: sha256=<hex>`` is its HMAC-SHA256 under the secret read from the
hook's ``secret_env`` variable *in the sending process*. ``MODELVER_HOOK_HOSTS`` (comma-separated) restricts, on
this machine, which hosts payloads go to: anyone who can write the store can edit its hook list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import posixpath
import urllib.error
import urllib.request
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import attrs

from modelver.errors import CaptureWarning, StoreError
from modelver.hooks.callbacks import call_callbacks
from modelver.hooks.config import Hook, list_hooks
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.settings import ENV_HOOK_HOSTS
from modelver.store.objects import Store

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "SIGNATURE_HEADER",
    "Attempt",
    "Delivery",
    "deliver",
    "delivery_log",
    "emit",
    "sign_body",
]

#: Seconds one POST may take in the writing process (the event is already written; a slow receiver is retried).
DEFAULT_TIMEOUT_S = 2.0
#: Attempts before a delivery is given up (the first, in the writing process, included).
DEFAULT_MAX_ATTEMPTS = 5
#: Backoff base in seconds: attempt n+1 is due ``base * 2**(n-1)`` after attempt n.
DEFAULT_BACKOFF_S = 60.0
SIGNATURE_HEADER = "X-Modelver-Signature"


@attrs.frozen
class Delivery:
    """A payload for one hook (stored once).

    Attributes:
        id: 16 hex digits.
        hook: the hook's id.
        url: where it goes.
        secret_env: the variable holding the HMAC secret (``None``: unsigned).
        payload: the JSON payload: ``event``, ``name``, ``version``, ``digest``, ``by``, ``at`` and kind-specific keys.
    """

    id: str
    hook: str
    url: str
    secret_env: str | None
    payload: dict[str, Any]
    schema: str = "modelver.hook-delivery/1"


@attrs.frozen
class Attempt:
    """One attempt to deliver (stored once).

    Attributes:
        delivery: the delivery's id.
        n: 1 for the attempt in the writing process, then 2, 3, ...
        at: RFC 3339 UTC time of the attempt.
        outcome: ``"delivered"`` (2xx), ``"failed"`` (retried later) or ``"gave-up"`` (no more retries).
        status: the HTTP status, or ``None`` when no response came.
        error: what went wrong, in words (empty when delivered).
        retry_at: when :func:`deliver` may retry (``None`` unless failed).
    """

    delivery: str
    n: int
    at: str
    outcome: str
    status: int | None = None
    error: str = ""
    retry_at: str | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _dir(store: Store, delivery: str = "") -> str:
    return posixpath.join(store.root, "hooks", "deliveries", *((delivery,) if delivery else ()))


def sign_body(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``"sha256=" + hex(HMAC-SHA256(secret, body))``.

    Example:
        >>> sign_body(b"{}", "s3cret")[:7]
        'sha256='
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _allowed_host(url: str) -> str | None:
    """``None`` when ``url``'s host may receive payloads from this machine, else why not."""
    raw = os.environ.get(ENV_HOOK_HOSTS, "").strip()
    if not raw:
        return None
    parts = urlsplit(url)
    allowed = {h.strip().lower() for h in raw.split(",") if h.strip()}
    host = (parts.hostname or "").lower()
    if host in allowed or f"{host}:{parts.port}" in allowed:
        return None
    return f"{host} is not in {ENV_HOOK_HOSTS} ({', '.join(sorted(allowed))}) on this machine"


def _post(delivery: Delivery, timeout_s: float) -> tuple[int | None, str]:
    """POST the payload once: the HTTP status (or ``None``) and an error text (empty on 2xx)."""
    if urlsplit(delivery.url).scheme not in ("http", "https"):  # the store's records may have been edited
        return None, f"blocked: {delivery.url!r} is not an http(s) URL"
    refused = _allowed_host(delivery.url)
    if refused is not None:
        return None, f"blocked: {refused}"
    body = canonical_json(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "modelver-hooks",
        "X-Modelver-Event": str(delivery.payload.get("event", "")),
        "X-Modelver-Delivery": delivery.id,
    }
    if delivery.secret_env is not None:
        secret = os.environ.get(delivery.secret_env)
        if not secret:
            return None, f"the secret variable {delivery.secret_env} is not set in this process; nothing sent"
        headers[SIGNATURE_HEADER] = sign_body(body, secret)
    request = urllib.request.Request(delivery.url, data=body, headers=headers, method="POST")  # noqa: S310 (checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http(s) checked above)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    return (status, "") if 200 <= status < 300 else (status, f"HTTP {status}")


def _attempt(
    store: Store, delivery: Delivery, n: int, *, timeout_s: float, max_attempts: int, backoff_s: float
) -> Attempt:
    status, error = _post(delivery, timeout_s)
    now = _now()
    if not error:
        attempt = Attempt(delivery.id, n, _stamp(now), "delivered", status)
    elif n >= max_attempts:
        attempt = Attempt(delivery.id, n, _stamp(now), "gave-up", status, error)
    else:
        retry = _stamp(now + timedelta(seconds=backoff_s * 2 ** (n - 1)))
        attempt = Attempt(delivery.id, n, _stamp(now), "failed", status, error, retry)
    store.create_exclusive(
        posixpath.join(_dir(store, delivery.id), f"attempt-{n:04d}.json"), canonical_json(to_json_dict(attempt))
    )
    return attempt


def emit(
    store: Store,
    payload: dict[str, Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> list[Attempt]:
    """Call the Python hooks and send ``payload`` once to every HTTP hook that wants ``payload["event"]``.

    Call it only after the event is durably written. Never raises: what fails is recorded (and retried by
    :func:`deliver`) or, when even the record cannot be written, becomes a :class:`~modelver.errors.CaptureWarning`.

    Args:
        store: the store whose hook list applies.
        payload: JSON-able dict with at least ``event`` (the kind).
        timeout_s: seconds the one POST per hook may take.
        max_attempts: attempts before a delivery is given up.
        backoff_s: backoff base for retries.

    Returns:
        The first attempt of each delivery.

    Example:
        >>> emit(store, {"event": "promote", "name": "churn", "version": "1.4.0"})  # doctest: +SKIP
    """
    call_callbacks(payload)
    attempts: list[Attempt] = []
    try:
        hooks: list[Hook] = [h for h in list_hooks(store) if h.wants(str(payload.get("event")))]
    except Exception as exc:  # a broken hook list never fails the event
        warnings.warn(f"could not read the hook list of {store.url}: {exc}", CaptureWarning, stacklevel=3)
        return attempts
    for hook in hooks:
        delivery = Delivery(uuid.uuid4().hex[:16], hook.id, hook.url, hook.secret_env, dict(payload))
        try:
            store.create_exclusive(
                posixpath.join(_dir(store, delivery.id), "payload.json"), canonical_json(to_json_dict(delivery))
            )
            attempts.append(
                _attempt(store, delivery, 1, timeout_s=timeout_s, max_attempts=max_attempts, backoff_s=backoff_s)
            )
        except Exception as exc:
            warnings.warn(
                f"could not deliver or record the {payload.get('event')} hook to {hook.url}: {exc}",
                CaptureWarning,
                stacklevel=3,
            )
    return attempts


def _read(store: Store, path: str) -> Any:
    try:
        return json.loads(store.fs.cat_file(path))
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read the hook record {path} in {store.url}: {exc}") from exc


def delivery_log(store: Store) -> list[tuple[Delivery, list[Attempt]]]:
    """Every delivery with its attempts, oldest attempt first (``modelver hooks log``).

    Raises:
        StoreError: a record cannot be read.
    """
    root = _dir(store)
    try:
        store.fs.invalidate_cache(root)
        directories = store.fs.ls(root, detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for directory in sorted(str(d).rstrip("/") for d in directories):
        store.fs.invalidate_cache(directory)
        names = sorted(posixpath.basename(str(p)) for p in store.fs.ls(directory, detail=False))
        if "payload.json" not in names:
            continue
        delivery = from_json_dict(_read(store, posixpath.join(directory, "payload.json")), Delivery)
        attempts = [
            from_json_dict(_read(store, posixpath.join(directory, n)), Attempt)
            for n in names
            if n.startswith("attempt-") and n.endswith(".json")
        ]
        out.append((delivery, attempts))
    out.sort(key=lambda pair: pair[1][0].at if pair[1] else "")
    return out


def deliver(
    store: Store,
    *,
    now: datetime | None = None,
    timeout_s: float = 10.0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_s: float = DEFAULT_BACKOFF_S,
) -> list[Attempt]:
    """Retry every delivery in the outbox whose backoff has passed (``modelver hooks deliver``; cron-able).

    Args:
        store: the store.
        now: the time to compare retry times with (default: now).
        timeout_s: seconds each POST may take.
        max_attempts: attempts before a delivery is given up.
        backoff_s: backoff base for the next retry.

    Returns:
        The attempts made.

    Raises:
        StoreError: the outbox cannot be read.

    Example:
        >>> [a.outcome for a in deliver(store)]  # doctest: +SKIP
        ['delivered']
    """
    moment = now or _now()
    made = []
    for delivery, attempts in delivery_log(store):
        if not attempts:
            due = True  # the writing process died between the payload and its first attempt
        else:
            last = attempts[-1]
            due = last.outcome == "failed" and (last.retry_at is None or _parse(last.retry_at) <= moment)
        if not due:
            continue
        try:
            made.append(
                _attempt(
                    store,
                    delivery,
                    len(attempts) + 1,
                    timeout_s=timeout_s,
                    max_attempts=max_attempts,
                    backoff_s=backoff_s,
                )
            )
        except FileExistsError:
            continue  # another `hooks deliver` made this attempt at the same time
    return made
