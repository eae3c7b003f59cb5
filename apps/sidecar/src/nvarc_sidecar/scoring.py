"""Score: teacher-forced negative log-likelihood of completions given prompts."""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.errors import InvalidArgumentError
from nvarc_sidecar.tokens import PAD_TOKEN_ID
from nvarc_sidecar.validation import check_fits, check_not_empty, check_token_ids


@dataclass(frozen=True)
class ScoreItem:
    """A prompt and a completion to score; the completion usually ends with the end token."""

    prompt_token_ids: Sequence[int]
    completion_token_ids: Sequence[int]


def validate_items(items: Sequence[ScoreItem], batch_size: int, max_seq_len: int) -> None:
    """Raise InvalidArgumentError naming `items[i]`, the bad value and the fix."""
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size={batch_size} is invalid; use at least 1")
    if not items:
        raise InvalidArgumentError("items is empty; give at least one item to score")
    for index, item in enumerate(items):
        for field, token_ids in (("prompt_token_ids", item.prompt_token_ids),
                                 ("completion_token_ids", item.completion_token_ids)):
            check_not_empty(token_ids, f"items[{index}].{field}")
            check_token_ids(token_ids, f"items[{index}].{field}")
        check_fits(len(item.prompt_token_ids) + len(item.completion_token_ids), max_seq_len, f"items[{index}]",
                   "drop demonstration pairs from the prompt")


def score_items(
    model: torch.nn.Module,
    device: torch.device,
    items: Sequence[ScoreItem],
    batch_size: int,
    guard: CallGuard,
) -> list[float]:
    """Return each item's completion NLL in nats (sum over its tokens), in item order.

    Items are scored `batch_size` at a time, right-padded with the pad token under an
    attention mask; log-softmax runs in float32 and sums accumulate in float64.
    """
    scores: list[float] = []
    for start in range(0, len(items), batch_size):
        guard.check()
        scores.extend(_score_batch(model, device, items[start:start + batch_size]))
    return scores


@torch.inference_mode()
def _score_batch(model: torch.nn.Module, device: torch.device, items: Sequence[ScoreItem]) -> list[float]:
    sequences = [list(item.prompt_token_ids) + list(item.completion_token_ids) for item in items]
    width = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(items), width), PAD_TOKEN_ID, dtype=torch.long)  # [b, L]
    attention_mask = torch.zeros((len(items), width), dtype=torch.long)  # [b, L]
    completion_mask = torch.zeros((len(items), width - 1), dtype=torch.bool)  # [b, L-1], over predicted tokens
    for row, (item, sequence) in enumerate(zip(items, sequences)):
        input_ids[row, :len(sequence)] = torch.tensor(sequence)
        attention_mask[row, :len(sequence)] = 1
        # Logits at position j predict token j+1, so completion tokens p..p+c-1 are read at p-1..p+c-2.
        prompt_length = len(item.prompt_token_ids)
        completion_mask[row, prompt_length - 1:len(sequence) - 1] = True
    input_ids, attention_mask, completion_mask = input_ids.to(device), attention_mask.to(device), completion_mask.to(device)

    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1]  # [b, L-1, V]
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # [b, L-1, V] float32
    token_logprobs = logprobs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [b, L-1]
    token_nll = torch.where(completion_mask, -token_logprobs.double(), 0.0)  # [b, L-1] float64, 0 outside completions
    return token_nll.sum(dim=-1).tolist()
