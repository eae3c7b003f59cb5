"""Errors that carry a canonical gRPC status code.

Model code raises these; the servicer turns them into the call's status. Any other
exception reaching the servicer becomes INTERNAL.
"""

import grpc


class SidecarError(Exception):
    """An error with the gRPC status code the call should end with."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(SidecarError):
    """The request is malformed; retrying the same request fails again."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(SidecarError):
    """An unknown model directory or adapter id."""

    code = grpc.StatusCode.NOT_FOUND


class FailedPreconditionError(SidecarError):
    """The sidecar is not in a state to run the call, for example no model is loaded."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class CancelledError(SidecarError):
    """The caller cancelled the call; work stopped between two model steps."""

    code = grpc.StatusCode.CANCELLED


class DeadlineExceededError(SidecarError):
    """The call's deadline passed; work stopped between two model steps."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class InternalError(SidecarError):
    """A fault inside the sidecar, such as non-finite adapter weights."""

    code = grpc.StatusCode.INTERNAL


class ResourceExhaustedError(SidecarError):
    """A reply would exceed the configured gRPC message size limit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
