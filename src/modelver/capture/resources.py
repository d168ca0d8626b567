"""Resource use of a run: wall and CPU time, peak memory of the whole process tree, CPUs, memory, GPUs.

:class:`ResourceMonitor` is started when ``track()`` is entered and stopped when it is left. A daemon thread samples
the memory of this process and of every live descendant (children, grandchildren...) every ``interval_s`` seconds;
``stop()`` takes one last sample and combines the samples with what the kernel kept:

- ``wall_time_s``: ``time.perf_counter()`` between ``start()`` and ``stop()``.
- ``cpu_time_s``: the ``os.times()`` delta of user + system time of this process and of its terminated, waited-for
  children, plus, read through psutil at ``stop()``, the user + system time (and waited-for children time) of every
  descendant still alive, less what those descendants had already used when sampling began.
- ``peak_rss_bytes``: the largest of
  (a) the sampled memory of the whole process tree: on Linux the sum of PSS (proportional set size, from
  ``/proc/<pid>/smaps_rollup``, about 0.3 ms for a 1 GiB process) over this process and every live descendant, so
  pages a forked child still shares with its parent count once, not twice; elsewhere, or where ``smaps_rollup``
  is missing (Linux < 4.14), the sum of RSS,
  (b) this process's lifetime peak (``getrusage(RUSAGE_SELF).ru_maxrss``), and
  (c) the peak of the largest terminated, waited-for descendant (``getrusage(RUSAGE_CHILDREN).ru_maxrss``),
  so that a child that lived for less than one sampling interval still counts. ``ru_maxrss`` is in KiB on Linux and
  the BSDs and in bytes on macOS. (b) and (c) are high-water marks since the process started (on Linux, (b) even
  carries over ``exec`` the peak of the forked copy of the parent), so each is used only when it rose between
  ``start()`` and ``stop()``: a peak reached before ``start()`` (by an earlier run in the same process, or by the
  parent we were forked from) is not charged to this run. A short-lived child whose peak stays below such an
  earlier child's peak is therefore seen only if a sample catches it. An RSS sum (the fallback of (a)) counts
  shared pages (libraries, copy-on-write memory after ``fork``) once per process, so it can exceed the memory in
  use: a child sampled between ``fork`` and ``exec`` would double the parent.
- ``gpus``: with NVML (the ``pynvml`` module of the ``nvidia-ml-py`` package), one mapping per device: ``index``,
  ``name``, ``memory_total_bytes``, ``peak_memory_used_bytes`` (sampled, device-wide: other processes' memory
  counts too) and ``driver``. Without ``pynvml`` there are no GPUs and no error; when ``pynvml`` imports but NVML
  fails for another reason than a missing library or driver (no GPU), the failure is recorded as an error.

A time series of the samples is kept too (:meth:`ResourceMonitor.series_json`): seconds since ``start()``, memory of
the process tree in bytes, CPU seconds of this process and its waited-for children, and each GPU's memory in use, at
most :data:`MAX_SERIES_POINTS` points: when full, every other point is dropped and the sampling stride doubles, so a
run of any length keeps an evenly spaced series from start to end, and always its last sample. ``track()`` stores
it as a blob referenced by ``resources.series``.

Not measured: CPU time of descendants that exit and are reaped by someone other than this process or a live
descendant (orphans adopted by init), and CPU time that a descendant alive at ``start()`` used before it, if that
descendant is waited for during the run.

Nothing here raises after ``start()``: every failure, in the sampler thread or in ``stop()``, becomes a
:class:`~modelver.manifest.CaptureErrorRecord` with ``facet="resources"``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import attrs
import psutil  # type: ignore[import-untyped]  # types-psutil is not a dev dependency

from modelver.manifest import CaptureErrorRecord, ResourcesFacet
from modelver.threads import quiet_thread

__all__ = ["ResourceMonitor"]

FACET = "resources"
# Bound the error list: a sampler failing every 0.2 s for hours must not flood the manifest.
_MAX_ERRORS = 20
# How long stop() waits for the sampler thread; a hung NVML call must not hang the run.
_JOIN_TIMEOUT_S = 5.0
_PSUTIL_GONE = (psutil.NoSuchProcess, psutil.AccessDenied)
#: Points kept in the resource time series (4096 points x 4 numbers is about 150 KB of JSON).
MAX_SERIES_POINTS = 4096
#: Format tag of the series blob; readers check it before plotting.
SERIES_SCHEMA = "modelver.resources-series/1"
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@attrs.define
class _Gpu:
    """One NVML device being sampled."""

    index: int
    handle: Any
    name: str
    memory_total_bytes: int
    peak_memory_used_bytes: int


class ResourceMonitor:
    """Measures the resources used between :meth:`start` and :meth:`stop` (see the module docstring).

    A monitor measures one interval: :meth:`start` may be called once; :meth:`stop` may be called any number of
    times and returns the result of the first call every time. :meth:`stop` without :meth:`start` returns an empty
    facet (with ``cpu_count`` and ``memory_total_bytes``) and an error record saying nothing was measured.

    Args:
        interval_s: seconds between two memory samples. The sampler costs well under 1 ms of CPU per sample
            on Linux (it reads ``/proc`` for the processes of the tree only; see :attr:`sampler_cpu_s`).
        max_points: the most points the time series keeps (see the module docstring).

    Raises:
        ValueError: ``interval_s`` is not positive, or ``max_points`` is below 2.
    """

    def __init__(self, interval_s: float = 0.2, *, max_points: int = MAX_SERIES_POINTS) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be a positive number of seconds, not {interval_s!r}")
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, not {max_points!r}")
        self._max_points = max_points
        self._interval_s = interval_s
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: tuple[ResourcesFacet, list[CaptureErrorRecord]] | None = None
        self._errors: dict[tuple[str, str], CaptureErrorRecord] = {}
        self._start_wall = 0.0
        self._start_times: os.times_result | None = None
        self._start_rusage: tuple[int | None, int | None] = (None, None)
        self._process: psutil.Process | None = None
        self._linux_proc = False
        self._cpu_baseline: dict[tuple[int, float], float] | None = None
        self._gpus: list[_Gpu] = []
        self._nvml: Any = None
        self._peak_tree_rss = 0
        self._samples = 0
        self._sampler_cpu_s = 0.0
        self._series: list[tuple[float, int, float, tuple[int, ...]]] = []
        self._series_stride = 1

    @property
    def samples(self) -> int:
        """Number of memory samples taken so far (the thread's and the final one in :meth:`stop`)."""
        return self._samples

    @property
    def sampler_cpu_s(self) -> float:
        """CPU seconds used by the sampler thread itself (its ``time.thread_time()``), known once it has ended."""
        return self._sampler_cpu_s

    def series_json(self) -> bytes:
        """The sampled time series as UTF-8 JSON, for plotting.

        Returns:
            ``{"schema": "modelver.resources-series/1", "interval_s": float, "columns": ["t_s", "memory_bytes",
            "cpu_s", "gpu_memory_used_bytes"], "rows": [[t_s, memory_bytes, cpu_s, [bytes per GPU]], ...]}``:
            seconds since ``start()``, memory of the process tree in bytes (PSS sum on Linux), user + system CPU
            seconds of this process and its waited-for children, memory in use on each GPU in bytes.
        """
        rows = [[round(t, 3), memory, round(cpu, 3), list(gpus)] for t, memory, cpu, gpus in self._series]
        body = {
            "schema": SERIES_SCHEMA,
            "interval_s": self._interval_s * self._series_stride,
            "columns": ["t_s", "memory_bytes", "cpu_s", "gpu_memory_used_bytes"],
            "rows": rows,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def start(self) -> None:
        """Record the start time and CPU times, and start the daemon sampling thread.

        Cheap: two clock reads, two ``getrusage`` calls and a thread start; the expensive set-up (psutil, NVML)
        happens in the thread.

        Raises:
            RuntimeError: the monitor was already started (use one monitor per measurement).
        """
        if self._thread is not None:
            raise RuntimeError("ResourceMonitor.start() called twice; create a new monitor for each measurement")
        self._start_wall = time.perf_counter()
        self._start_times = os.times()
        self._start_rusage = _rusage_peaks()
        # daemon: a run that never calls stop() (a crash, os._exit) must not be kept alive by its sampler.
        self._thread = quiet_thread(self._run, "modelver-resources")
        self._thread.start()

    def stop(self) -> tuple[ResourcesFacet, list[CaptureErrorRecord]]:
        """Stop sampling and return what was measured. Never raises.

        Returns:
            The resources facet (its ``errors`` holds the messages of the records) and the capture error records,
            each with ``facet="resources"``.
        """
        if self._result is not None:
            return self._result
        try:
            self._result = self._finish()
        except Exception as exc:  # the contract is "never raises": whatever broke becomes a record
            self._record(exc)
            self._result = self._build(ResourcesFacet())
        return self._result

    # --- the sampler thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        began = time.thread_time()
        try:
            try:
                self._setup()
            except Exception as exc:  # a thread's exception would only be printed; record it, keep sampling
                self._record(exc, "resource sampler set-up failed")
            while True:
                self._sample()  # records its own failures
                if self._stop_event.wait(self._interval_s):
                    break
        finally:
            self._sampler_cpu_s = time.thread_time() - began

    def _setup(self) -> None:
        process = self._get_process()
        self._linux_proc = os.path.exists(f"/proc/{process.pid}/task/{process.pid}/children")
        # CPU already used by descendants alive now is not this run's: remembered by (pid, create time).
        baseline: dict[tuple[int, float], float] = {}
        for child in _live_descendants(process):
            try:
                with child.oneshot():
                    baseline[(child.pid, child.create_time())] = _cpu_total(child.cpu_times())
            except _PSUTIL_GONE:
                continue
        self._cpu_baseline = baseline
        self._setup_gpus()

    def _setup_gpus(self) -> None:
        try:
            import pynvml
        except ImportError:
            return  # no GPU library is not a failure: most runs have no GPU
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError subclasses, OSError for a missing library
            # nvidia-ml-py is often installed (torch pulls it in) on machines with no NVIDIA driver: no GPU, not
            # a failure. Any other init error is worth recording.
            if type(exc).__name__ not in {"NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded"}:
                self._record(exc, "GPU capture failed (NVML)")
            return
        try:
            self._nvml = pynvml
            for index in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                self._gpus.append(
                    _Gpu(
                        index=index,
                        handle=handle,
                        name=name.decode() if isinstance(name, bytes) else str(name),
                        memory_total_bytes=int(memory.total),
                        peak_memory_used_bytes=int(memory.used),
                    )
                )
        except Exception as exc:  # NVMLError subclasses, OSError for a missing library
            self._gpus = []
            self._record(exc, "GPU capture failed (NVML)")

    def _sample(self, *, last: bool = False) -> None:
        """Take one memory sample of the process tree (and GPUs); a failed sample is recorded, not raised."""
        try:
            process = self._get_process()
            if self._linux_proc:
                pids = [process.pid, *_linux_descendants(process.pid)]
                total = sum(_linux_rss(pid) for pid in pids)
            else:
                total = _rss(process) + sum(_rss(child) for child in _live_descendants(process))
            self._peak_tree_rss = max(self._peak_tree_rss, total)
            gpu_used: list[int] = []
            for gpu in self._gpus:
                used = int(self._nvml.nvmlDeviceGetMemoryInfo(gpu.handle).used)
                gpu.peak_memory_used_bytes = max(gpu.peak_memory_used_bytes, used)
                gpu_used.append(used)
            self._add_point(total, tuple(gpu_used), last=last)
            self._samples += 1
        except Exception as exc:  # sampling must never take the run down
            self._record(exc, "memory sample failed")

    def _add_point(self, memory: int, gpus: tuple[int, ...], *, last: bool) -> None:
        if self._samples % self._series_stride and not last:
            return
        start = self._start_times
        cpu = 0.0 if start is None else _cpu_total(os.times()) - _cpu_total(start)
        self._series.append((time.perf_counter() - self._start_wall, memory, max(0.0, cpu), gpus))
        if len(self._series) >= self._max_points:
            self._series = self._series[::2]
            self._series_stride *= 2

    # --- stop ------------------------------------------------------------------------------------------------------

    def _finish(self) -> tuple[ResourcesFacet, list[CaptureErrorRecord]]:
        thread = self._thread
        if thread is None or self._start_times is None:
            self._record(RuntimeError("ResourceMonitor.stop() called before start(): nothing was measured"))
            return self._build(ResourcesFacet(cpu_count=_cpu_count(), memory_total_bytes=_memory_total()))
        wall = time.perf_counter() - self._start_wall
        end_times = os.times()
        end_rusage = _rusage_peaks()
        self._stop_event.set()
        thread.join(_JOIN_TIMEOUT_S)
        if thread.is_alive():
            self._record(TimeoutError(f"the sampler thread did not stop within {_JOIN_TIMEOUT_S:g} s"))
        self._sample(last=True)  # the last sample: descendants still alive now, and runs shorter than one interval
        cpu = _cpu_total(end_times) - _cpu_total(self._start_times) + self._live_descendants_cpu()
        peak = self._peak_tree_rss
        for before, after in zip(self._start_rusage, end_rusage, strict=True):
            # A high-water mark tells about this run only if it rose during it.
            if before is not None and after is not None and after > before:
                peak = max(peak, after)
        gpus = tuple(
            {
                "index": gpu.index,
                "name": gpu.name,
                "memory_total_bytes": gpu.memory_total_bytes,
                "peak_memory_used_bytes": gpu.peak_memory_used_bytes,
                "driver": self._gpu_driver(),
            }
            for gpu in self._gpus
        )
        self._shutdown_nvml()
        facet = ResourcesFacet(
            wall_time_s=wall,
            cpu_time_s=max(0.0, cpu),
            peak_rss_bytes=peak,
            cpu_count=_cpu_count(),
            memory_total_bytes=_memory_total(),
            gpus=gpus,
            samples=self._samples,
        )
        return self._build(facet)

    def _live_descendants_cpu(self) -> float:
        """CPU seconds that descendants alive now used since sampling began."""
        baseline = self._cpu_baseline or {}
        total = 0.0
        try:
            children = _live_descendants(self._get_process())
        except Exception as exc:  # psutil failures: the rest of the facet is still worth having
            self._record(exc, "CPU time of live child processes not measured")
            return 0.0
        for child in children:
            try:
                with child.oneshot():
                    used = _cpu_total(child.cpu_times())
                    total += max(0.0, used - baseline.get((child.pid, child.create_time()), 0.0))
            except _PSUTIL_GONE:
                continue  # exited since the listing: if we waited for it, os.times() has it
        return total

    def _gpu_driver(self) -> str | None:
        try:
            driver = self._nvml.nvmlSystemGetDriverVersion()
        except Exception as exc:  # NVMLError
            self._record(exc, "GPU driver version not read")
            return None
        return driver.decode() if isinstance(driver, bytes) else str(driver)

    def _shutdown_nvml(self) -> None:
        if self._nvml is None:
            return
        try:
            self._nvml.nvmlShutdown()
        except Exception as exc:  # NVMLError
            self._record(exc, "NVML shutdown failed")
        self._nvml = None

    # --- helpers ---------------------------------------------------------------------------------------------------

    def _get_process(self) -> psutil.Process:
        if self._process is None:
            self._process = psutil.Process()
        return self._process

    def _record(self, exc: BaseException, context: str = "") -> None:
        message = f"{context}: {exc}" if context else str(exc)
        key = (type(exc).__name__, message)
        if key not in self._errors and len(self._errors) < _MAX_ERRORS:
            self._errors[key] = CaptureErrorRecord(facet=FACET, error=type(exc).__name__, message=message)

    def _build(self, facet: ResourcesFacet) -> tuple[ResourcesFacet, list[CaptureErrorRecord]]:
        records = list(self._errors.values())
        return attrs.evolve(facet, errors=tuple(record.message for record in records)), records


def _cpu_total(times: Any) -> float:
    """User + system seconds, plus those of waited-for children when ``times`` has them (``os.times``, psutil)."""
    return float(
        times.user + times.system + getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
    )


def _live_descendants(process: psutil.Process) -> list[psutil.Process]:
    return process.children(recursive=True)  # type: ignore[no-any-return]


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except _PSUTIL_GONE:
        return 0


def _linux_descendants(pid: int) -> list[int]:
    """PIDs of every live descendant of ``pid``, from ``/proc/<pid>/task/<tid>/children``.

    psutil finds children by reading ``/proc/<pid>/stat`` of *every* process on the machine; this reads only the
    processes of our own tree, which keeps a sample cheap on a busy host.
    """
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # exited since it was listed
        for tid in threads:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as handle:
                    children = [int(token) for token in handle.read().split()]
            except OSError:
                continue
            found.extend(children)
            pending.extend(children)
    return found


def _linux_rss(pid: int) -> int:
    """PSS of ``pid`` in bytes (shared pages split between their sharers), else its RSS; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass  # exited, or a kernel without smaps_rollup: statm below tells which
    except (OSError, IndexError, ValueError):
        return 0
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0  # exited since it was listed


def _rusage_peaks() -> tuple[int | None, int | None]:
    """Lifetime peak RSS in bytes of this process and of its largest waited-for descendant (``None``: unknown)."""
    try:
        import resource
    except ImportError:  # Windows: psutil knows this process's own peak working set
        try:
            peak = getattr(psutil.Process().memory_info(), "peak_wset", None)
        except Exception:  # psutil errors: the sampled peak still stands
            return None, None
        return (None if peak is None else int(peak)), None
    unit = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux and the BSDs KiB
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    return own, children


def _cpu_count() -> int:
    return psutil.cpu_count(logical=True) or os.cpu_count() or 0


def _memory_total() -> int:
    return int(psutil.virtual_memory().total)
