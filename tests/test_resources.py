"""Tests for modelver.capture.resources: real child processes that allocate memory and burn CPU, no mocks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from modelver.capture.resources import ResourceMonitor, _linux_descendants
from modelver.manifest import CaptureErrorRecord

MB = 1 << 20
# Hang guards only (a broken child must not hang the suite); no test asserts an upper bound on time.
TIMEOUT_S = 120

# Allocates and touches (writes every page of) N MiB, so the memory is resident, then holds it.
ALLOCATE = "data = b'x' * ({mb} << 20)\n"
# Burns about 0.5 s of CPU (CPU time, not wall time, so a loaded machine only makes it slower).
SPIN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5:\n    pass\n"
# Says it is ready, then waits until its stdin is closed.
HOLD = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n"


def python(code: str) -> subprocess.Popen[str]:
    """Start ``python -c code`` with pipes for stdin and stdout."""
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_ready(process: subprocess.Popen[str]) -> None:
    """Block until the child prints its ready line."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "ready" == line.strip(), f"child failed before getting ready (exit {process.poll()})"


def release(process: subprocess.Popen[str]) -> None:
    """Close the child's stdin so it exits, and wait for it."""
    process.communicate(timeout=TIMEOUT_S)


def wait_for_samples(monitor: ResourceMonitor, count: int) -> None:
    """Block until the sampler thread has taken ``count`` more samples."""
    target = monitor.samples + count
    deadline = time.monotonic() + TIMEOUT_S
    while monitor.samples < target:
        assert time.monotonic() < deadline, "the sampler thread took no samples"
        time.sleep(0.01)


def run_in_fresh_interpreter(body: str, interval_s: float = 60.0) -> dict[str, object]:
    """Run ``body`` in a new interpreter between ``monitor.start()`` and ``stop()``; return the facet as JSON.

    A fresh process has a fresh ``RUSAGE_CHILDREN`` high-water mark, untouched by the children of earlier tests.
    (Its ``RUSAGE_SELF`` mark is not fresh: Linux carries it over ``exec`` from the forked copy of pytest.)
    """
    script = textwrap.dedent(
        """
        import json, subprocess, sys
        import psutil
        from modelver.capture.resources import ResourceMonitor
        from modelver.serde import to_json_dict

        monitor = ResourceMonitor(interval_s={interval_s})  # 60 s: one sample at start, one at stop
        monitor.start()
        {body}
        facet, errors = monitor.stop()
        own_rss = psutil.Process().memory_info().rss
        print(json.dumps({{"facet": to_json_dict(facet), "errors": len(errors), "own_rss": own_rss}}))
        """
    ).format(body=body, interval_s=interval_s)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert 0 == result.returncode, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="getrusage is POSIX")


