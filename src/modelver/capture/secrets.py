"""Secrets found by content: the text of untracked files, snapshot sources and config values is scanned with
detect-secrets (Yelp's widely used detector) before it is stored.

What runs: detect-secrets' known-token plugins (private keys, AWS, Azure storage, GitHub, GitLab, OpenAI, Slack,
Stripe, Twilio, SendGrid, npm, PyPI, JWT, basic-auth URLs, Artifactory, Discord, Mailchimp, Telegram, Square) and
its keyword plugin (``password = "..."``, ``db_password: ...``), plus two token shapes it does not know yet, written
as its own ``RegexBasedDetector`` plugins: Hugging Face tokens (``hf_`` and 34 letters) and Google API keys
(``AIza`` and 35 characters). Its high-entropy plugins run only where a value sits under a key that names a secret
(``api_token: 8f3a...``): digests and base64 references are high-entropy by nature and would all be flagged.

Users add their own regular expressions and allow-list paths under ``[tool.modelver]``
(:func:`modelver.settings.secret_rules`).
detect-secrets is imported lazily, on the first text to scan (it takes 0.1 to 0.3 s to import): a config of numbers
and a clean tree never load it. It is a dependency of modelver; where it is missing (``--no-deps``) nothing is
content-scanned, so untracked file contents are not stored and a capture error says how to fix it
(docs/security.md).
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import warnings
from collections.abc import Iterable
from typing import Any

import attrs

from modelver.capture.code_errors import _Errors
from modelver.capture.redact import is_secret_key
from modelver.errors import MissingDependencyError, StoreError
from modelver.manifest import Redaction
from modelver.settings import SecretRules, secret_rules
from modelver.store.digest import digest_bytes

__all__ = ["FileScan", "ValueScan", "find_secrets", "looks_binary", "scanner_available"]

#: The detect-secrets plugins that run on every text, as ``module:class`` under ``detect_secrets.plugins``.
_PLUGINS = (
    "private_key:PrivateKeyDetector",
    "aws:AWSKeyDetector",
    "azure_storage_key:AzureStorageKeyDetector",
    "github_token:GitHubTokenDetector",
    "gitlab_token:GitLabTokenDetector",
    "openai:OpenAIDetector",
    "slack:SlackDetector",
    "stripe:StripeDetector",
    "twilio:TwilioKeyDetector",
    "sendgrid:SendGridDetector",
    "npm:NpmDetector",
    "pypi_token:PypiTokenDetector",
    "jwt:JwtTokenDetector",
    "basic_auth:BasicAuthDetector",
    "artifactory:ArtifactoryDetector",
    "discord:DiscordBotTokenDetector",
    "mailchimp:MailchimpDetector",
    "telegram_token:TelegramBotTokenDetector",
    "square_oauth:SquareOAuthDetector",
)

#: A line can hold a keyword finding, or a value under a key that names a secret, only if it holds one of these
#: (lower-cased): the words of detect-secrets' keyword list and of :func:`~modelver.capture.redact.is_secret_key`.
_SECRET_WORDS = ("key", "pass", "pwd", "secret", "contrase", "token", "credential", "auth", "cookie", "dsn")

#: Text a detector's patterns cannot match without (lower-cased, any of them): the slow patterns are skipped
#: on text that lacks them (measured in benchmarks/secret_scan.py).
_NEEDS = {
    "PrivateKeyDetector": ("begin", "putty"),
    "AWSKeyDetector": ("a3t", "abia", "acca", "akia", "asia", "aws"),
    "BasicAuthDetector": ("://",),
    "MailchimpDetector": ("-us",),
    "ArtifactoryDetector": ("akc", "ap"),
    "SlackDetector": ("xox", "slack.com"),
    "StripeDetector": ("_live_",),
    "TelegramBotTokenDetector": (":",),
    "GitLabTokenDetector": ("gl",),
    "HuggingFaceTokenDetector": ("hf_",),
    "GoogleApiKeyDetector": ("aiza",),
}

#: ``key: value`` / ``key = "value"`` / ``"key": "value"``: where an entropy rule may look at the value.
_KEYED_VALUE_RE = re.compile(r"""([A-Za-z_][\w.-]*)["']?\s*[:=]\s*["']?([A-Za-z0-9+/=_\-]{16,})""")
_BINARY_SNIFF_BYTES = 8192

_lock = threading.Lock()
_loaded: _Detectors | None = None


@attrs.frozen
class _Detectors:
    regex: tuple[Any, ...]
    keyword: Any
    keyword_regexes: Any
    quotes_required: Any
    file_type: Any
    base64: Any
    hex: Any


def scanner_available() -> bool:
    """Whether detect-secrets can be imported here (without importing it)."""
    if _loaded is not None:
        return True
    import importlib.util

    return importlib.util.find_spec("detect_secrets") is not None


def _leave_warnings_alone(capture: bool) -> None:
    """Stands in for ``logging.captureWarnings`` while detect-secrets is imported."""


def _detectors() -> _Detectors:
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        showwarning = warnings.showwarning
        # detect-secrets' logging setup calls logging.captureWarnings(True) on import, which would send every warning
        # of the user's process into logging. This import runs in the capture thread while the user's code runs, so
        # undoing it afterwards is not enough (a warning raised meanwhile would be lost): the call is made a no-op
        # for the import instead. Only the logging module's attribute changes, never the warnings state.
        capture = logging.captureWarnings
        logging.captureWarnings = _leave_warnings_alone
        try:
            base = importlib.import_module("detect_secrets.plugins.base")
            keyword = importlib.import_module("detect_secrets.plugins.keyword")
            entropy = importlib.import_module("detect_secrets.plugins.high_entropy_strings")
            filetype = importlib.import_module("detect_secrets.util.filetype")
        except ImportError as exc:
            raise MissingDependencyError(
                "scanning untracked files and config values for secrets needs detect-secrets: "
                "pip install detect-secrets"
            ) from exc
        finally:
            logging.captureWarnings = capture
            if warnings.showwarning is not showwarning:  # another path changed it anyway: undo it
                logging.captureWarnings(False)
                warnings.showwarning = showwarning
        regex = []
        for spec in _PLUGINS:
            module, _, name = spec.partition(":")
            plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name, None)
            if plugin is not None:  # a later detect-secrets may rename one; the others still run
                regex.append(plugin())
        detector = base.RegexBasedDetector
        extra = (
            ("HuggingFaceTokenDetector", "Hugging Face Token", r"\bhf_[A-Za-z]{34}\b"),
            ("GoogleApiKeyDetector", "Google API Key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
        )
        for name, secret_type, pattern in extra:
            plugin = type(name, (detector,), {"secret_type": secret_type, "denylist": [re.compile(pattern)]})
            regex.append(plugin())
        _loaded = _Detectors(
            regex=tuple(regex),
            keyword=keyword.KeywordDetector(),
            keyword_regexes=keyword.REGEX_BY_FILETYPE,
            quotes_required=keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
            file_type=filetype.determine_file_type,
            base64=entropy.Base64HighEntropyString(),
            hex=entropy.HexHighEntropyString(),
        )
        return _loaded


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` is not text (a NUL byte in its first 8 KiB, git's own test)."""
    return b"\0" in data[:_BINARY_SNIFF_BYTES]


def find_secrets(text: str, *, filename: str = "", rules: SecretRules | None = None) -> tuple[str, ...]:
    """Scan ``text`` for secrets; return the names of the detectors that found one (sorted, no repeats).

    Args:
        text: a file's text or a config value.
        filename: the file's name, which tells detect-secrets' keyword plugin the syntax (YAML, Python, .env...);
            empty for a config value.
        rules: the user's extra patterns (allow-listing is the caller's business: it knows the path).

    Returns:
        Detector names such as ``("OpenAIDetector",)``, ``("KeywordDetector",)``, ``("secret-patterns[0]",)``;
        empty when nothing was found.

    Raises:
        MissingDependencyError: detect-secrets is not installed (``pip install detect-secrets``).

    Example:
        >>> find_secrets("aws_region: eu-west-1")
        ()
    """
    found: set[str] = set()
    if rules is not None:
        found.update(f"secret-patterns[{i}]" for i, p in enumerate(rules.patterns) if re.search(p, text))
    detectors = _detectors()
    lowered = text.lower()
    for plugin in detectors.regex:
        needs = _NEEDS.get(type(plugin).__name__)
        if needs is not None and not any(literal in lowered for literal in needs):
            continue  # it cannot match: skip a full regex pass over the text
        if next(iter(plugin.analyze_string(text)), None) is not None:
            found.add(type(plugin).__name__)
    if any(word in lowered for word in _SECRET_WORDS):
        regexes = detectors.keyword_regexes.get(detectors.file_type(filename or "value"), detectors.quotes_required)
        for line in _lines_with_secret_words(text):
            if "KeywordDetector" not in found and next(iter(detectors.keyword.analyze_string(line, regexes)), None):
                found.add("KeywordDetector")
            found.update(_keyed_entropy(line, detectors))
    return tuple(sorted(found))


def _lines_with_secret_words(text: str) -> Iterable[str]:
    for line in text.splitlines():
        lowered = line.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            yield line


def _keyed_entropy(text: str, detectors: _Detectors) -> set[str]:
    """The entropy plugins, only on values under a key that names a secret."""
    found: set[str] = set()
    for match in _KEYED_VALUE_RE.finditer(text):
        key, value = match.group(1), match.group(2)
        if not is_secret_key(key.rsplit(".", 1)[-1]):
            continue
        for plugin in (detectors.hex, detectors.base64):
            if set(value) <= set(plugin.charset) and plugin.calculate_shannon_entropy(value) > plugin.entropy_limit:
                found.add(type(plugin).__name__)
                break
    return found


class FileScan:
    """Scans the files of one code capture (untracked files, snapshot sources) with one set of rules.

    A file with a finding is withheld: the caller records it by name, with a :class:`~modelver.manifest.Redaction`
    holding the detectors and the digest of the content, and stores no byte of it. Binary files (a NUL byte in the
    first 8 KiB) and allow-listed paths are stored without a scan. Without detect-secrets every text file is
    withheld as ``"not-scanned"``, with one capture error saying what to install.

    Args:
        root: the directory the paths are relative to; its nearest ``pyproject.toml`` gives the rules.
        errors: where a failure to read the rules, or a missing detect-secrets, is recorded (once).
    """

    def __init__(self, root: str, errors: _Errors) -> None:
        self._errors = errors
        self._warned = False
        try:
            self.rules = secret_rules(root)
        except StoreError as exc:
            errors.add(exc, f"the secret rules were not read, so only the built-in detectors ran: {exc}")
            self.rules = SecretRules()

    def withhold(self, rel: str, data: bytes) -> Redaction | None:
        """Scan the content of the file at ``rel``; return the redaction to record, or ``None`` to store it."""
        if self.rules.allows(rel) or looks_binary(data):
            return None
        try:
            found = find_secrets(data.decode("utf-8", "replace"), filename=rel, rules=self.rules)
        except MissingDependencyError as exc:
            if not self._warned:
                self._warned = True
                self._errors.add(exc, f"untracked files and sources were recorded by name only: {exc}")
            found = ("not-scanned",)
        return Redaction(detectors=found, digest=digest_bytes(data)) if found else None


#: Config strings shorter than this are not scanned: no token a detector knows is this short, and a config of
#: short names ("adam", "cuda") then never imports detect-secrets.
_MIN_VALUE_CHARS = 12


class ValueScan:
    """Scans the string values of one config; the rules are read, and detect-secrets imported, on first need.

    Attributes:
        unavailable: the reason nothing was scanned (detect-secrets missing, bad rules), or ``""``.
    """

    def __init__(self) -> None:
        self._rules: SecretRules | None = None
        self.unavailable = ""

    def find(self, text: str, path: str) -> str | None:
        """The name of the first detector that finds a secret in the config value at key path ``path``, or
        ``None`` (also when the value is short, allow-listed, or cannot be scanned: see :attr:`unavailable`)."""
        if len(text) < _MIN_VALUE_CHARS or self.unavailable:
            return None
        try:
            if self._rules is None:
                self._rules = secret_rules()
            if self._rules.allows(path):
                return None
            found = find_secrets(text, rules=self._rules)
        except (MissingDependencyError, StoreError) as exc:
            self.unavailable = str(exc)
            return None
        return found[0] if found else None
