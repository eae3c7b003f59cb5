#!/usr/bin/env bash
# Install everything the project needs, once. Safe to run again: each step is
# skipped when its output is already up to date.
#
#   bash scripts/setup.sh           install and report each step
#   bash scripts/setup.sh --quiet   the same, printing only what it does
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"
QUIET=0
[[ "${1:-}" == "--quiet" ]] && QUIET=1

say() { [[ $QUIET == 1 ]] || echo "setup: $*"; }
step() { echo "setup: $*"; }

# npm registry installs must never try to fetch onnxruntime's CUDA binaries.
export ONNXRUNTIME_NODE_INSTALL=skip

# 1. Node packages.
if [[ ! -d node_modules/.bin || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "installing Node packages (npm ci)"
  npm ci --no-audit --no-fund >/dev/null
else
  say "Node packages up to date"
fi

# 2. The sidecar's Python virtual environment, torch pinned to the CPU build.
VENV=apps/sidecar/.venv
REQ=apps/sidecar/requirements.txt
# Ray (the `ray` SFT backend and its tests) lives in its own file so images that only
# serve inference can leave it out.
RAY_REQ=apps/sidecar/requirements-ray.txt
STAMP=$VENV/.requirements.sha256
WANT=$(sha256sum "$REQ" "$RAY_REQ" apps/sidecar/pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $STAMP || "$(cat "$STAMP")" != "$WANT" ]]; then
  PY=${NVARC_PYTHON:-python3}
  step "creating the sidecar virtual environment with $($PY --version)"
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  # torch first, from NVARC_TORCH_INDEX_URL when set: on Linux, PyPI's torch wheels are
  # CUDA builds of several GB, while https://download.pytorch.org/whl/cpu serves the CPU build.
  TORCH_PIN=$(grep -E '^torch==' "$REQ")
  "$VENV/bin/pip" install -q --disable-pip-version-check ${NVARC_TORCH_INDEX_URL:+--index-url "$NVARC_TORCH_INDEX_URL"} "$TORCH_PIN"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  # The torch pin is repeated as a constraint, so no dependency of Ray can replace it.
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$RAY_REQ" --constraint <(echo "$TORCH_PIN")
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e apps/sidecar
  echo "$WANT" > "$STAMP"
else
  say "sidecar virtual environment up to date"
fi

# 3. Generated code: Python gRPC stubs and the Prisma client.
bash scripts/generate.sh

# 4. The tiny default model, created with a fixed seed.
if [[ -f apps/sidecar/src/nvarc_sidecar/create_model.py && ! -f models/tiny-untrained/config.json ]]; then
  step "creating the tiny untrained model in models/tiny-untrained"
  "$VENV/bin/python" -m nvarc_sidecar.create_model --preset tiny --seed 0 --out models/tiny-untrained
else
  say "tiny model present"
fi
