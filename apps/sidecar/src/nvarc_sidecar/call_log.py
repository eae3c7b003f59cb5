"""One log line per gRPC call with its ids, status code and device seconds."""

import logging
import time
from dataclasses import dataclass, field

import grpc

from nvarc_sidecar.model_store import DeviceClock

logger = logging.getLogger("nvarc_sidecar.calls")

# Status codes caused by the caller; logged as warnings. Anything else but OK is an error.
_CALLER_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@dataclass
class CallLog:
    """Ids and timing of one call; `finish` writes its single log line."""

    method: str
    request_id: str = ""
    adapter_id: str = ""
    clock: DeviceClock | None = None
    started_s: float = field(default_factory=time.monotonic)

    @property
    def device_seconds(self) -> float:
        """Seconds the call held the model lock so far (0 before it got the lock)."""
        return 0.0 if self.clock is None else self.clock.seconds()

    def start(self, clock: DeviceClock) -> None:
        """Record that the call got the model lock; logged at debug level."""
        self.clock = clock
        logger.debug("call started", extra={
            "method": self.method, "request_id": self.request_id, "adapter_id": self.adapter_id,
            "wait_s": round(time.monotonic() - self.started_s, 4),
        })

    def finish(self, code: grpc.StatusCode, message: str = "", exc_info: bool = False) -> None:
        """Log the call's outcome: info when OK, warning for caller errors and cancels, error otherwise."""
        fields = {
            "method": self.method,
            "request_id": self.request_id,
            "adapter_id": self.adapter_id,
            "code": code.name,
            "device_seconds": round(self.device_seconds, 4),
            "duration_s": round(time.monotonic() - self.started_s, 4),
        }
        if message:
            fields["error"] = message
        if code == grpc.StatusCode.OK:
            logger.info("call finished", extra=fields)
        elif code == grpc.StatusCode.CANCELLED:
            logger.warning("call cancelled by the caller", extra=fields)
        elif code in _CALLER_CODES:
            logger.warning("call failed", extra=fields)
        else:
            logger.error("call failed", extra=fields, exc_info=exc_info)
