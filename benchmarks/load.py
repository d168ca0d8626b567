"""How much does ``modelver.load()`` add to deserialising a model file yourself?

Prints, measured in this run on this machine, for a PyTorch model of about 100 MB (float32 weights) stored in the
``torch`` format (safetensors + class path + constructor config):

- the median time of the raw deserialisation of the same safetensors file from local disk, with no checks: read it
  and turn it into tensors, ``safetensors.torch.load(path.read_bytes())`` (the baseline: every byte in memory, as
  after ``modelver.load``). For reference, two other hand-written loads: ``Net(**config).load_state_dict(
  safetensors.torch.load_file(path))`` (the usual serving code: it pays for the random initialisation of the
  weights it then overwrites), and ``safetensors.torch.load_file(path)`` alone, which only maps the file: no byte
  is read until a tensor is used, so it is no measure of deserialisation and verifies nothing; and the floor of any
  load that puts the bytes in memory: reading the file into a buffer (``readinto``), nothing else;
- the median time of ``modelver.load(ref)`` of a *cached* version: the version lives in an S3 store (a moto server
  on 127.0.0.1) and its blob is in the local read cache after a first load, so the load reads no blob over the
  network (it still resolves the reference over HTTP); the same with the version resolved once
  (``ModelVersion.load()``); and ``modelver.load`` from a local store. Each load verifies the blob against its
  digest (blake3), checks the environment and rebuilds the module;
- each as a ratio to the baseline.

Run: ``.venv/bin/python benchmarks/load.py`` (about a minute; ``--quick`` for a 10 MB model).
Goal (issue 9): at most 1.1x the raw deserialisation for a 100 MB safetensors model.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import safetensors.torch
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import modelver
from modelver import Store

BASELINE = "raw: safetensors.torch.load(read_bytes) (baseline)"


class Wide(torch.nn.Module):
    """``layers`` square linear layers of ``width`` features: about ``4 * layers * width**2`` bytes of weights."""

    def __init__(self, width: int, layers: int) -> None:
        super().__init__()
        self.width, self.layers = width, layers
        self.body = torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(layers)))

    def get_config(self) -> dict[str, int]:
        """Constructor arguments, stored with the weights."""
        return {"width": self.width, "layers": self.layers}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layers."""
        return self.body(x)


def median_s(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` calls (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_into(path: str) -> bytearray:
    """The file's bytes in a fresh buffer: the least work any load that puts them in memory does."""
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(os.fstat(handle.fileno()).st_size)
        handle.readinto(buffer)
    return buffer


def publish(model: Wide, store: Store) -> str:
    """Publish ``model`` to ``store``; its reference."""
    with modelver.track("wide", store=store) as run:
        run.save_model(model)
    assert run.version is not None
    return run.version.ref


def main() -> None:
    """Measure and print."""
    quick = "--quick" in sys.argv
    repeat = 5 if quick else 7
    width, layers = (1024, 2) if quick else (2048, 6)
    work = Path(tempfile.mkdtemp(prefix="modelver-bench-load-"))
    os.environ["MODELVER_CACHE"] = str(work / "cache")
    model = Wide(width, layers).eval()
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    print(f"model: {layers} x Linear({width}, {width}), {size / 1e6:.0f} MB of float32 weights; median of {repeat}")

    local_store = Store(work / "store")
    local_ref = publish(model, local_store)
    version = modelver.get(local_ref, store=local_store)
    path = version.store.blob_path(version.manifest.artifacts["model.safetensors"].digest)

    def raw() -> object:
        return safetensors.torch.load(Path(path).read_bytes())

    def usual() -> object:
        net = Wide(width, layers)
        net.load_state_dict(safetensors.torch.load_file(path))
        return net

    results = {
        BASELINE: median_s(raw, repeat),
        "usual: Net(**config).load_state_dict(load_file)": median_s(usual, repeat),
        "mapping only: safetensors.torch.load_file": median_s(lambda: safetensors.torch.load_file(path), repeat),
        "floor: read the file into memory": median_s(lambda: read_into(path), repeat),
        "modelver.load, local store": median_s(lambda: modelver.load(local_ref, store=local_store), repeat),
    }

    from s3server import DUMMY_ENV, S3Server, make_bucket, s3_options

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(DUMMY_ENV)
    os.environ.pop("AWS_PROFILE", None)
    server = S3Server()
    server.start()
    try:
        s3_store = Store(f"s3://{make_bucket(server.endpoint)}/store", **s3_options(server.endpoint))
        s3_ref = publish(model, s3_store)
        loaded = modelver.load(s3_ref, store=s3_store)  # the first load fills the read cache
        x = torch.ones(1, width)
        assert torch.equal(model(x), loaded(x)), "the loaded model computes something else"
        results["modelver.load, S3 store, blob cached"] = median_s(
            lambda: modelver.load(s3_ref, store=s3_store), repeat
        )
        resolved = modelver.get(s3_ref, store=s3_store)
        results["ModelVersion.load, S3 store, blob cached"] = median_s(resolved.load, repeat)
    finally:
        server.stop()

    baseline = results[BASELINE]
    for label, seconds in results.items():
        print(f"  {label:<52}{seconds * 1000:>9.1f} ms{seconds / baseline:>7.2f}x")


if __name__ == "__main__":
    main()
