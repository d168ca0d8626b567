"""Code identity of steps: what changes it and what does not, one test per case docs/steps.md lists."""

from __future__ import annotations

import importlib
import itertools
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import run_python
from modelver.capture.distributions import package_versions
from modelver.capture.identity import CodeIdentity, code_identity
from modelver.capture.local_code import is_local_module

_counter = itertools.count()


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Any]:
    """Write a small project (module name → source) to a fresh directory and import one of its modules.

    Every call uses a new directory but the same module names, so two versions of a project can be compared; the
    modules are removed from ``sys.modules`` afterwards.
    """
    loaded: list[str] = []

    def write_and_import(files: dict[str, str], main: str = "pipeline") -> Any:
        directory = tmp_path / f"v{next(_counter)}"
        directory.mkdir()
        for name, source in files.items():
            (directory / f"{name}.py").write_text(textwrap.dedent(source))
        for name in files:
            sys.modules.pop(name, None)
        sys.path.insert(0, str(directory))
        try:
            module = importlib.import_module(main)
        finally:
            sys.path.remove(str(directory))
        loaded.extend(files)
        return module

    yield write_and_import
    for name in loaded:
        sys.modules.pop(name, None)


def identity(load: Any, files: dict[str, str], func: str = "step") -> CodeIdentity:
    """The code identity of ``pipeline.<func>`` in a project made of ``files``."""
    return code_identity(getattr(load(files), func))


BASE = {
    "helpers": '''
        """Helpers."""
        FACTOR = 2


        def inner(x):
            return x + 1


        def scale(x):
            return inner(x) * FACTOR
    ''',
    "pipeline": """
        import numpy as np

        import helpers
        from helpers import scale


        def step(x):
            '''Double the input.'''
            y = scale(x)
            return np.sum(y)
    """,
}


def test_whitespace_comments_docstrings_and_line_moves_do_not_change_it(load: Any) -> None:
    """Reformatting, comments, a new docstring and moving functions down keep the identity."""
    reformatted = {
        "helpers": '''
            """Helpers, documented differently."""
            FACTOR = 2
            # a comment


            def scale(x):
                """Scale it."""
                return   inner( x ) * FACTOR  # why


            def inner(x):

                return x + 1
        ''',
        "pipeline": "\n\n\n" + BASE["pipeline"].replace("y = scale(x)", "y = scale(x)  # the helper"),
    }
    assert identity(load, BASE).digest == identity(load, reformatted).digest


def test_editing_a_helper_in_another_module_changes_it_transitively(load: Any) -> None:
    """A change two calls away (step → helpers.scale → helpers.inner) changes the identity, and names the part."""
    before = identity(load, BASE)
    after = identity(load, {**BASE, "helpers": BASE["helpers"].replace("x + 1", "x + 2")})
    assert before.digest != after.digest
    assert ["helpers:inner"] == [k for k in before.parts if before.parts[k] != after.parts.get(k)]
    assert {"pipeline:step", "helpers:scale", "helpers:inner", "helpers:FACTOR"} == set(before.parts)


def test_module_attribute_chains_are_followed(load: Any) -> None:
    """``helpers.scale(x)`` resolves through the module like ``scale(x)`` does."""
    files = {**BASE, "pipeline": BASE["pipeline"].replace("y = scale(x)", "y = helpers.scale(x)")}
    edited = {"helpers": files["helpers"].replace("x + 1", "x - 1"), "pipeline": files["pipeline"]}
    assert identity(load, files).digest != identity(load, edited).digest


def test_immutable_constants_are_covered_by_value(load: Any) -> None:
    """Changing a module-level constant the helper reads changes the identity."""
    edited = {**BASE, "helpers": BASE["helpers"].replace("FACTOR = 2", "FACTOR = 3")}
    assert identity(load, BASE).digest != identity(load, edited).digest


def test_the_contents_of_mutable_globals_are_not_covered(load: Any) -> None:
    """Documented limit: a module-level list's contents are not hashed (pass such values as arguments)."""
    source = """
        WEIGHTS = [{weights}]


        def step(x):
            return x * sum(WEIGHTS)
    """
    one = identity(load, {"pipeline": source.format(weights="1, 2")})
    two = identity(load, {"pipeline": source.format(weights="3, 4")})
    assert one.digest == two.digest


def test_closures_over_constants_are_covered(load: Any) -> None:
    """A step made by a factory: the closed-over constant is part of the identity."""
    source = """
        def make(k):
            def step(x):
                return x * k
            return step


        step = make({k})
    """
    assert (
        identity(load, {"pipeline": source.format(k=2)}).digest
        != identity(load, {"pipeline": source.format(k=3)}).digest
    )


def test_methods_called_through_self_are_covered(load: Any) -> None:
    """``self.helper()`` inside a method resolves against the class that defines the method."""
    source = """
        class Model:
            def step(self, x):
                return self.helper(x)

            def helper(self, x):
                return x + {n}
    """
    one = identity(load, {"pipeline": source.format(n=1)}, "Model")
    two = identity(load, {"pipeline": source.format(n=2)}, "Model")
    assert one.digest != two.digest
    method = code_identity(load({"pipeline": source.format(n=1)}).Model.step)
    assert {"pipeline:Model.step", "pipeline:Model.helper"} == set(method.parts)


