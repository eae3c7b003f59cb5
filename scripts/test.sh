#!/usr/bin/env bash
# Run every test suite: typecheck, the sidecar's pytest suite, then the Node suites
# (unit, database, queue and integration tests against one shared sidecar).
#
# Needs Postgres and Redis. Defaults: postgresql://postgres@127.0.0.1:5432 and
# redis://127.0.0.1:6379; override with NVARC_TEST_DATABASE_URL (a database name is
# added per test file) and NVARC_TEST_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

export NVARC_DATASETS_DIR="${NVARC_DATASETS_DIR:-$(cd "$ROOT/.." && pwd)/shared/datasets}"
export NVARC_TEST_DATABASE_URL="${NVARC_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432}"
export NVARC_TEST_REDIS_URL="${NVARC_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export NVARC_LOG_LEVEL="${NVARC_LOG_LEVEL:-warn}"
if [[ ! -d "$NVARC_DATASETS_DIR/arc-agi-1/evaluation" ]]; then
  echo "test: ARC task files not found under NVARC_DATASETS_DIR=$NVARC_DATASETS_DIR (see README: Data)" >&2
  exit 1
fi

echo "== typecheck"
npx --no-install tsc -p tsconfig.json

echo "== sidecar (pytest)"
apps/sidecar/.venv/bin/python -m pytest apps/sidecar/tests -q -p no:cacheprovider

echo "== node suites"
# One shared sidecar for the integration tests, one torch thread, stopped on exit.
SIDECAR_LOG="$(mktemp)"
NVARC_SIDECAR_ADDRESS=127.0.0.1:0 NVARC_SIDECAR_TORCH_THREADS=1 PYTHONUNBUFFERED=1 \
  apps/sidecar/.venv/bin/python -m nvarc_sidecar >"$SIDECAR_LOG" 2>&1 &
SIDECAR_PID=$!
trap 'kill $SIDECAR_PID 2>/dev/null || true; wait $SIDECAR_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  PORT=$(grep -oE 'NVARC_SIDECAR_READY port=[0-9]+' "$SIDECAR_LOG" | head -1 | cut -d= -f2 || true)
  [[ -n "$PORT" ]] && break
  kill -0 $SIDECAR_PID 2>/dev/null || { cat "$SIDECAR_LOG" >&2; echo "test: the sidecar exited at start" >&2; exit 1; }
  sleep 0.5
done
[[ -n "${PORT:-}" ]] || { cat "$SIDECAR_LOG" >&2; echo "test: the sidecar did not start within 120 s" >&2; exit 1; }
export NVARC_TEST_SIDECAR_ADDRESS="127.0.0.1:$PORT"

mapfile -t FILES < <(find libs apps test -path '*/node_modules' -prune -o -name '*.test.ts' -print | sort)
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${FILES[@]}"
