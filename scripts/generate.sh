#!/usr/bin/env bash
# Regenerate code derived from committed sources when the source is newer:
# Python gRPC stubs from libs/contracts/proto and the Prisma client from prisma/schema.prisma.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTO_ROOT=libs/contracts/proto
PROTO=$PROTO_ROOT/nvarc/sidecar/v1/sidecar.proto
PY_OUT=apps/sidecar/src/nvarc_sidecar/proto
if [[ ! -f $PY_OUT/nvarc/sidecar/v1/sidecar_pb2.py || $PROTO -nt $PY_OUT/nvarc/sidecar/v1/sidecar_pb2.py ]]; then
  echo "generate: Python stubs from $PROTO"
  mkdir -p "$PY_OUT"
  apps/sidecar/.venv/bin/python -m grpc_tools.protoc -I "$PROTO_ROOT" \
    --python_out="$PY_OUT" --grpc_python_out="$PY_OUT" --pyi_out="$PY_OUT" "$PROTO"
fi

CLIENT=libs/db/src/generated/prisma/client.ts
if [[ ! -f $CLIENT || prisma/schema.prisma -nt $CLIENT ]]; then
  echo "generate: Prisma client from prisma/schema.prisma"
  # prisma generate does not run the schema engine, but the CLI refuses to start
  # without one and its download fails offline, so point it at any existing file.
  PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$(command -v node)}" \
    npx --no-install prisma generate --schema prisma/schema.prisma >/dev/null
fi
