"""Secrets found by content (issue #16): untracked files, sources and config values are scanned before they are
stored; what has a finding is kept out, by name and digest, and ``modelver show`` says what and why."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from helpers import run_python
from modelver.capture.config import encode_config
from modelver.capture.secrets import find_secrets
from modelver.settings import SecretRules, secret_rules
from modelver.store.digest import digest_bytes

pytest.importorskip("detect_secrets")

CLI = [str(Path(sys.executable).parent / "modelver")]

# Built from parts so that this file is not itself a finding of a secret scanner run over the repository.
PRIVATE_KEY = (
    "-----BEGIN "
    + "PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
)
HF_TOKEN = "hf_" + "QwErTyUiOpAsDfGhJkLzXcVbNmQwErTyUi"
GITHUB_TOKEN = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
OPENAI_KEY = "sk-" + "A1b2C3d4E5f6G7h8I9j0" + "T3Blbk" + "FJ" + "K1l2M3n4O5p6Q7r8S9t0"
DB_PASSWORD = "Corr3ct-H0rse-Battery"
ACME_KEY = "acme_" + "0f" * 16

#: A model config that is all digests and references: high-entropy by nature, and none of it is a secret.
MODEL_CONFIG = {
    "checkpoint_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "weights": "blake3:" + "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    "weights_b64_ref": base64.b64encode(bytes(range(48))).decode(),
    "tokenizer": "tokenizer.json",
    "max_tokens": 4096,
    "pad_token_id": 0,
    "data": "s3://bucket/datasets/v3/" + "c0ffee" * 6 + "/train.parquet",
    "run": "wandb://team/project/runs/3f2a9b7c",
}

SECRET_FILES = {
    "gcp-service-account.json": json.dumps(
        {"type": "service_account", "project_id": "p", "private_key": PRIVATE_KEY, "client_email": "a@p.iam"}
    ),
    "secrets/db.txt": "hunter2\n",
    ".huggingface/token": HF_TOKEN + "\n",
    "token.txt": GITHUB_TOKEN + "\n",
    "conf/prod.yaml": f"db_host: db.internal\ndb_password: {DB_PASSWORD}\n",
    "internal.txt": f"the acme key is {ACME_KEY}\n",
}
PLAIN_FILES = {
    "conf/model.json": json.dumps(MODEL_CONFIG, indent=2),
    "notes.md": "lr 3e-4 worked best; tokens per batch 4096\n",
    "fixtures/fake.txt": GITHUB_TOKEN + "\n",  # allow-listed below: a test fixture, stored as is
}

TRAIN = """
import modelver
with modelver.track("bot", config={"openai": %r, "model": %r, "db": {"password": "x"}}) as run:
    run.save_config("rag", {"top_k": 5})
print(run.version.digest)
"""


@pytest.fixture
def published(make_repo: Callable[..., Path], store_dir: Path) -> tuple[Path, modelver.ModelVersion]:
    """A real repository with the issue's secret files untracked, trained in a real subprocess."""
    pyproject = '[tool.modelver]\nsecret-patterns = ["acme_[0-9a-f]{32}"]\nsecret-allow = ["fixtures/*"]\n'
    repo = make_repo({"train.py": TRAIN % (OPENAI_KEY, MODEL_CONFIG), "pyproject.toml": pyproject})
    for rel, text in {**SECRET_FILES, **PLAIN_FILES}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    run_python(repo / "train.py", cwd=repo)
    return repo, modelver.get("bot")


def test_untracked_files_with_secrets_are_recorded_by_name_and_digest_only(
    published: tuple[Path, modelver.ModelVersion],
) -> None:
    """Each secret file of the issue is listed without content, with the detector and the digest of its bytes."""
    repo, version = published
    git = version.manifest.code.git
    assert git is not None
    assert dict.fromkeys(SECRET_FILES) == {rel: git.untracked[rel] for rel in SECRET_FILES}
    expected = {
        "gcp-service-account.json": ("PrivateKeyDetector",),
        ".huggingface/token": ("HuggingFaceTokenDetector",),
        "token.txt": ("GitHubTokenDetector",),
        "conf/prod.yaml": ("KeywordDetector",),
        "internal.txt": ("secret-patterns[0]",),
    }
    assert expected == {rel: entry.detectors for rel, entry in git.redacted.items()}
    assert {rel: digest_bytes((repo / rel).read_bytes()) for rel in expected} == {
        rel: entry.digest for rel, entry in git.redacted.items()
    }


