"""Decode: group prompts into equal-length batches, run DFS, and fall back to greedy decoding.

Time limit: `max_seconds_per_prompt` bounds the work on each batch (its rows share the
forward passes, so a batch's time is each of its prompts' time), starting at its
prefill. When it passes during the search, rows keep the completions found so far. A row
that found none gets the tokens of its most likely path explored so far, as a greedy
completion with stop reason TIME_LIMIT. A greedy fallback that runs out of time stops
the same way. TIME_LIMIT completions are partial: they never end with the end token and
may be empty.
"""

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.completion import Completion, StopReason, greedy_completion
from nvarc_sidecar.dfs import DfsSettings, FoundSequence, run_dfs
from nvarc_sidecar.errors import InvalidArgumentError
from nvarc_sidecar.greedy import decode_greedy
from nvarc_sidecar.kv_batch import KvBatch
from nvarc_sidecar.validation import check_fits, check_not_empty, check_token_ids


@dataclass(frozen=True)
class DecodeSettings:
    """Decode request settings; see `DecodeRequest` in sidecar.proto for each field's meaning."""

    allowed_token_ids: tuple[int, ...]
    eos_token_id: int
    min_probability: float
    max_new_tokens: int
    batch_size: int
    max_seconds_per_prompt: float  # 0 means no limit beyond the call deadline

    def dfs_settings(self) -> DfsSettings:
        """Return the search settings, with the threshold as tau = -ln(min_probability)."""
        return DfsSettings(
            allowed_token_ids=self.allowed_token_ids,
            eos_token_id=self.eos_token_id,
            max_nll=-math.log(self.min_probability),
            max_new_tokens=self.max_new_tokens,
        )


@dataclass(frozen=True)
class PromptResult:
    """Completions of one prompt, lowest NLL first, and the forward passes its batch used."""

    prompt_index: int
    completions: list[Completion]
    forward_steps: int


def decode_prompts(
    model: torch.nn.Module,
    device: torch.device,
    prompts: Sequence[Sequence[int]],
    settings: DecodeSettings,
    guard: CallGuard,
) -> Iterator[PromptResult]:
    """Yield one PromptResult per prompt, batch by batch. The caller validated the request and holds the model lock."""
    for indices in plan_batches(prompts, settings.batch_size):
        guard.check()
        yield from _decode_batch(model, device, prompts, indices, settings, guard)


def plan_batches(prompts: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """Group prompt indices by token length, in order of first appearance, in chunks of at most `batch_size`."""
    by_length: dict[int, list[int]] = {}
    for index, prompt in enumerate(prompts):
        by_length.setdefault(len(prompt), []).append(index)
    return [
        indices[start:start + batch_size]
        for indices in by_length.values()
        for start in range(0, len(indices), batch_size)
    ]


def _decode_batch(
    model: torch.nn.Module,
    device: torch.device,
    prompts: Sequence[Sequence[int]],
    indices: list[int],
    settings: DecodeSettings,
    guard: CallGuard,
) -> list[PromptResult]:
    stop_at_s = time.monotonic() + settings.max_seconds_per_prompt if settings.max_seconds_per_prompt > 0 else None
    dfs_settings = settings.dfs_settings()
    batch = KvBatch(model, [list(prompts[index]) for index in indices], device)
    root_logprobs = batch.prefill()  # [n, V]
    outcome = run_dfs(batch, root_logprobs, dfs_settings, guard, stop_at_s)

    empty_rows = [row for row, row_outcome in enumerate(outcome.rows) if not row_outcome.found]
    if outcome.timed_out:
        fallback = {row: greedy_completion(outcome.rows[row].greedy_prefix, StopReason.TIME_LIMIT) for row in empty_rows}
    elif empty_rows:
        fallback = decode_greedy(batch, root_logprobs, empty_rows, dfs_settings, guard, stop_at_s)
    else:
        fallback = {}

    results = []
    for row, index in enumerate(indices):
        found = sorted(outcome.rows[row].found, key=lambda sequence: (sequence.nll, sequence.token_ids))
        completions = [_from_found(sequence) for sequence in found] or [fallback[row]]
        results.append(PromptResult(prompt_index=index, completions=completions, forward_steps=batch.forward_steps))
    return results


def _from_found(sequence: FoundSequence) -> Completion:
    return Completion(
        token_ids=sequence.token_ids,
        token_logprobs=sequence.token_logprobs,
        nll=sequence.nll,
        stop_reason=StopReason.EOS,
        greedy=False,
    )


def validate_decode(prompts: Sequence[Sequence[int]], settings: DecodeSettings, max_seq_len: int) -> None:
    """Raise InvalidArgumentError naming the first invalid field, its value and the fix."""
    _validate_settings(settings)
    if not prompts:
        raise InvalidArgumentError("prompts is empty; give at least one prompt")
    for index, prompt in enumerate(prompts):
        field = f"prompts[{index}].token_ids"
        check_not_empty(prompt, field)
        check_token_ids(prompt, field)
        check_fits(len(prompt) + settings.max_new_tokens, max_seq_len, f"prompts[{index}] plus max_new_tokens",
                   "drop demonstration pairs from the prompt or lower max_new_tokens")


def _validate_settings(settings: DecodeSettings) -> None:
    allowed = settings.allowed_token_ids
    check_not_empty(allowed, "allowed_token_ids")
    check_token_ids(allowed, "allowed_token_ids")
    if len(set(allowed)) != len(allowed):
        raise InvalidArgumentError(f"allowed_token_ids {list(allowed)} lists a token twice; list each id once")
    if settings.eos_token_id not in allowed:
        raise InvalidArgumentError(
            f"eos_token_id={settings.eos_token_id} is not in allowed_token_ids; add it so completions can end"
        )
    if not 0 < settings.min_probability < 1:
        raise InvalidArgumentError(
            f"min_probability={settings.min_probability} is invalid; use a value with 0 < p < 1, such as 0.2"
        )
    if settings.max_new_tokens < 1:
        raise InvalidArgumentError(f"max_new_tokens={settings.max_new_tokens} is invalid; use at least 1")
    if settings.batch_size < 1:
        raise InvalidArgumentError(f"batch_size={settings.batch_size} is invalid; use at least 1")
    if not (math.isfinite(settings.max_seconds_per_prompt) and settings.max_seconds_per_prompt >= 0):
        raise InvalidArgumentError(
            f"max_seconds_per_prompt={settings.max_seconds_per_prompt} is invalid; use 0 (no limit) or a positive number"
        )
