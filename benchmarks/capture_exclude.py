"""What does a store inside the repository cost the code capture, and what does excluding it save?

A repository holds ``MODELVER_STORE=./store`` with a few thousand objects (a store after some weeks of runs). The
code capture (``capture_code``) runs ``git status`` over the tree; without the exclude list, git walks the store and
every object is read and recorded as an untracked file (up to the caps); with it, git is told ``:(exclude)store``.

Prints, measured in this run on this machine: the median capture time of a repository without any store (the
baseline), with the store not excluded (the behaviour before issue #20), and with it excluded, as ratios to the
baseline; and how many untracked files each records.

Run: ``.venv/bin/python benchmarks/capture_exclude.py [objects]`` (default 3000).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modelver.capture.code import capture_code
from modelver.store.digest import digest_bytes


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@x"
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _repo(root: Path, objects: int) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "i")
    for i in range(objects):
        data = f"object {i}\n".encode() * 20
        hexdigest = digest_bytes(data).split(":", 1)[1]
        path = repo / "store" / "blobs" / "blake3" / hexdigest[:2] / hexdigest[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return repo


def _capture_ms(repo: Path, exclude: tuple[str, ...]) -> tuple[float, int]:
    start = time.perf_counter()
    facet, _ = capture_code(put_blob=digest_bytes, entrypoint=str(repo / "train.py"), cwd=str(repo), exclude=exclude)
    untracked = len(facet.git.untracked) if facet.git else -1
    return (time.perf_counter() - start) * 1000, untracked


def main() -> None:
    """Measure and print the figures (the three cases interleaved, so load on the machine hits them alike)."""
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    repeat = 9
    with tempfile.TemporaryDirectory() as tmp:
        clean = _repo(Path(tmp) / "clean", 0)
        with_store = _repo(Path(tmp) / "with", objects)
        cases = {
            "baseline": (clean, ()),
            "not excluded": (with_store, ()),
            "excluded": (with_store, (os.path.realpath(with_store / "store"),)),
        }
        times: dict[str, list[float]] = {case: [] for case in cases}
        files: dict[str, int] = {}
        for round_ in range(repeat + 1):
            for case, (repo, exclude) in cases.items():
                ms, files[case] = _capture_ms(repo, exclude)
                if round_:  # the first round warms the file system cache
                    times[case].append(ms)
    median = {case: statistics.median(values) for case, values in times.items()}
    base = median["baseline"]
    print(f"code capture, repository without a store (baseline): {base:.1f} ms (median of {repeat})")
    for case in ("not excluded", "excluded"):
        print(
            f"store of {objects} objects inside, {case}: {median[case] / base:.2f}x baseline, {files[case]} untracked"
        )
    print(f"excluded vs not excluded: {median['excluded'] / median['not excluded']:.3f}x")


if __name__ == "__main__":
    main()