def test_no_byte_of_a_secret_reaches_the_store(published: tuple[Path, modelver.ModelVersion], store_dir: Path) -> None:
    """Neither the blobs nor the manifests hold any of the secrets, in files or in the config."""
    stored = b"".join(p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    secrets = (PRIVATE_KEY[:40], HF_TOKEN, OPENAI_KEY, DB_PASSWORD, ACME_KEY, "hunter2")
    assert [] == [s for s in secrets if s.encode() in stored]
    # The GitHub token is in the store once: as the allow-listed fixture, stored on purpose.
    git = published[1].manifest.code.git
    assert git is not None
    assert git.untracked["fixtures/fake.txt"] is not None


def test_false_positives_are_stored_unchanged(published: tuple[Path, modelver.ModelVersion]) -> None:
    """A model config of hex digests and base64 references is stored as is, as a file and as config values."""
    repo, version = published
    git = version.manifest.code.git
    assert git is not None
    for rel in ("conf/model.json", "notes.md"):
        digest = git.untracked[rel]
        assert digest is not None
        assert (repo / rel).read_bytes() == version.store.read_blob(digest)
    assert MODEL_CONFIG == version.config()["model"]


def test_a_secret_under_an_innocent_config_key_is_replaced_by_a_marker(
    published: tuple[Path, modelver.ModelVersion],
) -> None:
    """config={"openai": "sk-..."} stores a marker naming the detector; a key-named secret keeps its marker."""
    config = published[1].manifest.config
    assert {"$type": "redacted", "detector": "OpenAIDetector"} == config["openai"]
    assert {"$type": "redacted"} == config["db"]["password"]


def test_show_lists_what_was_redacted_and_why(published: tuple[Path, modelver.ModelVersion]) -> None:
    """`modelver show` prints one `redacted` line per file and config value kept out, with the detector."""
    done = subprocess.run([*CLI, "show", "bot"], capture_output=True, text=True, env=dict(os.environ))
    assert 0 == done.returncode, done.stderr
    lines = [line.split(None, 1)[1] for line in done.stdout.splitlines() if line.startswith("redacted ")]
    assert [
        "untracked file .huggingface/token: HuggingFaceTokenDetector",
        "untracked file conf/prod.yaml: KeywordDetector",
        "untracked file gcp-service-account.json: PrivateKeyDetector",
        "untracked file internal.txt: secret-patterns[0]",
        "untracked file token.txt: GitHubTokenDetector",
        "untracked file secrets/db.txt: file name",
        "config db.password: key name",
        "config openai: OpenAIDetector",
    ] == lines


def test_rules_come_from_pyproject_and_bad_ones_are_refused(tmp_path: Path) -> None:
    """secret-patterns and secret-allow are read from [tool.modelver]; an invalid regex is a StoreError."""
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\nsecret-patterns = ["x{3}"]\nsecret-allow = ["a/*"]\n')
    assert SecretRules(patterns=("x{3}",), allow=("a/*",)) == secret_rules(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\nsecret-patterns = ["(unclosed"]\n')
    with pytest.raises(modelver.StoreError, match="not a regular expression"):
        secret_rules(tmp_path)


def test_config_values_are_scanned_only_when_long_enough_and_not_allow_listed() -> None:
    """Short values are not scanned; an OpenAI key is found under any key; digests are left alone."""
    encoded = encode_config({"opt": "adam", "k": OPENAI_KEY, "nested": [{"v": GITHUB_TOKEN}], **MODEL_CONFIG})
    assert ("k", "nested[0].v") == encoded.redacted
    assert {"$type": "redacted", "detector": "GitHubTokenDetector"} == encoded.value["nested"][0]["v"]
    assert MODEL_CONFIG == {key: encoded.value[key] for key in MODEL_CONFIG}


hex_digests = st.binary(min_size=16, max_size=64).map(bytes.hex)
b64_blobs = st.binary(min_size=12, max_size=96).map(lambda b: base64.b64encode(b).decode())
innocent_keys = st.sampled_from(["digest", "sha256", "checkpoint", "weights", "blake3", "etag", "revision", "hash"])


@settings(max_examples=200, deadline=None)
@given(key=innocent_keys, value=st.one_of(hex_digests, b64_blobs), style=st.sampled_from(["yaml", "json", "env"]))
def test_digests_and_base64_under_innocent_keys_are_never_findings(key: str, value: str, style: str) -> None:
    """Entropy rules look only under keys that name a secret: a digest or base64 reference is never flagged."""
    text = {"yaml": f"{key}: {value}\n", "json": json.dumps({key: value}), "env": f"{key.upper()}={value}\n"}[style]
    assert () == find_secrets(text, filename=f"model.{style}")


@settings(max_examples=100, deadline=None)
@given(
    before=st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=40),
    after=st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=40),
    token=st.sampled_from([(HF_TOKEN, "HuggingFaceTokenDetector"), (OPENAI_KEY, "OpenAIDetector")]),
)
def test_a_known_token_is_found_wherever_it_sits(before: str, after: str, token: tuple[str, str]) -> None:
    """A known token between arbitrary words is found by its detector."""
    assert token[1] in find_secrets(f"{before} {token[0]} {after}")


WITHOUT_DETECTOR = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "detect_secrets":
            raise ImportError("blocked for the test")
        return None

sys.meta_path.insert(0, Block())
import modelver
with modelver.track("plain", config={"openai": %r, "lr": 0.1}) as run:
    pass
print(run.version.digest)
"""


def test_without_detect_secrets_files_are_withheld_and_the_run_says_why(
    make_repo: Callable[..., Path], store_dir: Path
) -> None:
    """No detector: untracked text files are recorded by name and digest only (not-scanned), a capture error says
    to install detect-secrets, and training still publishes."""
    repo = make_repo({"train.py": WITHOUT_DETECTOR % OPENAI_KEY})
    (repo / "notes.md").write_text("nothing secret\n")
    run_python(repo / "train.py", cwd=repo)
    version = modelver.get("plain")
    git = version.manifest.code.git
    assert git is not None
    assert {"notes.md": None} == git.untracked
    assert {"notes.md": ("not-scanned",)} == {rel: entry.detectors for rel, entry in git.redacted.items()}
    messages = [e.message for e in version.manifest.capture_errors]
    assert 2 == sum("pip install detect-secrets" in message for message in messages), messages
    assert OPENAI_KEY == version.manifest.config["openai"]  # not scanned, and the capture error says so


def test_loading_the_detector_leaves_the_processs_warnings_alone() -> None:
    """detect-secrets turns on logging.captureWarnings when imported; the user's warnings must still be warnings."""
    import subprocess
    import sys

    code = (
        "import warnings\n"
        "before = warnings.showwarning\n"
        "from modelver.capture.config import encode_config\n"
        "encode_config({'openai': 'sk-' + 'a' * 48})\n"
        "import detect_secrets\n"
        "assert warnings.showwarning is before, warnings.showwarning\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
