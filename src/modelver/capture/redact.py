"""Keep secrets out of bundles: credential-bearing keys, URLs and command-line arguments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"

# Matched against a key with '-' and ' ' folded to '_', case-insensitively. Any "<something>_key" counts
# (openai_key, hf_key): hiding a harmless sort_key costs less than leaking a real one; "key" alone does not.
# "token" counts (hf_token, apitoken, token_value) except as ML vocabulary: tokenizer, max_tokens, pad_token_id and
# token_type_ids name no secret, and a real token under such a key is found by content (capture.secrets).
_SECRET_KEY_RE = re.compile(
    r"(passw(or)?d|passphrase|secret|token(?!s|i[zs]|_ids?\b|_type)|api_?key|access_?key|private_?key|credential|auth|cookie|session_?key"
    r"|.+_key$|.+_keys$|dsn$)",
    re.IGNORECASE,
)
_URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_QUERY_RE = re.compile(r"(?i)(sig|signature|token|key|secret|password|x-amz-[a-z-]+)=[^&]*")


def is_secret_key(key: str) -> bool:
    """Whether a config key or option name names a secret (password, token, api key, ...)."""
    return bool(_SECRET_KEY_RE.search(key.replace("-", "_").replace(" ", "_")))


def strip_url_credentials(url: str) -> str:
    """Remove ``user:password@`` from a URL and secret-looking query parameters.

    A plain ``user@`` without a password is kept (``git@github.com:org/repo`` and ``ssh://git@host/...`` carry no
    secret). Text that is not a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        # A token alone in the user part (https://ghp_xxx@github.com) is a secret too; only ssh users are kept.
        keep_user = ":" not in userinfo and parts.scheme in {"ssh", "git+ssh"}
        netloc = f"{userinfo}@{host}" if keep_user else host
    query = _SECRET_QUERY_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Strip credentials from every URL inside free text (error messages, reprs)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT_RE.sub(lambda m: strip_url_credentials(m.group()), text)


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Redact values of secret-looking options (``--token=X``, ``--password X``) and credentials in URLs."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-"):
            option, sep, _value = arg.partition("=")
            if is_secret_key(option.lstrip("-")):
                if sep:
                    out.append(f"{option}={REDACTED}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(strip_url_credentials(arg))
    return tuple(out)