def test_dynamic_dispatch_on_an_argument_is_not_covered(load: Any) -> None:
    """Documented limit: ``obj.run()`` on an argument cannot be resolved statically, so editing it is not seen."""
    source = """
        class Runner:
            def run(self):
                return {n}


        def step(runner):
            return runner.run()
    """
    one = identity(load, {"pipeline": source.format(n=1)})
    two = identity(load, {"pipeline": source.format(n=2)})
    assert one.digest == two.digest
    assert ["pipeline:step"] == list(one.parts)


def test_a_class_the_step_uses_brings_its_methods_and_local_bases(load: Any) -> None:
    """Instantiating a local class covers its methods and its local base class's methods."""
    source = """
        class Base:
            def fit(self, x):
                return x * {n}


        class Model(Base):
            pass


        def step(x):
            return Model().fit(x)
    """
    one = identity(load, {"pipeline": source.format(n=1)})
    assert {"pipeline:step", "pipeline:Model", "pipeline:Base", "pipeline:Base.fit"} == set(one.parts)
    assert one.digest != identity(load, {"pipeline": source.format(n=2)}).digest


def test_installed_packages_count_by_version_not_source(load: Any) -> None:
    """numpy's code is not hashed; numpy is listed among the packages, with its installed version."""
    found = identity(load, BASE)
    assert not any(part.startswith("numpy") for part in found.parts)
    assert ("numpy",) == found.packages
    assert {"numpy": np.__version__} == package_versions(found.packages)
    assert [False, False, False] == [is_local_module(m) for m in ("numpy", "json", "modelver.steps.decorator")]


def test_recursion_between_functions_terminates(load: Any) -> None:
    """Mutually recursive helpers are each hashed once."""
    source = """
        def even(n):
            return n == 0 or odd(n - 1)


        def odd(n):
            return n != 0 and even(n - 1)


        def step(n):
            return even(n)
    """
    assert {"pipeline:step", "pipeline:even", "pipeline:odd"} == set(identity(load, {"pipeline": source}).parts)


def test_code_without_readable_source_falls_back_to_its_code_object() -> None:
    """A function made by exec has no source file: its bytecode identifies it, line moves aside."""

    def made(source: str) -> Any:
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(source, "<generated>", "exec"), namespace)
        return namespace["f"]

    base = "def f(x):\n    return x + 1\n"
    assert code_identity(made(base)).digest == code_identity(made("\n\n\n" + base)).digest
    assert code_identity(made(base)).digest != code_identity(made(base.replace("+ 1", "+ 2"))).digest


_names = st.from_regex(r"[a-z]{1,6}", fullmatch=True).filter(lambda s: s not in {"if", "in", "is", "or", "and", "not"})


@settings(max_examples=25, deadline=None)
@given(
    name=_names, value=st.integers(), blank=st.integers(min_value=0, max_value=3), comment=st.text("abc #", max_size=8)
)
def test_identity_ignores_layout_and_follows_the_constant(name: str, value: int, blank: int, comment: str) -> None:
    """Property: blank lines and comments never change a generated function's identity; its constant always does."""

    def made(source: str) -> Any:
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(compile(source, "<generated>", "exec"), namespace)
        return namespace[name]

    plain = f"def {name}(x):\n    return x + {value}\n"
    laid_out = "\n" * blank + f"def {name}(x):  # {comment}\n\n    return x + {value}\n"
    changed = f"def {name}(x):\n    return x + {value + 1}\n"
    assert code_identity(made(plain)).digest == code_identity(made(laid_out)).digest
    assert code_identity(made(plain)).digest != code_identity(made(changed)).digest


def test_decorated_helpers_are_followed_to_the_code_they_wrap(load: Any) -> None:
    """A helper behind functools.lru_cache is hashed by the function it wraps."""
    source = """
        import functools


        @functools.lru_cache(maxsize=None)
        def helper(x):
            return x + {n}


        def step(x):
            return helper(x)
    """
    one = identity(load, {"pipeline": source.format(n=1)})
    assert {"pipeline:step", "pipeline:helper"} == set(one.parts)
    assert one.digest != identity(load, {"pipeline": source.format(n=2)}).digest


def test_instance_attributes_read_through_self_do_not_pull_in_the_whole_class(load: Any) -> None:
    """``self.factor`` (a dataclass field) names no code: a method's identity holds only what it calls."""
    source = """
        import dataclasses


        @dataclasses.dataclass
        class Model:
            factor: float

            def step(self, x):
                return x * self.factor

            def other(self):
                return {n}
    """
    one = code_identity(load({"pipeline": source.format(n=1)}).Model.step)
    two = code_identity(load({"pipeline": source.format(n=2)}).Model.step)
    assert ["pipeline:Model.step"] == list(one.parts)
    assert one.digest == two.digest


