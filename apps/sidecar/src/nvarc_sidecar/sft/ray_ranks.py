"""One data-parallel rank of an SFT run, as a Ray actor (ray_job.py places and drives them).

Each actor joins a torch.distributed process group (gloo on the CPU, nccl with one GPU
per actor) and runs the shared step loop of trainer.py on its share of every step.
"""

import socket
from collections.abc import Iterator
from pathlib import Path

import ray
from google.protobuf import json_format

from nvarc_sidecar.call_guard import UNGUARDED
from nvarc_sidecar.protos import sidecar_pb2
from nvarc_sidecar.sft.data_parallel import ProcessGroup
from nvarc_sidecar.sft.requests import train_job
from nvarc_sidecar.sft.trainer import TrainProgress, train


def parse_train_request(document: dict):
    """Return the TrainRequest message of its proto3 JSON form.

    Actors receive the JSON form: a pickled message would need the generated stubs on
    the import path before Ray unpickles the arguments.

    Raises:
        google.protobuf.json_format.ParseError: an unknown field or a value of the wrong type.
    """
    return json_format.ParseDict(document, sidecar_pb2.TrainRequest())


def resolve_cluster_path(path: str) -> Path:
    """Resolve a request path on a Ray node; relative paths are taken from the job's working directory."""
    return Path(path).expanduser().resolve()


@ray.remote
class TrainRank:
    """A process that trains one rank; its methods run one at a time."""

    def rendezvous_address(self) -> str:
        """Return `tcp://<node ip>:<free port>` for the process group's store, hosted by this actor as rank 0.

        The port is free when checked and is bound by init_process_group shortly after. Another
        process could take it in between, and then the run fails with a retryable error.
        """
        host = ray.util.get_node_ip_address()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        return f"tcp://{host}:{port}"

    def train(self, request: dict, rank: int, world_size: int, init_method: str, backend: str) -> Iterator[TrainProgress]:
        """Train rank `rank` of the run in `request` (a TrainRequest in proto3 JSON) and yield its progress updates."""
        job = train_job(parse_train_request(request), resolve_cluster_path)
        group = ProcessGroup(rank, world_size, init_method, backend)
        try:
            yield from train(job, UNGUARDED, group)
        finally:
            # Leaving the group on an error makes the peers' next collective fail instead of waiting for its timeout.
            group.close()

    def train_quietly(self, request: dict, rank: int, world_size: int, init_method: str, backend: str) -> int:
        """Train a rank other than 0, whose updates repeat rank 0's, and return the last step."""
        step = 0
        for progress in self.train(request, rank, world_size, init_method, backend):
            step = progress.step
        return step
