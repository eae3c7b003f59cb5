"""A decoded completion and the reason it stopped."""

from dataclasses import dataclass
from enum import IntEnum


class StopReason(IntEnum):
    """Reason a completion ended; values match `nvarc.sidecar.v1.StopReason`."""

    EOS = 1
    MAX_TOKENS = 2
    TIME_LIMIT = 3


@dataclass(frozen=True)
class Completion:
    """Generated token ids with their log-probabilities; nll = -sum(token_logprobs) in nats."""

    token_ids: tuple[int, ...]
    token_logprobs: tuple[float, ...]
    nll: float
    stop_reason: StopReason
    greedy: bool


def greedy_completion(tokens: list[tuple[int, float]], stop_reason: StopReason) -> Completion:
    """Build a greedy completion from (token id, log-probability) pairs."""
    return Completion(
        token_ids=tuple(token_id for token_id, _ in tokens),
        token_logprobs=tuple(logprob for _, logprob in tokens),
        nll=-sum(logprob for _, logprob in tokens),
        stop_reason=stop_reason,
        greedy=True,
    )
