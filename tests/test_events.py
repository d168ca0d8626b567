"""Append-only events and their fold (modelver.registry.events): order, determinism, concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import modelver
from modelver.manifest import CreatedBy
from modelver.registry.events import Event, fold, list_event_paths, read_state
from modelver.registry.lifecycle import history

HOST = CreatedBy("tester", "host")


def _event(
    kind: str, at: str, *, alias: str | None = "production", version: str | None = None, id_: str = "0"
) -> Event:
    return Event(
        name="m", kind=kind, at=at, id=id_.rjust(16, "0"), by="alice", created_by=HOST, alias=alias, version=version
    )


def _publish(name: str, count: int) -> list[str]:
    versions = []
    for i in range(count):
        with modelver.track(name) as run:
            run.log_metrics({"acc": i / 10})
        assert run.version is not None
        versions.append(run.version.version)
    return versions


def test_event_key_is_sortable_and_path_safe() -> None:
    """The object name is the compact UTC time then the id: no ':' and string order is time order."""
    event = _event("promote", "2026-11-29T16:01:02.345678Z", version="1.0.0", id_="ab")
    assert "20261129T160102.345678Z-00000000000000ab.json" == event.key


def test_fold_applies_events_in_time_then_id_order_whatever_the_input_order() -> None:
    """Two promotions with the same time: the larger id is applied last; both are in the history."""
    first = _event("promote", "2026-01-01T00:00:00.000000Z", version="1.0.0", id_="1")
    tie_a = _event("promote", "2026-01-01T00:00:01.000000Z", version="1.1.0", id_="a")
    tie_b = _event("promote", "2026-01-01T00:00:01.000000Z", version="1.2.0", id_="b")
    for order in ([first, tie_a, tie_b], [tie_b, tie_a, first], [tie_a, first, tie_b]):
        state = fold("m", order)
        assert "1.2.0" == state.aliases["production"].version
        assert (first, tie_a, tie_b) == state.aliases["production"].history


def test_rollback_pops_the_stack_and_repeated_rollbacks_walk_back() -> None:
    """promote 1, 2, 3; rollback -> 2; rollback -> 1; the stack follows."""
    events = [
        _event("promote", "2026-01-01T00:00:01.000000Z", version="1.0.0"),
        _event("promote", "2026-01-01T00:00:02.000000Z", version="2.0.0"),
        _event("promote", "2026-01-01T00:00:03.000000Z", version="3.0.0"),
        _event("rollback", "2026-01-01T00:00:04.000000Z", version="2.0.0"),
    ]
    state = fold("m", events).aliases["production"]
    assert ("2.0.0", ("1.0.0", "2.0.0")) == (state.version, state.targets)
    events.append(_event("rollback", "2026-01-01T00:00:05.000000Z", version="1.0.0"))
    state = fold("m", events).aliases["production"]
    assert ("1.0.0", ("1.0.0",)) == (state.version, state.targets)


def test_rollback_racing_a_promotion_lands_on_its_recorded_target() -> None:
    """A rollback folded after a concurrent promotion moves the alias to the target its writer chose."""
    events = [
        _event("promote", "2026-01-01T00:00:01.000000Z", version="1.0.0"),
        _event("promote", "2026-01-01T00:00:02.000000Z", version="2.0.0"),
        _event("promote", "2026-01-01T00:00:03.000000Z", version="3.0.0"),  # the writer below had not seen this
        _event("rollback", "2026-01-01T00:00:03.500000Z", version="1.0.0"),
    ]
    state = fold("m", events).aliases["production"]
    assert ("1.0.0", ("1.0.0", "2.0.0", "1.0.0")) == (state.version, state.targets)


def test_yank_unyank_and_protection_fold() -> None:
    """yank adds, unyank removes; protect records who; unprotect clears."""
    events = [
        _event("yank", "2026-01-01T00:00:01.000000Z", alias=None, version="1.0.0"),
        _event("yank", "2026-01-01T00:00:02.000000Z", alias=None, version="2.0.0"),
        _event("unyank", "2026-01-01T00:00:03.000000Z", alias=None, version="1.0.0"),
        _event("protect", "2026-01-01T00:00:04.000000Z"),
    ]
    state = fold("m", events)
    assert ["2.0.0"] == list(state.yanked)
    assert (True, "alice", None) == (
        state.aliases["production"].protected,
        state.aliases["production"].protected_by,
        state.aliases["production"].version,
    )
    events.append(_event("unprotect", "2026-01-01T00:00:05.000000Z"))
    assert not fold("m", events).aliases["production"].protected


kinds = st.sampled_from(["promote", "rollback", "yank", "unyank", "protect", "unprotect", "release"])
events_strategy = st.lists(
    st.builds(
        _event,
        kinds,
        st.integers(0, 5).map(lambda s: f"2026-01-01T00:00:0{s}.000000Z"),
        alias=st.sampled_from([None, "production", "staging"]),
        version=st.sampled_from([None, "1.0.0", "2.0.0", "3.0.0"]),
        id_=st.sampled_from(["1", "2", "3", "a"]),
    ),
    max_size=12,
    unique_by=lambda e: e.order,
)


@settings(deadline=None, max_examples=200)
@given(events_strategy, st.randoms(use_true_random=False))
def test_fold_is_independent_of_listing_order(events: list[Event], random: Any) -> None:
    """Any permutation of the same events folds to the same state (readers agree whatever the store lists)."""
    shuffled = list(events)
    random.shuffle(shuffled)
    assert fold("m", events) == fold("m", shuffled)


PROMOTE = """
import os, sys, time
from modelver.registry.lifecycle import promote
store, version, go = sys.argv[1:]
while not os.path.exists(go):  # start together
    time.sleep(0.001)
promote(f"race@{version}", "production", by=f"writer-{version}", reason="race", store=store)
"""


def test_concurrent_promotions_from_real_processes_both_stay_and_fold_the_same(store_dir: Path, tmp_path: Path) -> None:
    """Six processes promote six versions at once: six events, and every reader folds them to one answer."""
    versions = _publish("race", 6)
    go = tmp_path / "go"
    # Plain subprocesses, not multiprocessing: its spawn start method leaves a resource-tracker process running.
    procs = [
        subprocess.Popen([sys.executable, "-c", PROMOTE, str(store_dir), v, str(go)], env=dict(os.environ))
        for v in versions
    ]
    go.touch()
    assert [0] * 6 == [p.wait(120) for p in procs]
    events = history("race")
    assert sorted(versions) == sorted(e.version for e in events if e.version is not None)
    assert 6 == len({e.key for e in events}) == len(list_event_paths(modelver.Store(store_dir), "race"))
    last = max(events, key=lambda e: e.order)
    assert last.version == modelver.get("race@production").version
    assert last.version == read_state(modelver.Store(store_dir), "race").aliases["production"].version
