"""Cancellation and deadline checks between two model steps."""

from typing import Protocol

from nvarc_sidecar.errors import CancelledError, DeadlineExceededError

# A client's deadline reaches the server as a cancellation a few milliseconds before
# the server's own deadline timer fires. So a call that ends this close to its deadline
# is reported as DEADLINE_EXCEEDED rather than CANCELLED.
_DEADLINE_MARGIN_S = 1.0


class CallContext(Protocol):
    """The part of `grpc.ServicerContext` the guard reads."""

    def is_active(self) -> bool: ...

    def time_remaining(self) -> float | None: ...


class CallGuard:
    """Stops long work when the caller cancels or the call's deadline passes.

    Model loops call `check()` between steps; it raises, and the servicer ends the call
    with CANCELLED or DEADLINE_EXCEEDED. A guard without a context never raises.
    """

    def __init__(self, context: CallContext | None) -> None:
        self._context = context

    def check(self) -> None:
        """Raise DeadlineExceededError or CancelledError when the call should stop."""
        if self._context is None:
            return
        remaining_s = self._context.time_remaining()
        if remaining_s is not None and remaining_s <= 0:
            raise DeadlineExceededError("the call's deadline passed; work stopped")
        if not self._context.is_active():
            if remaining_s is not None and remaining_s < _DEADLINE_MARGIN_S:
                raise DeadlineExceededError("the call's deadline passed; work stopped")
            raise CancelledError("the caller cancelled the call; work stopped")


UNGUARDED = CallGuard(None)
"""A guard that never stops work, for direct (non-gRPC) use."""
