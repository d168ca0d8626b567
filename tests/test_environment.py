"""Environment capture: every distribution once, the copy that imports, editable installs marked."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from helpers import run_python
from modelver.capture.environment import capture_environment


def test_packages_match_importlib_metadata_and_are_canonical() -> None:
    """Every installed distribution appears once under its PEP 503 name with its version."""
    facet, errors = capture_environment()
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        expected.setdefault(canonicalize_name(dist.metadata["Name"]), dist.version)
    assert [] == errors
    assert expected == facet.packages
    assert metadata.version("scikit-learn") == facet.packages["scikit-learn"]


def test_modelver_itself_is_recorded_as_editable() -> None:
    """The development install of modelver carries its PEP 610 source URL."""
    facet, _ = capture_environment()
    assert facet.editable["modelver"].url.startswith("file://")


def _fake_dist(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_shadowed_copies_report_the_one_that_imports(tmp_path: Path) -> None:
    """Two sys.path entries holding one distribution: the first on sys.path wins, once."""
    first, second = tmp_path / "first", tmp_path / "second"
    _fake_dist(first, "Shadow_Pkg", "2.0.0")
    _fake_dist(second, "shadow.pkg", "1.0.0")
    script = tmp_path / "probe.py"
    script.write_text(
        "import json\nfrom modelver.capture.environment import capture_environment\n"
        "print(json.dumps(capture_environment()[0].packages))\n"
    )
    out = run_python(script, cwd=tmp_path, env={"PYTHONPATH": f"{first}:{second}"})
    packages = json.loads(out.stdout)
    assert "2.0.0" == packages["shadow-pkg"]
    assert 1 == sum(1 for name in packages if name == "shadow-pkg")
