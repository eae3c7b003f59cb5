"""Entry point of the Ray job that runs one SFT run with data parallelism over Ray actors.

    python -m nvarc_sidecar.sft.ray_job --request '{"train": {...}, "workers": 2, "cpusPerWorker": 1, "gpusPerWorker": 0}'
    python -m nvarc_sidecar.sft.ray_job --request @/path/to/request.json

`train` is a TrainRequest in proto3 JSON (the message the sidecar's Train RPC takes);
its paths must be valid on every Ray node. The job reserves `workers` bundles of
`cpusPerWorker` CPUs and `gpusPerWorker` GPUs in one placement group, starts one
TrainRank actor per bundle and trains with gloo (no GPU) or nccl (one GPU per worker).

Rank 0's updates are printed on stdout, one per line, as PROGRESS_PREFIX followed by a
JSON object with the fields of TrainUpdate in camelCase (deviceSeconds excepted, which
the worker computes from the job's wall-clock time). A failure prints ERROR_PREFIX and
{"code", "message"}, where code is the lower-case gRPC status name the sidecar would
have returned (invalid_argument, not_found, failed_precondition, internal, ...) or
worker_died, and the process exits with status 1. Resuming, checkpoints and the final
model work as in the sidecar's Train RPC.
"""

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import ray
from google.protobuf import json_format
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from nvarc_sidecar.errors import SidecarError
from nvarc_sidecar.logs import configure_logging
from nvarc_sidecar.sft.ray_ranks import TrainRank, parse_train_request
from nvarc_sidecar.sft.trainer import TrainProgress

PROGRESS_PREFIX = "NVARC_SFT_PROGRESS "
ERROR_PREFIX = "NVARC_SFT_ERROR "

logger = logging.getLogger("nvarc_sidecar.sft.ray_job")


class RayJobRequest:
    """A parsed request: the TrainRequest and the shape of the data-parallel group."""

    def __init__(self, document: dict) -> None:
        unknown = set(document) - {"train", "workers", "cpusPerWorker", "gpusPerWorker"}
        if unknown:
            raise ValueError(f"unknown request fields {sorted(unknown)}; use train, workers, cpusPerWorker, gpusPerWorker")
        if not isinstance(document.get("train"), dict):
            raise ValueError("request field train is missing; give a TrainRequest in proto3 JSON")
        # Parsed here so a bad request fails before any worker starts; the actors get the JSON form.
        self.train_document = document["train"]
        self.train = parse_train_request(self.train_document)
        self.workers = _number(document, "workers", 1, int)
        self.cpus_per_worker = _number(document, "cpusPerWorker", 1.0, float)
        self.gpus_per_worker = _number(document, "gpusPerWorker", 0.0, float)
        if self.workers < 1:
            raise ValueError(f"workers={self.workers} is invalid; use 1 or more")
        if self.cpus_per_worker < 0 or self.gpus_per_worker < 0:
            raise ValueError("cpusPerWorker and gpusPerWorker must be at least 0")

    @property
    def backend(self) -> str:
        """The torch.distributed backend: nccl when every worker has a GPU, else gloo."""
        return "nccl" if self.gpus_per_worker > 0 else "gloo"


def _number(document: dict, name: str, default, kind):
    value = document.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or kind(value) != value:
        raise ValueError(f"request field {name}={value!r} is invalid; use a {kind.__name__}")
    return kind(value)


def read_request(argument: str) -> RayJobRequest:
    """Parse `--request`: inline JSON, or `@path` of a JSON file."""
    text = Path(argument[1:]).read_text(encoding="utf-8") if argument.startswith("@") else argument
    return RayJobRequest(json.loads(text))


def progress_line(progress: TrainProgress) -> str:
    """Format one update as the line the worker parses from the job logs."""
    fields = asdict(progress)
    camel = {_camel_case(name): value for name, value in fields.items()}
    return PROGRESS_PREFIX + json.dumps(camel, separators=(",", ":"))


def error_line(code: str, message: str) -> str:
    """Format a failure as the line the worker maps to the run's error."""
    return ERROR_PREFIX + json.dumps({"code": code, "message": message})


def _camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def run(request: RayJobRequest) -> None:
    """Place the workers, train, and print rank 0's progress lines; raises what a rank raised."""
    bundles = [{"CPU": request.cpus_per_worker, "GPU": request.gpus_per_worker} for _ in range(request.workers)]
    bundles = [{name: amount for name, amount in bundle.items() if amount > 0} or {"CPU": 0.001} for bundle in bundles]
    group = placement_group(bundles, strategy="PACK")
    logger.info("waiting for the placement group", extra={"run_id": request.train.run_id, "bundles": bundles})
    ray.get(group.ready())

    ranks = [
        TrainRank.options(
            num_cpus=bundle.get("CPU", 0), num_gpus=bundle.get("GPU", 0),
            scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=index),
        ).remote()
        for index, bundle in enumerate(bundles)
    ]
    init_method = ray.get(ranks[0].rendezvous_address.remote())
    logger.info("training", extra={"run_id": request.train.run_id, "workers": request.workers,
                                   "backend": request.backend, "init_method": init_method})
    args = (request.workers, init_method, request.backend)
    document = request.train_document
    others = [rank.train_quietly.remote(document, index, *args) for index, rank in enumerate(ranks) if index > 0]
    stream = ranks[0].train.options(num_returns="streaming").remote(document, 0, *args)
    for reference in stream:
        print(progress_line(ray.get(reference)), flush=True)
    ray.get(others)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one SFT run on the Ray cluster this job belongs to.")
    parser.add_argument("--request", required=True, help="the request as inline JSON, or @PATH of a JSON file")
    parser.add_argument("--log-level", default="INFO", help="level of the job's JSON log lines on stderr")
    options = parser.parse_args(argv)
    configure_logging(options.log_level)

    try:
        request = read_request(options.request)
    except (ValueError, OSError, json_format.ParseError) as error:
        print(error_line("invalid_argument", f"--request is invalid: {error}"), flush=True)
        return 1

    ray.init(log_to_driver=True)
    try:
        run(request)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, SidecarError):
            print(error_line(cause.code.name.lower(), cause.message), flush=True)
        else:
            print(error_line("internal", f"{type(cause).__name__}: {cause}"), flush=True)
        logger.error("SFT run failed", exc_info=True, extra={"run_id": request.train.run_id})
        return 1
    except ray.exceptions.RayActorError as error:
        print(error_line("worker_died", f"a training worker died: {error}"), flush=True)
        logger.error("SFT run failed: a worker died", extra={"run_id": request.train.run_id})
        return 1
    logger.info("SFT run finished", extra={"run_id": request.train.run_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
