"""Uploading large blobs to S3: modelver's ``Store.put_file`` against boto3's ``upload_file`` (TransferManager).

Prints, measured in this run on this machine, against a local moto server (``moto_server``, in its own process, so
the bytes it keeps are not counted as the uploader's memory):

- one file of SIZE MB, and SIZE MB in 64 sharded files: boto3 seconds / modelver seconds, the same bytes, same
  server, same run (goal >= 0.9; modelver also hashes every byte twice: once to name the blob, once as sent);
- peak memory (``ru_maxrss``) of the process uploading with modelver, and of the one uploading with boto3
  (goal < 300 MB for modelver: streamed, never held whole).

The local server is part of both figures: the ratio and the memory bound are what count, not the absolute time.
modelver sends the 64 files with ``Store.put_files`` (what saving or logging a directory does: small files several
at once), boto3 with one ``upload_file`` each, as the issue's baseline; boto3's TransferManager with every file in
flight at once is printed too, for reference. Each side runs ROUNDS times, interleaved, and the best time counts.

Run: ``.venv/bin/python benchmarks/upload.py [SIZE_MB [ROUNDS]]`` (default 512 and 3; the issue's figure is 2048,
which needs about 3x SIZE of free memory for the server).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MB = 1 << 20
SHARDS = 64


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _phase(kind: str, endpoint: str, files: list[str]) -> dict[str, Any]:
    """Upload ``files`` with ``kind`` (modelver or boto3) in this process; seconds and peak RSS."""
    import boto3

    bucket = "bench-" + uuid.uuid4().hex[:8]
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    if kind == "modelver":
        from modelver.store.objects import Store

        store = Store(f"s3://{bucket}/store", client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
        store.initialize()
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        store.put_files(files)  # what saving or logging a directory does
    elif kind == "boto3-concurrent":
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(multipart_threshold=64 * MB, multipart_chunksize=16 * MB, max_concurrency=8)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        with create_transfer_manager(client, config) as manager:
            futures = [manager.upload(path, bucket, "data/" + os.path.basename(path)) for path in files]
            for future in futures:
                future.result()
    else:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=64 * MB, multipart_chunksize=16 * MB, max_concurrency=8)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        start = time.perf_counter()
        for path in files:
            client.upload_file(path, bucket, "data/" + os.path.basename(path), Config=config)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_rss_mb": peak / MB, "above_baseline_mb": (peak - baseline) / MB}


def _run_phase(kind: str, endpoint: str, files: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MODELVER_CACHE": tempfile.mkdtemp(prefix="modelver-bench-cache-"),
    }
    env.pop("AWS_PROFILE", None)
    out = subprocess.run(
        [sys.executable, __file__, "--phase", kind, endpoint, *files],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(size_mb: int, rounds: int) -> None:
    """Write the test files, start moto_server, and print both figures."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory(prefix="modelver-upload-bench-") as scratch:
            one = os.path.join(scratch, "one.bin")
            with open(one, "wb") as handle:
                for _ in range(size_mb):
                    handle.write(os.urandom(MB))
            shards = []
            shard_bytes = size_mb * MB // SHARDS
            for index in range(SHARDS):
                shard = os.path.join(scratch, f"shard-{index:02d}.bin")
                with open(shard, "wb") as handle:
                    handle.write(os.urandom(shard_bytes))
                shards.append(shard)
            for label, files in ((f"1 file of {size_mb} MB", [one]), (f"{SHARDS} files, {size_mb} MB", shards)):
                # Interleaved rounds, best of each: the server and the machine drift less between neighbours.
                runs: dict[str, list[dict[str, Any]]] = {"boto3": [], "modelver": [], "boto3-concurrent": []}
                for _ in range(rounds):
                    for kind, found in runs.items():
                        if kind == "boto3-concurrent" and len(files) == 1:
                            continue
                        found.append(_run_phase(kind, endpoint, files))
                boto = min(runs["boto3"], key=lambda r: r["seconds"])
                ours = min(runs["modelver"], key=lambda r: r["seconds"])
                peak = max(r["peak_rss_mb"] for r in runs["modelver"])
                print(
                    f"{label}: modelver {ours['seconds']:.2f} s, boto3 upload_file {boto['seconds']:.2f} s, "
                    f"ratio (boto3 / modelver) {boto['seconds'] / ours['seconds']:.2f} (goal >= 0.9); peak RSS "
                    f"modelver {peak:.0f} MB (+{ours['above_baseline_mb']:.0f} MB while uploading), "
                    f"boto3 {boto['peak_rss_mb']:.0f} MB (goal < 300 MB)",
                    flush=True,
                )
                if runs["boto3-concurrent"]:
                    both = min(runs["boto3-concurrent"], key=lambda r: r["seconds"])
                    print(
                        f"  for reference, boto3's TransferManager with all {len(files)} files in flight at once: "
                        f"{both['seconds']:.2f} s, ratio {both['seconds'] / ours['seconds']:.2f}",
                        flush=True,
                    )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        print(json.dumps(_phase(sys.argv[2], sys.argv[3], sys.argv[4:])))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 512, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
