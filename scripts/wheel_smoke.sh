#!/usr/bin/env bash
# Packaging smoke test (run by `make test`): build the wheel and sdist, install the wheel alone into a fresh venv
# (no dev extras, no source tree on the path), then track, publish, load and list from there. A file missing from
# the wheel, or an import of a dev-only package at import time, fails here and not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m build --wheel --sdist --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
ls "$work"/dist/modelver-*.tar.gz >/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$work"/dist/modelver-*.whl \
  >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
cd "$work"
export MODELVER_STORE="$work/store" MODELVER_CACHE="$work/cache"
"$work/venv/bin/python" - <<'PY'
import modelver

with modelver.track("smoke", config={"lr": 0.1}) as run:
    run.log_metrics({"accuracy": 0.5})
    run.save_model({"weights": [1, 2, 3]})
assert run.version is not None
loaded = modelver.load("smoke@latest")
assert loaded == {"weights": [1, 2, 3]}, loaded
assert modelver.verify("smoke@latest").ok
print(f"wheel smoke: published and loaded {run.version.ref}")
PY
"$work/venv/bin/modelver" list smoke | grep -q "0.0.1\|0.1.0"
"$work/venv/bin/modelver" ui --help >/dev/null
echo "wheel smoke: modelver list ok"