@posix_only
def test_short_lived_child_peak_counts() -> None:
    """A child that allocates 300 MiB and exits before any sample counts, though the parent stays small."""
    child = ALLOCATE.format(mb=300)
    result = run_in_fresh_interpreter(f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")

    facet = result["facet"]
    assert isinstance(facet, dict)
    assert result["own_rss"] < 300 * MB  # type: ignore[operator]
    assert facet["peak_rss_bytes"] >= 300 * MB
    assert 0 == result["errors"]


def test_live_child_and_grandchild_are_sampled() -> None:
    """The sampler sums the RSS of a live child and grandchild, even if both have exited before stop()."""
    grandchild = ALLOCATE.format(mb=160) + HOLD
    child = (
        "import subprocess, sys\n"
        f"grandchild = subprocess.Popen([sys.executable, '-c', {grandchild!r}], stdin=subprocess.PIPE,"
        " stdout=subprocess.PIPE, text=True)\n"
        "grandchild.stdout.readline()\n" + ALLOCATE.format(mb=160) + HOLD + "grandchild.communicate()\n"
    )
    monitor = ResourceMonitor(interval_s=0.05)
    monitor.start()
    with python(child) as process:
        wait_ready(process)
        wait_for_samples(monitor, 2)
        release(process)  # the child waits for the grandchild: the whole tree is gone before stop()

    facet, errors = monitor.stop()

    # Only a sample taken while both lived reaches this: getrusage sees one child's peak (~160 MiB) at most. Our own
    # memory is not added to the bound: the sampler counts PSS, which splits shared pages and so is below RSS.
    assert facet.peak_rss_bytes >= 2 * 160 * MB
    assert [] == errors


def test_live_child_cpu_counts() -> None:
    """A child still running at stop() has its CPU time counted (it burnt about 0.5 s)."""
    monitor = ResourceMonitor()
    monitor.start()
    with python(SPIN + HOLD) as process:
        wait_ready(process)
        facet, errors = monitor.stop()
        release(process)

    assert facet.cpu_time_s >= 0.4
    assert [] == errors


def test_waited_child_cpu_counts() -> None:
    """A child that burnt about 0.5 s of CPU and was waited for is counted."""
    monitor = ResourceMonitor()
    monitor.start()
    subprocess.run([sys.executable, "-c", SPIN], check=True, timeout=TIMEOUT_S)

    facet, errors = monitor.stop()

    assert facet.cpu_time_s >= 0.4
    assert [] == errors


def test_cpu_of_child_before_start_is_not_counted() -> None:
    """CPU a child used before start() is not charged to the run (a CPU-time bound, not a timing one)."""
    with python(SPIN + HOLD) as process:
        wait_ready(process)
        monitor = ResourceMonitor()
        monitor.start()
        wait_for_samples(monitor, 1)  # the baseline is taken with the first sample
        facet, errors = monitor.stop()
        release(process)

    assert facet.cpu_time_s < 0.4
    assert [] == errors


def test_wall_time_covers_a_sleep() -> None:
    """wall_time_s is at least as long as a sleep between start() and stop()."""
    monitor = ResourceMonitor()
    monitor.start()
    time.sleep(0.3)

    facet, _ = monitor.stop()

    assert facet.wall_time_s >= 0.3


def test_host_facts() -> None:
    """cpu_count and memory_total_bytes describe this machine; at least the final sample is taken."""
    monitor = ResourceMonitor()
    monitor.start()

    facet, errors = monitor.stop()

    expected = (psutil.cpu_count(logical=True), psutil.virtual_memory().total, [])
    assert expected == (facet.cpu_count, facet.memory_total_bytes, errors)
    assert facet.samples >= 1
    assert facet.peak_rss_bytes >= psutil.Process().memory_info().rss // 2


@pytest.mark.skipif(importlib.util.find_spec("pynvml") is not None, reason="pynvml is installed here")
def test_no_gpu_library_is_not_an_error() -> None:
    """Without pynvml there are no GPUs and no error."""
    monitor = ResourceMonitor()
    monitor.start()

    facet, errors = monitor.stop()

    assert ((), [], ()) == (facet.gpus, errors, facet.errors)


def test_stop_twice_returns_the_first_result() -> None:
    """A second stop() returns the first result unchanged."""
    monitor = ResourceMonitor()
    monitor.start()
    first = monitor.stop()
    time.sleep(0.05)

    assert first == monitor.stop()


def test_stop_without_start_records_an_error() -> None:
    """stop() without start() does not raise: it returns an empty facet and one resources error."""
    facet, errors = ResourceMonitor().stop()

    expected = CaptureErrorRecord(
        facet="resources",
        error="RuntimeError",
        message="ResourceMonitor.stop() called before start(): nothing was measured",
    )
    assert ([expected], (expected.message,), 0.0, 0) == (errors, facet.errors, facet.wall_time_s, facet.samples)
    assert psutil.cpu_count(logical=True) == facet.cpu_count


def test_start_twice_raises() -> None:
    """A monitor measures one interval: a second start() is a RuntimeError."""
    monitor = ResourceMonitor()
    monitor.start()
    try:
        with pytest.raises(RuntimeError, match="twice"):
            monitor.start()
    finally:
        monitor.stop()


def test_interval_must_be_positive() -> None:
    """A non-positive interval is refused."""
    with pytest.raises(ValueError, match="interval_s"):
        ResourceMonitor(interval_s=0)


def test_sampler_does_not_keep_the_process_alive() -> None:
    """A process that starts a monitor and never stops it still exits normally."""
    script = "from modelver.capture.resources import ResourceMonitor\nResourceMonitor(interval_s=0.01).start()\n"

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT_S)

    assert (0, "") == (result.returncode, result.stderr)


