"""Greedy decoding: the most likely allowed token at every step, for rows the search left empty."""

import time

import torch

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.completion import Completion, StopReason, greedy_completion
from nvarc_sidecar.dfs import DfsSettings
from nvarc_sidecar.kv_batch import KvBatch
from nvarc_sidecar.tokens import PAD_TOKEN_ID


def decode_greedy(
    batch: KvBatch,
    root_logprobs: torch.Tensor,
    rows: list[int],
    settings: DfsSettings,
    guard: CallGuard,
    stop_at_s: float | None,
) -> dict[int, Completion]:
    """Decode `rows` of `batch` greedily over the allowed tokens; `root_logprobs` [n, V] come from the prefill.

    A row stops at the end token (EOS), after `max_new_tokens` tokens (MAX_TOKENS), or
    when `stop_at_s` (time.monotonic) passes (TIME_LIMIT, keeping the tokens so far).
    Rows not listed are fed the pad token and ignored.
    """
    allowed = torch.tensor(settings.allowed_token_ids, dtype=torch.long, device=root_logprobs.device)  # [A]
    tokens: dict[int, list[tuple[int, float]]] = {row: [] for row in rows}
    finished: dict[int, Completion] = {}
    logprobs = root_logprobs  # [n, V]
    position = batch.prompt_length
    for step in range(settings.max_new_tokens):
        best = _best_allowed(logprobs, allowed)
        for row in [row for row in tokens if row not in finished]:
            tokens[row].append(best[row])
            if best[row][0] == settings.eos_token_id:
                finished[row] = greedy_completion(tokens[row], StopReason.EOS)
        active = [row for row in tokens if row not in finished]
        if not active:
            break
        stop_reason = _stop_reason(step, settings.max_new_tokens, guard, stop_at_s)
        if stop_reason is not None:
            finished.update({row: greedy_completion(tokens[row], stop_reason) for row in active})
            break
        fed = [PAD_TOKEN_ID] * batch.rows
        for row in active:
            fed[row] = tokens[row][-1][0]
        logprobs = batch.step(fed, position)  # [n, V]
        position += 1
    return finished


def _best_allowed(logprobs: torch.Tensor, allowed: torch.Tensor) -> list[tuple[int, float]]:
    """Return (token id, log-probability) of each row's most likely allowed token; ties pick the first allowed id."""
    best_logprobs, best_indices = logprobs[:, allowed].max(dim=-1)  # [n], [n]
    return list(zip(allowed[best_indices].tolist(), best_logprobs.tolist()))


def _stop_reason(step: int, max_new_tokens: int, guard: CallGuard, stop_at_s: float | None) -> StopReason | None:
    if step == max_new_tokens - 1:
        return StopReason.MAX_TOKENS
    guard.check()
    if stop_at_s is not None and time.monotonic() >= stop_at_s:
        return StopReason.TIME_LIMIT
    return None
