"""What do the secret scan and the hardened record parsing cost, against baselines measured in the same run?

Prints ratios only (absolute times depend on the machine):
- scanning text with detect-secrets (``modelver.capture.secrets.find_secrets``) as a ratio to hashing the same
  bytes with blake3, the work the capture does on them anyway (for 4 MiB of config-like text: YAML keys, digests,
  paths, numbers);
- importing detect-secrets in a fresh interpreter as a ratio to importing modelver itself (the cost paid once, by
  runs that have text to scan);
- encoding a 2,000-entry config of strings with the content scan as a ratio to the same encode with the scan
  switched off;
- ``modelver.serde.parse_record`` on a real manifest as a ratio to bare ``json.loads``.

Run: ``.venv/bin/python benchmarks/secret_scan.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import modelver
from modelver.capture import config as config_module
from modelver.capture.secrets import ValueScan, find_secrets
from modelver.serde import canonical_json, parse_record, to_json_dict
from modelver.store.digest import digest_bytes


def best_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    """The fastest of ``repeat`` timed calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def config_text(size: int) -> str:
    """YAML-like text of about ``size`` characters: the kind of file left untracked next to a training script."""
    lines = []
    i = 0
    while sum(map(len, lines)) < size:
        lines.append(f"layer_{i}_checkpoint_sha256: {digest_bytes(str(i).encode()).split(':')[1]}")
        lines.append(f"layer_{i}_path: s3://bucket/models/run-{i}/weights.safetensors")
        lines.append(f"layer_{i}_lr: {0.001 * (i % 7)}")
        i += 1
    return "\n".join(lines) + "\n"


def import_time(module: str) -> float:
    """Median wall time of ``python -c 'import module'`` over 5 fresh interpreters, in seconds."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the ratios."""
    text = config_text(4 << 20)
    data = text.encode()
    find_secrets("warm up the detectors")
    scan = best_of(lambda: find_secrets(text, filename="conf.yaml"))
    hashing = best_of(lambda: digest_bytes(data))
    print(f"scan / blake3 of the same 4 MiB text:          {scan / hashing:8.1f}x")

    baseline = import_time("modelver")
    with_detector = import_time("modelver, detect_secrets.plugins.keyword, detect_secrets.plugins.aws")
    print(f"import modelver+detect-secrets / modelver:     {with_detector / baseline:8.2f}x")

    config = {f"param_{i}": f"value-{i}-{'x' * (i % 40)}" for i in range(2000)}
    with_scan = best_of(lambda: config_module.encode_config(config))
    original = config_module.ValueScan
    config_module.ValueScan = _NoScan  # type: ignore[misc]
    try:
        without_scan = best_of(lambda: config_module.encode_config(config))
    finally:
        config_module.ValueScan = original  # type: ignore[misc]
    print(f"encode_config 2,000 strings, scan / no scan:   {with_scan / without_scan:8.2f}x")

    with modelver.track("bench-secret-scan", store="memory://bench-secret-scan", config=config) as run:
        run.log_metrics({"loss": 0.5})
    assert run.version is not None
    body = canonical_json(to_json_dict(run.version.manifest))
    parsed = best_of(lambda: [parse_record(body, "manifest") for _ in range(200)])
    bare = best_of(lambda: [json.loads(body) for _ in range(200)])
    print(f"parse_record / json.loads of a manifest:       {parsed / bare:8.2f}x")


class _NoScan(ValueScan):
    def find(self, text: str, path: str) -> str | None:
        return None


if __name__ == "__main__":
    main()