def test_sampler_cpu_is_measured() -> None:
    """The sampler's own CPU use is reported once it has stopped."""
    monitor = ResourceMonitor(interval_s=0.01)
    monitor.start()
    wait_for_samples(monitor, 3)

    monitor.stop()

    assert monitor.sampler_cpu_s > 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux")
def test_linux_descendants_match_psutil() -> None:
    """The /proc fast path finds the same descendants (child and grandchild) as psutil."""
    grandchild = HOLD
    child = (
        "import subprocess, sys\n"
        f"grandchild = subprocess.Popen([sys.executable, '-c', {grandchild!r}], stdin=subprocess.PIPE,"
        " stdout=subprocess.PIPE, text=True)\n"
        "grandchild.stdout.readline()\n" + HOLD + "grandchild.communicate()\n"
    )
    with python(child) as process:
        wait_ready(process)
        expected = sorted(p.pid for p in psutil.Process().children(recursive=True))
        actual = sorted(_linux_descendants(psutil.Process().pid))
        ours = [process.pid, *(p.pid for p in psutil.Process(process.pid).children())]
        release(process)

    assert expected == actual
    # Session fixtures (Azurite, the GCS server) are children of this process too: check that ours are among them.
    assert 2 == len(ours)
    assert set(ours) <= set(actual)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS comes from Linux's /proc/<pid>/smaps_rollup")
def test_forked_child_sharing_the_parents_memory_is_not_counted_twice() -> None:
    """A child sampled between fork and exec shares the parent's 400 MiB: the tree peak stays near 400, not 800."""
    body = textwrap.dedent(
        """
        import time
        data = b'x' * (400 << 20)
        # preexec_fn forces a real fork and holds the child, sharing every page, for half a second before exec
        subprocess.run([sys.executable, '-c', 'pass'], preexec_fn=lambda: time.sleep(0.5), check=True)
        """
    )
    result = run_in_fresh_interpreter(body, interval_s=0.02)
    facet = result["facet"]
    assert isinstance(facet, dict)
    assert facet["peak_rss_bytes"] >= 400 * MB
    assert facet["peak_rss_bytes"] < 1.5 * result["own_rss"]  # type: ignore[operator]


def test_series_is_evenly_thinned_and_keeps_its_ends() -> None:
    """A series that outgrows ``max_points`` drops every other point, keeps ascending times and the last sample."""
    monitor = ResourceMonitor(interval_s=0.005, max_points=8)
    monitor.start()
    deadline = time.monotonic() + 10
    while monitor.samples < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    facet, _ = monitor.stop()
    series = json.loads(monitor.series_json())
    times = [row[0] for row in series["rows"]]
    assert ["t_s", "memory_bytes", "cpu_s", "gpu_memory_used_bytes"] == series["columns"]
    assert 4 <= len(times) <= 8
    assert sorted(times) == times
    assert series["interval_s"] >= 0.005 * 4  # the stride doubled at least twice for 40 samples in 8 points
    assert times[-1] + 0.001 >= facet.wall_time_s  # the last sample is taken after the end time is read
    assert facet.peak_rss_bytes >= max(row[1] for row in series["rows"]) > 0


def test_max_points_must_allow_a_series() -> None:
    """A series of fewer than two points could not be thinned: refused when the monitor is made."""
    with pytest.raises(ValueError, match="max_points"):
        ResourceMonitor(max_points=1)
