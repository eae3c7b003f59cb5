"""Import the gRPC stubs generated from libs/contracts/proto/nvarc/sidecar/v1/sidecar.proto.

`scripts/generate.sh` writes the stubs under `proto/nvarc/sidecar/v1/`. The generated
service module imports its messages as `nvarc.sidecar.v1.sidecar_pb2`, so the `proto`
folder is put on `sys.path` before importing them.
"""

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent / "proto"

if str(PROTO_DIR) not in sys.path:
    sys.path.insert(0, str(PROTO_DIR))

try:
    from nvarc.sidecar.v1 import sidecar_pb2, sidecar_pb2_grpc  # noqa: E402
except ImportError as error:  # pragma: no cover - depends on the checkout state
    raise ImportError(
        f"gRPC stubs not found under {PROTO_DIR}: run `bash scripts/generate.sh` "
        "from the repository root to generate them"
    ) from error

__all__ = ["PROTO_DIR", "sidecar_pb2", "sidecar_pb2_grpc"]
