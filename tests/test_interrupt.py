"""SIGTERM and SIGINT inside ``track()``: the run is recorded as interrupted, then the signal does what it would
have done without modelver (real subprocesses, real signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from modelver.store.objects import Store

SCRIPT = """
import signal, sys, time
import modelver

if sys.argv[1] == "user-handler":
    def handler(signum, frame):
        print("user handler ran", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, handler)
with modelver.track("long-run") as run:
    run.log_metrics({"loss": 0.5}, step=1)
    print("ready", flush=True)
    time.sleep(60)
"""


def interrupt(tmp_path: Path, mode: str, signum: int) -> subprocess.CompletedProcess[str]:
    """Start SCRIPT, wait until it is inside the block, send ``signum``, and return the finished process."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.stdout is not None
    assert "ready" == proc.stdout.readline().strip()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "ready\n" + out, err)


def records(store_dir: Path) -> list[dict[str, object]]:
    """The run records in the test's store."""
    return [json.loads(raw) for raw in Store(store_dir).list_runs()]


def test_sigterm_records_the_run_and_keeps_the_default_exit(tmp_path: Path, store_dir: Path) -> None:
    """Default SIGTERM action: the process still dies of SIGTERM (exit -15), after an interrupted-run record with
    the signal and the resources so far; no version."""
    done = interrupt(tmp_path, "default", signal.SIGTERM)
    assert -signal.SIGTERM == done.returncode
    [record] = records(store_dir)
    assert ("interrupted", "SIGTERM", "long-run") == (record["status"], record["signal"], record["name"])
    assert {"loss": 0.5} == record["manifest"]["metrics"]  # type: ignore[index]
    assert record["manifest"]["resources"]["wall_time_s"] > 0  # type: ignore[index]
    assert [] == Store(store_dir).list_versions("long-run")


def test_sigterm_reaches_the_users_handler(tmp_path: Path, store_dir: Path) -> None:
    """A handler installed before track() still runs after the record is written, and decides the exit code."""
    done = interrupt(tmp_path, "user-handler", signal.SIGTERM)
    assert 3 == done.returncode
    assert "user handler ran" in done.stdout
    assert ["interrupted"] == [r["status"] for r in records(store_dir)]


def test_sigint_raises_keyboard_interrupt_once_recorded(tmp_path: Path, store_dir: Path) -> None:
    """Ctrl-C: one interrupted record (not a second, failed one), then Python's KeyboardInterrupt as usual."""
    done = interrupt(tmp_path, "default", signal.SIGINT)
    assert "KeyboardInterrupt" in done.stderr
    assert 0 != done.returncode
    assert [("interrupted", "SIGINT")] == [(r["status"], r["signal"]) for r in records(store_dir)]


def test_handlers_are_restored_after_the_block(store_dir: Path) -> None:
    """Inside the block modelver's handler is installed; after it, the previous handler is back."""
    import modelver

    before = signal.getsignal(signal.SIGTERM)
    with modelver.track("restored") as run:
        inside = signal.getsignal(signal.SIGTERM)
        run.log_metrics({"x": 1})
    assert before != inside
    assert before == signal.getsignal(signal.SIGTERM)


def test_a_run_outside_the_main_thread_installs_no_handler(store_dir: Path) -> None:
    """Handlers can only be installed from the main thread: a run in another thread leaves them alone."""
    import threading

    import modelver

    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def work() -> None:
        with modelver.track("threaded") as run:
            seen.append(signal.getsignal(signal.SIGTERM))
            run.log_metrics({"x": 1})

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert [before] == seen
    assert before == signal.getsignal(signal.SIGTERM)


SLOW_CAPTURE = """
import time
import modelver
import modelver.tracking.run as tracking_run

real = tracking_run.capture_environment

def slow():  # an environment that takes a minute to capture (a huge site-packages on a network filesystem)
    time.sleep(60)
    return real()

tracking_run.capture_environment = slow
with modelver.track("long-run") as run:
    print("ready", flush=True)
    time.sleep(60)
"""


def test_sigterm_during_a_slow_capture_records_within_the_grace(tmp_path: Path, store_dir: Path) -> None:
    """SIGTERM while the environment capture still runs: the run is recorded without waiting for it (a preempted
    job has a short grace before SIGKILL), with the capture named as unfinished, and the process dies of SIGTERM."""
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW_CAPTURE))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    assert proc.stdout is not None
    assert "ready" == proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=45)  # the capture alone would take 60 s, the old wait 120 s
    assert -signal.SIGTERM == proc.returncode
    [record] = records(store_dir)
    assert "interrupted" == record["status"]
    errors = record["manifest"]["capture_errors"]  # type: ignore[index]
    assert ["code and environment capture did not finish within 5 s"] == [e["message"] for e in errors]


IGNORED = """
import os, signal
import modelver

signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup, or a job started with `&` by a shell
with modelver.track("ignores-sigint") as run:
    os.kill(os.getpid(), signal.SIGINT)
    run.log_metrics({"loss": 0.1}, step=1)
    run.save_model({"w": 1})
"""


def test_an_ignored_signal_changes_nothing(tmp_path: Path, store_dir: Path) -> None:
    """SIGINT ignored before track(): it is still ignored inside the block, the run goes on and publishes, and no
    interrupted record is written."""
    script = tmp_path / "ignored.py"
    script.write_text(textwrap.dedent(IGNORED))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (0, "") == (done.returncode, done.stderr)
    assert ["0.1.0"] == [str(v) for v in Store(store_dir).list_versions("ignores-sigint")]
    assert [] == records(store_dir)


def test_background_threads_leave_the_signals_to_the_main_thread() -> None:
    """modelver's threads block SIGTERM and SIGINT, so the kernel delivers them to the main thread, where Python
    runs the handler at once (a thread that took the signal would leave it pending while the main thread sleeps)."""
    from concurrent.futures import ThreadPoolExecutor

    from modelver.threads import leave_signals_to_main, quiet_thread

    masks: list[set[int]] = []
    thread = quiet_thread(lambda: masks.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, []))), "probe")
    thread.start()
    thread.join()
    with ThreadPoolExecutor(1, "probe", leave_signals_to_main) as pool:
        masks.append(pool.submit(lambda: set(signal.pthread_sigmask(signal.SIG_BLOCK, []))).result())
    leave_signals_to_main()  # in the main thread: nothing blocked
    main = set(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    assert [True, True] == [{signal.SIGTERM, signal.SIGINT} <= mask for mask in masks]
    assert set() == main & {signal.SIGTERM, signal.SIGINT}
