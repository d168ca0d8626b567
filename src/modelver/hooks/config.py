"""The store's list of HTTP hooks: append-only ``add``/``remove`` records, folded into the hooks in force.

Layout (under the store root)::

    hooks/config/<YYYYMMDDTHHMMSS.ffffffZ>-<id>.json     one record per add or remove (create-if-absent)

A hook names the URL, the event kinds it wants, and the *name* of the environment variable that holds its HMAC secret
in the processes that send payloads; the secret itself never enters the store.
"""

from __future__ import annotations

import json
import posixpath
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import attrs

from modelver.errors import InvalidReferenceError, StoreError
from modelver.manifest import CreatedBy
from modelver.serde import canonical_json, from_json_dict, to_json_dict
from modelver.store.objects import Store

__all__ = ["HOOK_EVENTS", "Hook", "HookRecord", "add_hook", "list_hooks", "remove_hook"]

HOOK_SCHEMA = "modelver.hook/1"
#: Event kinds a hook may subscribe to (``*``: every kind).
HOOK_EVENTS = frozenset(
    {"promote", "rollback", "yank", "unyank", "release", "publish", "deploy", "undeploy", "served", "approve", "*"}
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@attrs.frozen
class HookRecord:
    """One add or remove of a hook (stored once, never changed).

    Attributes:
        action: ``"add"`` or ``"remove"``.
        hook: the hook's id (16 hex digits).
        at: RFC 3339 UTC time with microseconds (writer's clock).
        by: who.
        created_by: OS user and host of the writer.
        url: the endpoint (``add`` only).
        events: the event kinds it receives (``add`` only).
        secret_env: the environment variable holding the HMAC secret (``add`` only; ``None``: unsigned).
    """

    action: str
    hook: str
    at: str
    by: str
    created_by: CreatedBy
    url: str = ""
    events: tuple[str, ...] = ()
    secret_env: str | None = None
    schema: str = HOOK_SCHEMA


@attrs.frozen
class Hook:
    """A hook in force.

    Attributes:
        id: 16 hex digits (``modelver hooks remove ID``).
        url: the ``http(s)://`` endpoint payloads are POSTed to.
        events: the event kinds it receives.
        secret_env: the variable holding its HMAC-SHA256 secret, or ``None`` (payloads are then unsigned).
        added_at: when it was added.
        added_by: who added it.
    """

    id: str
    url: str
    events: tuple[str, ...]
    secret_env: str | None
    added_at: str
    added_by: str

    def wants(self, kind: str) -> bool:
        """Whether this hook receives events of ``kind``."""
        return "*" in self.events or kind in self.events


def config_dir(store: Store) -> str:
    """Store path of ``hooks/config``."""
    return posixpath.join(store.root, "hooks", "config")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _write(store: Store, record: HookRecord) -> None:
    stamp = record.at.replace("-", "").replace(":", "")
    path = posixpath.join(config_dir(store), f"{stamp}-{uuid.uuid4().hex[:16]}.json")
    store.create_exclusive(path, canonical_json(to_json_dict(record)))


def add_hook(
    store: Store, url: str, *, events: tuple[str, ...], by: str, created_by: CreatedBy, secret_env: str | None = None
) -> Hook:
    """Add an HTTP hook to the store's list.

    Args:
        store: the store.
        url: ``http://`` or ``https://`` endpoint, e.g. ``https://ci.example.com/modelver``.
        events: kinds to send (see :data:`HOOK_EVENTS`), e.g. ``("promote", "deploy")``.
        by: who adds it.
        created_by: OS user and host of this process.
        secret_env: name of the environment variable holding the HMAC secret (never the secret).

    Returns:
        The hook.

    Raises:
        InvalidReferenceError: a URL that is not http(s), an unknown event kind, or a bad variable name.

    Example:
        >>> add_hook(store, "https://ci/x", events=("promote",), by="ops", created_by=me)  # doctest: +SKIP
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidReferenceError(
            f"hook URL {url!r} is not an http(s) URL; give e.g. https://host/path", reference=url
        )
    if parts.username or parts.password:
        raise InvalidReferenceError(
            f"hook URL {parts.hostname} carries credentials; the store is readable by its users: use --secret-env"
        )
    unknown = sorted(set(events) - HOOK_EVENTS)
    if not events or unknown:
        raise InvalidReferenceError(
            f"hook events {', '.join(unknown) or '(none)'} unknown; choose from {', '.join(sorted(HOOK_EVENTS))}"
        )
    if secret_env is not None and not _ENV_NAME.match(secret_env):
        raise InvalidReferenceError(
            f"--secret-env {secret_env!r} is not an environment variable name; give the variable's NAME, never the "
            "secret itself"
        )
    record = HookRecord(
        action="add",
        hook=uuid.uuid4().hex[:16],
        at=_now(),
        by=by,
        created_by=created_by,
        url=url,
        events=tuple(sorted(set(events))),
        secret_env=secret_env,
    )
    _write(store, record)
    return Hook(record.hook, url, record.events, secret_env, record.at, by)


def remove_hook(store: Store, hook_id: str, *, by: str, created_by: CreatedBy) -> None:
    """Remove a hook from the store's list.

    Raises:
        InvalidReferenceError: no hook with that id is in force.
    """
    known = {h.id for h in list_hooks(store)}
    if hook_id not in known:
        raise InvalidReferenceError(
            f"no hook {hook_id!r}; hooks in force: {', '.join(sorted(known)) or 'none'} (modelver hooks list)"
        )
    _write(store, HookRecord(action="remove", hook=hook_id, at=_now(), by=by, created_by=created_by))


def list_hooks(store: Store) -> list[Hook]:
    """The hooks in force: the fold of the add and remove records, in the order they were added.

    Raises:
        StoreError: a record cannot be read or parsed.
    """
    directory = config_dir(store)
    try:
        store.fs.invalidate_cache(directory)
        paths = sorted(str(p) for p in store.fs.ls(directory, detail=False) if str(p).endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    hooks: dict[str, Hook] = {}
    for path in paths:
        if posixpath.basename(path).startswith("."):
            continue
        try:
            record = from_json_dict(json.loads(store.fs.cat_file(path)), HookRecord)
        except Exception as exc:
            raise StoreError(f"the hook record {path} in {store.url} is not valid {HOOK_SCHEMA}: {exc}") from exc
        if record.action == "add":
            hooks[record.hook] = Hook(record.hook, record.url, record.events, record.secret_env, record.at, record.by)
        else:
            hooks.pop(record.hook, None)
    return list(hooks.values())
