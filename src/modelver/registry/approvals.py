"""Approvals and per-alias approval policies, with optional SSH signatures (``ssh-keygen -Y sign``/``verify``).

Both are events beside the name's others (:mod:`modelver.registry.events`):

- ``policy``: the rules for one alias: how many *distinct* approvers must approve a digest before it may be promoted
  there (``require_approvals``), optionally who may approve (``approvers``) and whether only approvals whose SSH
  signature verifies count (``require_signatures``). The last policy event of an alias is in force;
  ``require_approvals=0`` lifts it.
- ``approve``: ``by`` approves one exact manifest digest for one alias, optionally with an SSH signature over
  :func:`approval_message` (namespace :data:`SIGNATURE_NAMESPACE`).

``by`` is free text, so anyone who can write the store can claim to be anyone: an unsigned approval is *claimed*.
A signature is verified against a **local** ``allowed_signers`` file (``MODELVER_ALLOWED_SIGNERS`` or the
``allowed_signers=`` argument; the format of ssh-keygen(1) "ALLOWED SIGNERS"), as git verifies SSH-signed commits:
the trust root never lives in the store, whose writers could otherwise add their own key to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from modelver.errors import InvalidReferenceError, PolicyError, StoreError
from modelver.provenance import created_by
from modelver.registry.events import Event, new_event, read_events, write_event
from modelver.registry.names import validate_alias, validate_name
from modelver.registry.notify import notify
from modelver.registry.resolution import resolve, unknown_name
from modelver.settings import ENV_ALLOWED_SIGNERS
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = [
    "SIGNATURE_NAMESPACE",
    "Approval",
    "Policy",
    "approval_message",
    "approvals",
    "approve",
    "check_policy",
    "policies",
    "set_policy",
    "sign_message",
    "verify_signature",
]

StoreArg = str | os.PathLike[str] | Store | None
PathArg = str | os.PathLike[str] | None
#: The ``-n`` namespace of every approval signature, so a signature made for something else never counts here.
SIGNATURE_NAMESPACE = "modelver-approval"
#: Seconds an ``ssh-keygen`` call may take (signing with an agent or a hardware key may ask for a touch).
SSH_KEYGEN_TIMEOUT_S = 60


@attrs.frozen
class Policy:
    """The approval rules in force for one alias.

    Attributes:
        name: the model name.
        alias: the guarded alias.
        require_approvals: distinct approvers a digest needs before it may be promoted to ``alias`` (0: none).
        approvers: who may approve (empty: anyone).
        require_signatures: only approvals whose SSH signature verifies against the local allowed_signers count.
        event: the ``policy`` event that set these rules.

    Example:
        >>> from modelver.registry.approvals import policies
        >>> policy = policies("churn")["production"]  # doctest: +SKIP
        >>> policy.require_approvals, policy.approvers  # doctest: +SKIP
        (2, ('alice', 'bob', 'carol'))
    """

    name: str
    alias: str
    require_approvals: int
    approvers: tuple[str, ...] = ()
    require_signatures: bool = False
    event: Event | None = None


@attrs.frozen
class Approval:
    """One approval of a digest for an alias, and what is known of who made it.

    Attributes:
        name: the model name.
        alias: the alias it approves the digest for.
        version: the version approved (the digest is what counts).
        digest: the manifest digest approved.
        by: the approver, as claimed.
        at: when (the writer's clock).
        signed: whether the approval carries an SSH signature.
        verified: ``True`` when the signature verifies for ``by`` against the allowed_signers file, ``False`` when
            it does not, ``None`` when unsigned or no allowed_signers file was given (shown as "claimed").
        event: the ``approve`` event.

    Example:
        >>> [(a.by, a.status) for a in modelver.approvals("churn@1.4.0", alias="production")]  # doctest: +SKIP
        [('alice', 'verified'), ('bob', 'claimed')]
    """

    name: str
    alias: str
    version: str
    digest: str
    by: str
    at: str
    signed: bool
    verified: bool | None
    event: Event

    @property
    def status(self) -> str:
        """``"verified"``, ``"bad signature"`` or ``"claimed"`` (unsigned, or signed but not checked)."""
        if self.verified is True:
            return "verified"
        if self.verified is False:
            return "bad signature"
        return "claimed"


def approval_message(name: str, alias: str, digest: str, by: str) -> bytes:
    """The bytes an approval signature covers: the name, alias, exact digest and approver, one per line.

    Example:
        >>> approval_message("churn", "production", "blake3:ab", "alice")
        b'modelver-approval/1\\nname=churn\\nalias=production\\ndigest=blake3:ab\\nby=alice\\n'
    """
    return f"modelver-approval/1\nname={name}\nalias={alias}\ndigest={digest}\nby={by}\n".encode()


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise StoreError("ssh-keygen is not installed; install OpenSSH (openssh-client) to sign or verify approvals")
    return found


def sign_message(message: bytes, key: str | os.PathLike[str]) -> str:
    """Sign ``message`` with an SSH private key (``ssh-keygen -Y sign -n modelver-approval``).

    Args:
        message: the bytes to sign (:func:`approval_message`).
        key: the private key file (or its ``.pub``, with the key in ssh-agent).

    Returns:
        The armored signature (``-----BEGIN SSH SIGNATURE-----`` ...).

    Raises:
        InvalidReferenceError: the key cannot sign (missing, wrong passphrase, not a key).
        StoreError: ssh-keygen is not installed.

    Example:
        >>> sign_message(b"hello", "~/.ssh/id_ed25519")  # doctest: +SKIP
    """
    done = subprocess.run(
        [_ssh_keygen(), "-Y", "sign", "-f", os.fspath(Path(key).expanduser()), "-n", SIGNATURE_NAMESPACE],
        input=message,
        capture_output=True,
        timeout=SSH_KEYGEN_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0 or b"BEGIN SSH SIGNATURE" not in done.stdout:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidReferenceError(
            f"ssh-keygen could not sign with {key}: {why[-1] if why else 'no signature'}; give an unencrypted private "
            "key, or one loaded in ssh-agent",
            reference=os.fspath(key),
        )
    return done.stdout.decode()


def verify_signature(message: bytes, signature: str, identity: str, allowed_signers: str | os.PathLike[str]) -> bool:
    """Whether ``signature`` over ``message`` was made by a key that ``allowed_signers`` lists for ``identity``.

    Args:
        message: the signed bytes.
        signature: the armored SSH signature.
        identity: the principal to check (the approver's ``by``).
        allowed_signers: an ssh-keygen allowed_signers file.

    Returns:
        ``True`` when ``ssh-keygen -Y verify`` accepts it.

    Example:
        >>> verify_signature(msg, sig, "alice", "allowed_signers")  # doctest: +SKIP
        True
    """
    with tempfile.TemporaryDirectory(prefix="modelver-sig-") as tmp:
        sig_path = Path(tmp) / "approval.sig"
        sig_path.write_text(signature)
        done = subprocess.run(
            [
                _ssh_keygen(),
                "-Y",
                "verify",
                "-f",
                os.fspath(allowed_signers),
                "-I",
                identity,
                "-n",
                SIGNATURE_NAMESPACE,
                "-s",
                os.fspath(sig_path),
            ],
            input=message,
            capture_output=True,
            timeout=SSH_KEYGEN_TIMEOUT_S,
            check=False,
        )
    return done.returncode == 0


def _allowed_signers(given: PathArg) -> Path | None:
    raw = os.fspath(given) if given is not None else os.environ.get(ENV_ALLOWED_SIGNERS)
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise InvalidReferenceError(
            f"the allowed_signers file {path} does not exist; point {ENV_ALLOWED_SIGNERS} at an ssh-keygen "
            "allowed_signers file (lines of 'PRINCIPAL KEYTYPE KEY')",
            reference=str(path),
        )
    return path


def _explicit(by: str) -> str:
    text = by.strip() if by else ""
    if not text or not text.isprintable() or len(text) > 200 or any(c.isspace() for c in text):
        raise InvalidReferenceError(
            f"by={by!r} does not name an approver; give one word naming a person or account, e.g. --by alice",
            reference=str(by),
        )
    return text


def set_policy(
    name: str,
    alias: str,
    *,
    require_approvals: int,
    by: str,
    approvers: Iterable[str] = (),
    require_signatures: bool = False,
    reason: str = "",
    store: StoreArg = None,
) -> Event:
    """Set the approval policy of ``name@alias`` (a ``policy`` event; the last one is in force).

    Args:
        name: the model name.
        alias: the alias to guard, e.g. ``"production"``.
        require_approvals: distinct approvers a digest needs before promotion (0 lifts the policy).
        by: who sets the policy (explicit, recorded).
        approvers: who may approve (default: anyone).
        require_signatures: count only approvals whose SSH signature verifies against the local allowed_signers.
        reason: why.
        store: the store.

    Returns:
        The ``policy`` event written.

    Raises:
        InvalidReferenceError: a bad name, alias, approver, or a negative count.
        VersionNotFoundError: the name has no versions.

    Example:
        >>> set_policy("churn", "production", require_approvals=2, by="lead")  # doctest: +SKIP
    """
    validate_name(name)
    validate_alias(alias)
    if require_approvals < 0 or (require_approvals == 0 and require_signatures):
        raise InvalidReferenceError(
            f"require_approvals={require_approvals}: give 0 (no policy) or a positive count of distinct approvers"
        )
    allowed = tuple(sorted({_explicit(a) for a in approvers}))
    if allowed and len(allowed) < require_approvals:
        raise InvalidReferenceError(
            f"{require_approvals} approvals required but only {len(allowed)} approver(s) allowed "
            f"({', '.join(allowed)}); list at least as many approvers"
        )
    opened = open_store(store)
    if not opened.list_versions(name):
        raise unknown_name(opened, name)
    details = {
        "require_approvals": require_approvals,
        "approvers": list(allowed),
        "require_signatures": require_signatures,
    }
    event = new_event(
        name,
        "policy",
        by=_explicit(by),
        created_by=created_by(),
        explicit_by=True,
        reason=reason,
        alias=alias,
        details=details,
    )
    write_event(opened, event)
    return event


def _policy_of(name: str, alias: str, events: Iterable[Event]) -> Policy | None:
    last = None
    for event in sorted(events, key=lambda e: e.order):
        if event.kind == "policy" and event.alias == alias:
            last = event
    if last is None or int(last.details.get("require_approvals", 0)) <= 0:
        return None
    return Policy(
        name=name,
        alias=alias,
        require_approvals=int(last.details["require_approvals"]),
        approvers=tuple(str(a) for a in last.details.get("approvers", ())),
        require_signatures=bool(last.details.get("require_signatures", False)),
        event=last,
    )


def policies(name: str, *, store: StoreArg = None) -> dict[str, Policy]:
    """The approval policies in force for ``name``, by alias.

    Example:
        >>> policies("churn")["production"].require_approvals  # doctest: +SKIP
        2
    """
    validate_name(name)
    events = read_events(open_store(store), name)
    aliases = sorted({e.alias for e in events if e.kind == "policy" and e.alias})
    found = {a: _policy_of(name, a, events) for a in aliases}
    return {a: p for a, p in found.items() if p is not None}


def approve(
    ref: str,
    *,
    alias: str,
    by: str,
    sign_with: PathArg = None,
    reason: str = "",
    store: StoreArg = None,
) -> Event:
    """Approve the exact digest ``ref`` resolves to for promotion to ``alias``.

    Args:
        ref: the version, e.g. ``"churn@1.4.0"``.
        alias: the alias the approval is for, e.g. ``"production"``.
        by: the approver (explicit; the principal an SSH signature is checked against).
        sign_with: an SSH private key to sign the approval with (``ssh-keygen -Y sign``); unsigned: "claimed".
        reason: why.
        store: the store.

    Returns:
        The ``approve`` event written.

    Raises:
        InvalidReferenceError: a bad reference, alias or approver, or the key cannot sign.
        VersionNotFoundError: ``ref`` matches nothing.

    Example:
        >>> approve("churn@1.4.0", alias="production", by="alice", sign_with="~/.ssh/id_ed25519")  # doctest: +SKIP
    """
    validate_alias(alias)
    who = _explicit(by)
    opened = open_store(store)
    tag = resolve(opened, ref, warn_yanked=False)
    details: dict[str, Any] = {}
    if sign_with is not None:
        details["signature"] = sign_message(approval_message(tag.name, alias, tag.manifest, who), sign_with)
    event = new_event(
        tag.name,
        "approve",
        by=who,
        created_by=created_by(),
        explicit_by=True,
        reason=reason,
        alias=alias,
        version=tag.version,
        digest=tag.manifest,
        details=details,
    )
    write_event(opened, event)
    notify(opened, event)
    return event


def _approvals(name: str, events: Iterable[Event], allowed: Path | None) -> list[Approval]:
    out = []
    for event in sorted(events, key=lambda e: e.order):
        if event.kind != "approve" or event.alias is None or event.digest is None or event.version is None:
            continue
        signature = event.details.get("signature")
        verified = None
        if isinstance(signature, str) and allowed is not None:
            message = approval_message(name, event.alias, event.digest, event.by)
            verified = verify_signature(message, signature, event.by, allowed)
        out.append(
            Approval(
                name=name,
                alias=event.alias,
                version=event.version,
                digest=event.digest,
                by=event.by,
                at=event.at,
                signed=isinstance(signature, str),
                verified=verified,
                event=event,
            )
        )
    return out


def approvals(
    ref: str, *, alias: str | None = None, allowed_signers: PathArg = None, store: StoreArg = None
) -> list[Approval]:
    """The approvals of the digest ``ref`` resolves to (for every alias, or one), oldest first.

    Args:
        ref: the version.
        alias: only approvals for this alias.
        allowed_signers: verify signatures against this file (default: ``MODELVER_ALLOWED_SIGNERS``; without
            either, signed approvals are shown as claimed).
        store: the store.

    Example:
        >>> [a.status for a in approvals("churn@1.4.0")]  # doctest: +SKIP
        ['verified', 'claimed']
    """
    opened = open_store(store)
    tag = resolve(opened, ref, warn_yanked=False)
    found = _approvals(tag.name, read_events(opened, tag.name), _allowed_signers(allowed_signers))
    return [a for a in found if a.digest == tag.manifest and (alias is None or a.alias == alias)]


def check_policy(
    store: Store, name: str, alias: str, digest: str, events: Iterable[Event], *, allowed_signers: PathArg = None
) -> Policy | None:
    """Refuse a promotion of ``digest`` to ``alias`` that the alias's policy does not allow yet.

    Returns:
        The policy that was satisfied, or ``None`` when the alias has none.

    Raises:
        PolicyError: fewer distinct approvers (allowed ones; with verified signatures when required) approved
            that exact digest than the policy requires; the message says who approved and how to add one.
    """
    listed = list(events)
    policy = _policy_of(name, alias, listed)
    if policy is None:
        return None
    allowed = _allowed_signers(allowed_signers) if policy.require_signatures else None
    if policy.require_signatures and allowed is None:
        raise PolicyError(
            f"{name}@{alias} requires signed approvals, and no allowed_signers file is set to verify them: point "
            f"{ENV_ALLOWED_SIGNERS} at your ssh-keygen allowed_signers file",
            name=name,
            alias=alias,
            digest=digest,
            required=policy.require_approvals,
        )
    counted = set()
    for approval in _approvals(name, listed, allowed):
        if approval.alias != alias or approval.digest != digest:
            continue
        if policy.approvers and approval.by not in policy.approvers:
            continue
        if policy.require_signatures and approval.verified is not True:
            continue
        counted.add(approval.by)
    if len(counted) >= policy.require_approvals:
        return policy
    who = ", ".join(sorted(counted)) or "nobody"
    kind = "signed approvals" if policy.require_signatures else "approvals"
    among = f" from {', '.join(policy.approvers)}" if policy.approvers else ""
    raise PolicyError(
        f"{name}@{alias} requires {policy.require_approvals} distinct {kind}{among} of {digest[:19]}…; it has "
        f"{len(counted)} ({who}). Approve it with `modelver approve {name}@{digest[:19]} --for {alias} --by WHO"
        f"{' --sign-with KEY' if policy.require_signatures else ''}`",
        name=name,
        alias=alias,
        digest=digest,
        required=policy.require_approvals,
        approved_by=tuple(sorted(counted)),
    )
