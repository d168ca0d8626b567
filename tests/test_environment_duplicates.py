"""Two copies of one distribution on sys.path: the version recorded is the one whose files import (issue #20)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_python

PROBE = """
import json
import sys
from modelver.capture.environment import capture_environment
from modelver.serde import to_json_dict
if "import" in sys.argv:
    import dupe_pkg
facet = to_json_dict(capture_environment()[0])
print(json.dumps({"version": facet["packages"].get("dupe-pkg"), "duplicates": facet["duplicates"]}))
"""


def _dist(site: Path, version: str, *, with_files: bool, top_level: bool = True) -> None:
    """A wheel-style install of ``dupe_pkg`` in ``site``; without ``with_files`` only its .dist-info is left."""
    info = site / f"dupe_pkg-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dupe-pkg\nVersion: {version}\n")
    (info / "RECORD").write_text(f"dupe_pkg/__init__.py,,\ndupe_pkg-{version}.dist-info/METADATA,,\n")
    if top_level:
        (info / "top_level.txt").write_text("dupe_pkg\n")
    if with_files:
        (site / "dupe_pkg").mkdir()
        (site / "dupe_pkg" / "__init__.py").write_text(f"VERSION = {version!r}\n")


def _probe(tmp_path: Path, first: Path, second: Path, *args: str) -> dict[str, object]:
    """Capture the environment in a real interpreter with ``first`` then ``second`` on sys.path."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = run_python(script, *args, cwd=tmp_path, env={"PYTHONPATH": f"{first}:{second}"})
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_stale_dist_info_earlier_on_the_path_does_not_win(tmp_path: Path) -> None:
    """A stale 2.0.0 .dist-info first on sys.path, the real 1.0.0 package after it: 1.0.0 is what imports."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "2.0.0", with_files=False)
    _dist(second, "1.0.0", with_files=True)

    result = _probe(tmp_path, first, second)

    expected = {
        "version": "1.0.0",
        "duplicates": {
            "dupe-pkg": [
                {"version": "2.0.0", "location": str(first.resolve()), "imported": False},
                {"version": "1.0.0", "location": str(second.resolve()), "imported": True},
            ]
        },
    }
    assert expected == result


def test_already_imported_module_decides_without_top_level_txt(tmp_path: Path) -> None:
    """With only RECORD to name the package and the package already imported, its __file__ decides."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "2.0.0", with_files=False, top_level=False)
    _dist(second, "1.0.0", with_files=True, top_level=False)

    result = _probe(tmp_path, first, second, "import")

    assert "1.0.0" == result["version"]


def test_both_copies_complete_the_first_on_the_path_wins(tmp_path: Path) -> None:
    """Two complete installs: Python imports the first, so its version is recorded and the other is noted."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "2.0.0", with_files=True)
    _dist(second, "1.0.0", with_files=True)

    result = _probe(tmp_path, first, second)

    imported = [c["imported"] for c in result["duplicates"]["dupe-pkg"]]  # type: ignore[index]
    assert ("2.0.0", [True, False]) == (result["version"], imported)
