"""Explaining a step: why its last call ran or was reused, and what changed since the call before it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.steps.calls import StepCall, read_calls
from modelver.steps.layout import step_names
from modelver.steps.step_versions import read_step_version
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["StepExplanation", "explain_step"]


@attrs.frozen
class StepExplanation:
    """Why the last call of a step ran or was reused, and what changed since the call before it.

    Attributes:
        name: the step name.
        call: the last call.
        previous: the call before it, or ``None`` for the first call.
        changed_code: ``"module:qualname"`` of functions/classes/constants whose source (or value) changed,
            appeared or disappeared since the previous call, sorted.
        changed_inputs: argument names whose fingerprint changed, appeared or disappeared, sorted.
        changed_packages: distributions whose version changed, appeared or disappeared, sorted.

    Example:
        >>> explanation = modelver.explain_step("train")  # doctest: +SKIP
        >>> explanation.changed_inputs, explanation.changed_packages  # doctest: +SKIP
        (('lr',), ('scikit-learn',))
    """

    name: str
    call: StepCall
    previous: StepCall | None
    changed_code: tuple[str, ...] = ()
    changed_inputs: tuple[str, ...] = ()
    changed_packages: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The explanation as lines of text for a person."""
        verb = "reused" if self.call.cached else "ran"
        out = [
            f"{self.name}: the last call ({self.call.started_at}) {verb}: {self.call.reason}",
            f"  step version {self.call.step_version}",
        ]
        if self.previous is None:
            out.append("  it was the first recorded call of this step")
            return out
        out.append(f"  compared with the previous call ({self.previous.started_at}, {self.previous.step_version}):")
        if not (self.changed_code or self.changed_inputs or self.changed_packages):
            out.append("    code, inputs and package versions are unchanged")
        out += [f"    code changed: {part}" for part in self.changed_code]
        out += [f"    input changed: {arg}" for arg in self.changed_inputs]
        out += [f"    package changed: {dist}" for dist in self.changed_packages]
        return out


def _changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in {*a, *b} if a.get(k) != b.get(k)))


def explain_step(name: str, *, store: str | os.PathLike[str] | Store | None = None) -> StepExplanation:
    """Say why the last call of step ``name`` re-ran or was reused: which input, function or package changed.

    Args:
        name: the step name (``modelver steps list`` shows them).
        store: the store (default: see ``modelver info``).

    Returns:
        The last call, the one before it, and what differs between their step versions.

    Raises:
        VersionNotFoundError: no call of ``name`` is recorded in the store (the message lists the steps that are).
        IntegrityError: a step-version record is missing (``modelver gc`` collected it) or corrupt.

    Example:
        >>> for line in modelver.explain_step("featurize").lines():  # doctest: +SKIP
        ...     print(line)
    """
    opened = open_store(store)
    calls = read_calls(name, opened)
    if not calls:
        known = step_names(opened)
        # Steps are recorded as `module.qualname`; a plain function name that names exactly one of them is enough.
        matches = [k for k in known if k.rpartition(".")[2] == name]
        if len(matches) != 1:
            raise _no_calls(name, opened, known)
        name = matches[0]
        calls = read_calls(name, opened)
    last = calls[-1]
    previous = calls[-2] if len(calls) > 1 else None
    if previous is None:
        return StepExplanation(name, last, None)
    now = read_step_version(opened, last.step_version)
    before = read_step_version(opened, previous.step_version)
    return StepExplanation(
        name,
        last,
        previous,
        changed_code=_changed(now.get("parts", {}), before.get("parts", {})),
        changed_inputs=_changed(now.get("inputs", {}), before.get("inputs", {})),
        changed_packages=_changed(now.get("packages", {}), before.get("packages", {})),
    )


def _no_calls(name: str, store: Store, known: list[str]) -> LookupError:
    from modelver.errors import VersionNotFoundError

    listed = ", ".join(known) if known else "none"
    return VersionNotFoundError(
        f"no call of step {name!r} is recorded in {store.url}; steps with recorded calls: {listed}", reference=name
    )
