"""NVARC inference sidecar: a gRPC server for LoRA test-time fine-tuning, DFS decoding and scoring.

It takes and returns token ids of the 16-token dialog format, never grids. The service
contract is libs/contracts/proto/nvarc/sidecar/v1/sidecar.proto.
"""

__version__ = "0.1.0"
