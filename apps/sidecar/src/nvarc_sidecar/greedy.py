"""Greedy decoding: the most likely allowed token at every step, for rows the search left empty."""

import time
from dataclasses import dataclass
from enum import IntEnum

import torch

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.dfs import DfsSettings
from nvarc_sidecar.kv_batch import KvBatch
from nvarc_sidecar.tokens import PAD_TOKEN_ID


class StopReason(IntEnum):
    """Why a completion ended; values match `nvarc.sidecar.v1.StopReason`."""

    EOS = 1
    MAX_TOKENS = 2
    TIME_LIMIT = 3


@dataclass
class GreedyCompletion:
    """A greedy completion of one row; nll is the sum of -log p of its tokens (nats)."""

    token_ids: list[int]
    token_logprobs: list[float]
    stop_reason: StopReason | None = None

    @property
    def nll(self) -> float:
        """Negative log-likelihood of the tokens so far (nats)."""
        return -sum(self.token_logprobs)


def decode_greedy(
    batch: KvBatch,
    root_logprobs: torch.Tensor,
    rows: list[int],
    settings: DfsSettings,
    guard: CallGuard,
    stop_at_s: float | None,
) -> dict[int, GreedyCompletion]:
    """Decode `rows` of `batch` greedily over the allowed tokens; `root_logprobs` [n, V] come from the prefill.

    A row stops at the end token (EOS), after `max_new_tokens` tokens (MAX_TOKENS), or
    when `stop_at_s` (time.monotonic) passes (TIME_LIMIT, the tokens so far). Rows not
    listed are fed the pad token and ignored.
    """
    allowed = torch.tensor(settings.allowed_token_ids, dtype=torch.long, device=root_logprobs.device)  # [A]
    completions = {row: GreedyCompletion(token_ids=[], token_logprobs=[]) for row in rows}
    logprobs = root_logprobs  # [n, V]
    position = batch.prompt_length
    for step in range(settings.max_new_tokens):
        _append_best(completions, logprobs, allowed, settings.eos_token_id)
        active = [row for row, completion in completions.items() if completion.stop_reason is None]
        if not active:
            break
        if step == settings.max_new_tokens - 1:
            _stop(completions, active, StopReason.MAX_TOKENS)
            break
        guard.check()
        if stop_at_s is not None and time.monotonic() >= stop_at_s:
            _stop(completions, active, StopReason.TIME_LIMIT)
            break
        tokens = [PAD_TOKEN_ID] * batch.rows
        for row in active:
            tokens[row] = completions[row].token_ids[-1]
        logprobs = batch.step(tokens, position)  # [n, V]
        position += 1
    return completions


def _append_best(
    completions: dict[int, GreedyCompletion], logprobs: torch.Tensor, allowed: torch.Tensor, eos_token_id: int
) -> None:
    allowed_logprobs = logprobs[:, allowed]  # [n, A]
    best_logprobs, best_indices = allowed_logprobs.max(dim=-1)  # [n], [n]; ties pick the first allowed id
    best_tokens = allowed[best_indices].tolist()
    best_values = best_logprobs.tolist()
    for row, completion in completions.items():
        if completion.stop_reason is not None:
            continue
        completion.token_ids.append(best_tokens[row])
        completion.token_logprobs.append(best_values[row])
        if best_tokens[row] == eos_token_id:
            completion.stop_reason = StopReason.EOS


def _stop(completions: dict[int, GreedyCompletion], rows: list[int], reason: StopReason) -> None:
    for row in rows:
        completions[row].stop_reason = reason
