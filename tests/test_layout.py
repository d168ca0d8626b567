"""The package's shape: public API kept, layers one way (import-linter), no circles, small modules."""

from __future__ import annotations

import ast
import importlib
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import grimp
import pytest

import modelver

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "modelver"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Every name `import modelver` offered when the package was regrouped. A name may be added to `__all__`; one that
# disappears breaks users' code, so removing it needs a deprecation first (and an edit here that says so).
PUBLIC_NAMES = {
    "AliasState", "CaptureError", "CaptureWarning", "DataCheck", "EnvironmentMismatchError",
    "EnvironmentMismatchWarning", "Event", "Fingerprint", "Format", "FormatError", "GcReport", "IntegrityError",
    "InvalidReferenceError", "InvalidStepError", "LoadContext", "Manifest", "MissingDependencyError", "ModelVersion",
    "ModelverError", "Prompt", "ProtectedAliasError", "ReproduceError", "ReproduceReport", "Run", "StepCall",
    "StepExplanation", "Store", "StoreChoice", "StoreError", "StoreVerifyReport", "UnsafeFormatError", "Usage",
    "VerifyReport", "VersionDiff", "VersionExistsError", "VersionNotFoundError", "VersionTag", "YankedVersionWarning",
    "__version__", "aliases", "check_data", "choose_store", "collect_garbage", "decode_config", "diff",
    "encode_config", "explain_step", "fingerprint", "get", "history", "list_versions", "load", "promote", "protect",
    "register_format", "release", "reproduce", "rollback", "track", "unprotect", "unyank", "used_by", "verify",
    "verify_all", "versioned", "yank",
}  # fmt: skip


def test_no_public_name_disappears() -> None:
    """Every name of the regrouping's public API is still in `modelver.__all__` and importable from `modelver`."""
    assert set() == PUBLIC_NAMES - set(modelver.__all__)
    assert [] == [name for name in sorted(modelver.__all__) if not hasattr(modelver, name)]


def test_public_names_carry_docstrings() -> None:
    """Each public class and function says what it does (the reference pages are generated from these)."""
    undocumented = [
        name
        for name in modelver.__all__
        if callable(getattr(modelver, name)) and not (getattr(modelver, name).__doc__ or "").strip()
    ]
    assert [] == undocumented


def test_the_cli_entry_point_still_resolves() -> None:
    """`modelver.cli:main` (the console script) and `python -m modelver.cli` both run the CLI."""
    from modelver.cli import main

    assert callable(main)
    out = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "--help"], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Version models" in out.stdout


@pytest.mark.parametrize(
    ("old", "name", "new"),
    [
        ("modelver._events", "fold", "modelver.registry.events"),
        ("modelver._lifecycle", "promote", "modelver.registry.lifecycle"),
        ("modelver._semver", "parse_semver", "modelver.registry.semver"),
    ],
)
def test_old_private_modules_forward_with_a_deprecation_warning(old: str, name: str, new: str) -> None:
    """The three modules older docs pointed at still work for one release, and say where the name lives now."""
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        value = getattr(module, name)
    assert getattr(importlib.import_module(new), name) is value


def test_errors_also_inherit_their_built_in() -> None:
    """`except ValueError` / `except RuntimeError` written for the standard library catches these too."""
    assert issubclass(modelver.IntegrityError, ValueError)
    assert issubclass(modelver.UnsafeFormatError, ValueError)
    assert issubclass(modelver.CaptureError, RuntimeError)
    for name in modelver.__all__:
        value = getattr(modelver, name)
        if isinstance(value, type) and issubclass(value, modelver.ModelverError):
            assert value is modelver.ModelverError or len(value.__mro__) > 3, f"{name} inherits no built-in"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_600_lines() -> None:
    """Modules stay small enough to read in one sitting (docs/contributing: ~500 lines, 600 at most)."""
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    assert {} == {path: n for path, n in sizes.items() if n > 600}


def test_no_underscore_modules_inside_subpackages() -> None:
    """Inside a package privacy is `__all__` and the docs; file names say the concept."""
    private = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.parent != PACKAGE and p.name.startswith("_") and p.name not in ("__init__.py", "__main__.py")
    ]
    assert [] == private


def test_no_import_circle_between_modules() -> None:
    """No two modules import each other, directly or through others, counting imports inside functions."""
    graph = grimp.build_graph("modelver")
    circles = [
        (a, b)
        for a in sorted(graph.modules)
        for b in sorted(graph.find_modules_directly_imported_by(a))
        if b.startswith("modelver") and graph.chain_exists(importer=b, imported=a)
    ]
    assert [] == circles


def test_import_linter_contract_holds() -> None:
    """`lint-imports` (the layers contract in pyproject.toml) passes on the package as it is."""
    out = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert 0 == out.returncode, out.stdout + out.stderr


def test_import_linter_fails_when_a_lower_layer_imports_a_higher_one(tmp_path: Path) -> None:
    """The contract is not vacuous: a lazy import of the CLI from inside the store breaks it."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "modelver", ignore=shutil.ignore_patterns("__pycache__"))
    digest = copy / "modelver" / "store" / "digest.py"
    digest.write_text(digest.read_text() + "\n\ndef _reach_up() -> None:\n    from modelver.cli import app  # noqa\n")
    ast.parse(digest.read_text())
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    out = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert 0 != out.returncode
    assert "modelver.store.digest -> modelver.cli.app" in out.stdout


def test_import_modelver_pulls_in_no_lower_layer_warning() -> None:
    """Importing the package emits no warning (the deprecated modules warn only when used)."""
    code = "import warnings; warnings.simplefilter('error'); import modelver, modelver.cli"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("modelver._events")


def test_public_names_carry_an_example() -> None:
    """Each public class and function, exceptions and warnings aside, shows its use in an ``Example:`` section."""
    missing = [
        name
        for name in modelver.__all__
        if callable(value := getattr(modelver, name))
        and not (isinstance(value, type) and issubclass(value, BaseException))
        and "Example" not in (value.__doc__ or "")
    ]
    assert [] == missing


def test_every_error_and_warning_class_is_public() -> None:
    """Each class `modelver.errors` defines is in its `__all__` and in `modelver.__all__`, so users can catch it."""
    import inspect

    import modelver.errors as errors

    defined = {n for n, o in vars(errors).items() if inspect.isclass(o) and o.__module__ == errors.__name__}
    assert set() == defined - set(errors.__all__)
    assert set() == defined - set(modelver.__all__)
