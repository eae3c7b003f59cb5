"""The gRPC server process: Sidecar and grpc.health.v1 services, ready line, graceful stop."""

import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

import grpc
import torch
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from nvarc_sidecar.config import ConfigError, SidecarConfig, load_config
from nvarc_sidecar.logs import configure_logging
from nvarc_sidecar.model_store import ModelStore
from nvarc_sidecar.protos import sidecar_pb2, sidecar_pb2_grpc
from nvarc_sidecar.servicer import SidecarServicer

logger = logging.getLogger("nvarc_sidecar.server")

SERVICE_NAME = sidecar_pb2.DESCRIPTOR.services_by_name["Sidecar"].full_name
READY_LINE_PREFIX = "NVARC_SIDECAR_READY"

# Model calls run one at a time under the model lock. The other threads serve health
# checks and let waiting calls notice cancellation while a long call runs.
_GRPC_WORKER_THREADS = 8


def build_server(config: SidecarConfig) -> tuple[grpc.Server, int, health.HealthServicer]:
    """Create the server with both services and bind it; return it, the bound port and the health servicer.

    Raises:
        RuntimeError: the address cannot be bound.
    """
    options = [
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.max_receive_message_length", config.max_message_bytes),
        # gRPC sets SO_REUSEPORT by default, so a second sidecar could bind the same port
        # and receive some of the connections. A port in use must fail the start instead.
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(ThreadPoolExecutor(max_workers=_GRPC_WORKER_THREADS, thread_name_prefix="grpc"),
                         options=options)
    sidecar_pb2_grpc.add_SidecarServicer_to_server(SidecarServicer(ModelStore(config.model_root), config.max_message_bytes), server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(config.address)
    if port == 0:
        raise RuntimeError(f"cannot bind {config.address}")
    return server, port, health_servicer


def serve(config: SidecarConfig) -> None:
    """Run the server until SIGTERM or SIGINT, then stop within `config.shutdown_grace_s`.

    Prints `NVARC_SIDECAR_READY port=<port>` to stdout once the server accepts calls.
    """
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    server, port, health_servicer = build_server(config)
    stop_requested = threading.Event()
    _install_signal_handlers(stop_requested)

    server.start()
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    logger.info("sidecar listening", extra={
        "address": f"{config.host}:{port}", "max_message_bytes": config.max_message_bytes,
        "torch_threads": torch.get_num_threads(), "model_root": str(config.model_root),
    })
    print(f"{READY_LINE_PREFIX} port={port}", flush=True)

    while not stop_requested.wait(timeout=1.0):
        pass
    logger.info("sidecar stopping", extra={"grace_s": config.shutdown_grace_s})
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=config.shutdown_grace_s).wait()
    logger.info("sidecar stopped")


def _install_signal_handlers(stop_requested: threading.Event) -> None:
    def request_stop(signal_number: int, _frame: FrameType | None) -> None:
        logger.info("stop signal received", extra={"signal": signal.Signals(signal_number).name})
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def main() -> int:
    """Entry point of `python -m nvarc_sidecar` and `nvarc-sidecar`; returns the exit code."""
    try:
        config = load_config()
    except ConfigError as error:
        print(f"nvarc-sidecar: invalid configuration: {error}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    try:
        serve(config)
    except RuntimeError as error:
        logger.error("sidecar failed to start", extra={"error": str(error)})
        return 1
    return 0
