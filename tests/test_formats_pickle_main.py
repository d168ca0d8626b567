"""Pickles of classes defined in a script's __main__: warned about at save, explained at load."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

import modelver
from modelver.errors import FormatError

SCRIPT = textwrap.dedent(
    """
    import warnings

    import modelver


    class Net:
        def __init__(self):
            self.weights = [1.0, 2.0]


    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with modelver.track("pickled", version="0.1.0") as run:
            run.save_model(Net(), allow_pickle=True)
    for warning in caught:
        print(f"{warning.category.__name__}: {warning.message}")
    """
)


def _save_from_a_script(tmp_path: Path, store: Path) -> str:
    """Run the script above as __main__ in a real subprocess; its printed warnings."""
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MODELVER_STORE": str(store)},
        timeout=120,
    )
    assert 0 == done.returncode, done.stderr
    return done.stdout


def test_saving_a_main_class_warns_to_move_it(tmp_path: Path, store_dir: Path) -> None:
    """save_model(allow_pickle=True) of a __main__ class warns (UserWarning) naming the class and the fix."""
    printed = _save_from_a_script(tmp_path, store_dir)
    warned = [line for line in printed.splitlines() if line.startswith("UserWarning:") and "__main__" in line]
    assert 1 == len(warned), printed
    assert ("Net" in warned[0], "importable module" in warned[0]) == (True, True)
    with modelver.track("pickled", version="0.2.0") as run:  # an importable class: no warning (pytest: error)
        run.save_model(Fraction(1, 3), allow_pickle=True)
    assert Fraction(1, 3) == modelver.load("pickled@0.2.0", allow_pickle=True)


def test_loading_it_elsewhere_explains_the_missing_class(tmp_path: Path, store_dir: Path) -> None:
    """Loading the pickle where __main__ lacks the class says the class cannot be imported, not "mislabelled"."""
    _save_from_a_script(tmp_path, store_dir)
    with pytest.raises(FormatError) as raised:
        modelver.load("pickled@0.1.0", allow_pickle=True)
    message = str(raised.value)
    assert (True, True, False) == (
        "cannot import" in message,
        "move it into an importable module" in message,
        "mislabelled" in message or "do not decode" in message,
    )
    assert isinstance(raised.value.__cause__, AttributeError)