IMPORTS_INSIDE = """\
import json
import sys

from modelver.capture.identity import code_identity


def plain(x):
    import helpers

    return helpers.scale(x)


def aliased(x):
    from helpers import scale as s
    import numpy as np

    return np.sum(s(x))


print(json.dumps({name: code_identity(globals()[name]).parts for name in ("plain", "aliased")}))
print(json.dumps(sorted(code_identity(aliased).packages)))
print(json.dumps("helpers" in sys.modules))
"""


def test_helpers_imported_inside_the_step_body_are_followed(tmp_path: Path) -> None:
    """``import helpers`` / ``from helpers import scale`` inside the step (a lazy import) is followed like a
    module-level import: editing the helper changes the identity. A real script, as a user runs it."""
    (tmp_path / "pipeline.py").write_text(IMPORTS_INSIDE)
    (tmp_path / "helpers.py").write_text("def scale(x):\n    return x * 2\n")
    out = run_python("pipeline.py", cwd=tmp_path).stdout.splitlines()
    before, packages, imported = json.loads(out[0]), json.loads(out[1]), json.loads(out[2])
    (tmp_path / "helpers.py").write_text("def scale(x):\n    return x * 3\n")
    after = json.loads(run_python("pipeline.py", cwd=tmp_path).stdout.splitlines()[0])
    assert {"pipeline:plain", "helpers:scale"} == set(before["plain"])
    assert {"pipeline:aliased", "helpers:scale"} == set(before["aliased"])
    assert ["numpy"] == packages
    assert imported  # imported at the first identity, as the body would have
    assert before["plain"]["pipeline:plain"] == after["plain"]["pipeline:plain"]
    assert before["plain"]["helpers:scale"] != after["plain"]["helpers:scale"]
    assert before["aliased"]["helpers:scale"] != after["aliased"]["helpers:scale"]


DISPATCH = {
    "getattr": """
        import sys


        def run():
            return N


        def step():
            return getattr(sys.modules[__name__], "r" + "un")()
    """,
    "container": """
        def run():
            return N


        TABLE = {"run": run}


        def step():
            return TABLE["run"]()
    """,
    "override-through-self": """
        class Base:
            def step(self):
                return self.run()

            def run(self):
                return 0


        class Child(Base):
            def run(self):
                return N
    """,
}


@pytest.mark.parametrize("case", sorted(DISPATCH))
def test_the_other_documented_dynamic_dispatch_cases_are_not_covered(load: Any, case: str) -> None:
    """Documented limits: code reached through ``getattr(x, name)``, a callable looked up in a container, or a
    subclass's override of a method the step calls through ``self`` is not followed, so editing it is not seen."""
    source = DISPATCH[case]
    where = "Base" if case == "override-through-self" else None

    def step_of(n: int) -> CodeIdentity:
        module = load({"pipeline": source.replace("N", str(n))})
        return code_identity(module.Base.step if where else module.step)

    one, two = step_of(1), step_of(2)
    assert one.digest == two.digest
    assert not {"pipeline:run", "pipeline:Child.run"} & set(one.parts)


def test_a_helper_edited_while_the_process_runs_is_not_seen_by_the_step(load: Any, tmp_path: Path) -> None:
    """Documented limit: a step's identity is computed at its first call in a process, so a helper file edited
    afterwards (without a restart) does not re-run it; a new process sees the edit."""
    import modelver

    files = {
        "helpers": "def scale(x):\n    return x * 2\n",
        "pipeline": "import modelver\nfrom helpers import scale\n\n\n@modelver.versioned(name='live')\n"
        "def step(x):\n    RAN.append(x)\n    return scale(x)\n\n\nRAN = []\n",
    }
    module = load(files)
    assert 6 == module.step(3)
    helpers_file = Path(sys.modules["helpers"].__file__)
    helpers_file.write_text("def scale(x):\n    return x * 10\n")
    assert 6 == module.step(3)  # stale: the stored output of the first call
    assert [3] == module.RAN
    assert code_identity(module.step.__wrapped__).digest != module.step.__modelver_step__.identity("blake3").digest
    assert [False, True] == [call.cached for call in modelver.steps.calls.read_calls("live")]


def test_an_installed_package_imported_inside_the_step_is_counted_not_imported(tmp_path: Path) -> None:
    """``import email.mime.text`` / ``from sklearn.svm import SVC`` in a step body: not imported to compute the
    identity (a lazy import of a heavy package stays lazy on a cache hit); sklearn counts by its version."""
    (tmp_path / "pipeline.py").write_text(
        "import json\nimport sys\n\nfrom modelver.capture.identity import code_identity\n\n\n"
        "def step(x):\n    import email.mime.text\n    from sklearn.svm import SVC\n\n"
        "    return SVC, email.mime.text, x\n\n\n"
        "found = code_identity(step)\n"
        "print(json.dumps([sorted(found.packages), 'sklearn' in sys.modules, 'email.mime.text' in sys.modules]))\n"
    )
    packages, sklearn_imported, email_imported = json.loads(run_python("pipeline.py", cwd=tmp_path).stdout)
    assert (["sklearn"], False, False) == (packages, sklearn_imported, email_imported)
