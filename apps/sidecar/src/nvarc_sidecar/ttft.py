"""Test-time fine-tuning: train a fresh LoRA adapter on token sequences with loss masks.

One optimizer step per sequence per epoch (batch 1), AdamW, linear warm-up then cosine
decay to 0 (transformers' get_cosine_schedule_with_warmup), optional gradient clipping.
The loss of a sequence is the mean negative log-likelihood (nats, float32) of the tokens
whose loss_mask is 1, each predicted from the tokens before it.
"""

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import get_cosine_schedule_with_warmup

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.errors import InternalError, InvalidArgumentError
from nvarc_sidecar.lora import LoraSettings, new_adapter_id, validate_lora_settings
from nvarc_sidecar.model_store import LoadedModel
from nvarc_sidecar.validation import check_fits, check_token_ids

DEFAULT_PROGRESS_EVERY_STEPS = 8


@dataclass(frozen=True)
class TrainingSequence:
    """Token ids and a 0/1 loss mask of the same length; 1 marks a training target."""

    token_ids: Sequence[int]
    loss_mask: Sequence[int]


@dataclass(frozen=True)
class OptimizerSettings:
    """AdamW and schedule settings; learning_rate is the peak, warmup_ratio a fraction of all steps."""

    learning_rate: float
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float  # 0 disables clipping
    epochs: int
    torch_threads: int  # 0 keeps the sidecar's setting
    progress_every_steps: int  # 0 means DEFAULT_PROGRESS_EVERY_STEPS


@dataclass(frozen=True)
class TtftUpdate:
    """Progress of a fine-tune; `done`, `adapter_id` and `trainable_parameters` are set on the last one only."""

    step: int
    total_steps: int
    loss: float
    done: bool = False
    adapter_id: str = ""
    trainable_parameters: int = 0


def fine_tune(
    loaded: LoadedModel,
    sequences: Sequence[TrainingSequence],
    lora: LoraSettings,
    optimizer_settings: OptimizerSettings,
    guard: CallGuard,
) -> Iterator[TtftUpdate]:
    """Train a new adapter and yield progress updates, then one final update naming it.

    The caller holds the model lock while iterating. When training fails, is
    cancelled, or the iterator is closed early, the adapter is deleted.

    Raises:
        InvalidArgumentError: a sequence or setting is invalid (nothing is trained).
        InternalError: the loss or the adapter weights became non-finite.
    """
    validate_optimizer_settings(optimizer_settings)
    validate_sequences(sequences, loaded.max_seq_len)
    validate_lora_settings(lora, loaded.adaptable_modules)

    adapter_id = new_adapter_id()
    model = loaded.adapters.create(adapter_id, lora)
    try:
        with torch_threads(optimizer_settings.torch_threads):
            yield from _train(loaded, model, adapter_id, sequences, optimizer_settings, lora.seed, guard)
    except BaseException:
        loaded.adapters.release(adapter_id)
        raise


def _train(
    loaded: LoadedModel,
    model: torch.nn.Module,
    adapter_id: str,
    sequences: Sequence[TrainingSequence],
    settings: OptimizerSettings,
    seed: int,
    guard: CallGuard,
) -> Iterator[TtftUpdate]:
    parameters = loaded.adapters.trainable_parameters(adapter_id)
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    total_steps = settings.epochs * len(sequences)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(settings.warmup_ratio * total_steps), total_steps)
    order_generator = torch.Generator().manual_seed(seed)
    progress_every = settings.progress_every_steps or DEFAULT_PROGRESS_EVERY_STEPS

    model.train()
    step = 0
    window_losses: list[float] = []
    try:
        for _epoch in range(settings.epochs):
            for index in torch.randperm(len(sequences), generator=order_generator).tolist():
                guard.check()
                loss = _optimizer_step(model, sequences[index], loaded.device, optimizer, parameters, settings)
                scheduler.step()
                step += 1
                if not math.isfinite(loss):
                    raise InternalError(
                        f"adapter {adapter_id}: loss became {loss} at step {step}; lower preset.learning_rate"
                    )
                window_losses.append(loss)
                if step % progress_every == 0 and step < total_steps:
                    yield TtftUpdate(step=step, total_steps=total_steps, loss=_mean(window_losses))
                    window_losses = []
    finally:
        model.eval()

    loaded.adapters.check_finite(adapter_id)
    yield TtftUpdate(
        step=step,
        total_steps=total_steps,
        loss=_mean(window_losses),
        done=True,
        adapter_id=adapter_id,
        trainable_parameters=sum(parameter.numel() for parameter in parameters),
    )


def _optimizer_step(
    model: torch.nn.Module,
    sequence: TrainingSequence,
    device: torch.device,
    optimizer: torch.optim.Optimizer,
    parameters: list[torch.nn.Parameter],
    settings: OptimizerSettings,
) -> float:
    input_ids = torch.tensor([list(sequence.token_ids)], dtype=torch.long, device=device)  # [1, L]
    target_mask = torch.tensor([list(sequence.loss_mask)[1:]], dtype=torch.bool, device=device)  # [1, L-1]

    logits = model(input_ids=input_ids, use_cache=False).logits[:, :-1]  # [1, L-1, V]
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # [1, L-1, V] float32
    token_nll = -logprobs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [1, L-1]
    loss = token_nll[target_mask].mean()  # mean over target tokens

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if settings.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
    optimizer.step()
    return loss.item()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the body with `count` torch intra-op threads (0 keeps the current setting), then restore it."""
    previous = torch.get_num_threads()
    if count > 0:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def validate_optimizer_settings(settings: OptimizerSettings) -> None:
    """Raise InvalidArgumentError naming the first out-of-range preset field."""
    checks = [
        (math.isfinite(settings.learning_rate) and settings.learning_rate > 0,
         f"preset.learning_rate={settings.learning_rate} is invalid; use a positive number such as 5e-5"),
        (0 <= settings.warmup_ratio <= 1, f"preset.warmup_ratio={settings.warmup_ratio} is invalid; use a fraction in 0..1"),
        (math.isfinite(settings.weight_decay) and settings.weight_decay >= 0,
         f"preset.weight_decay={settings.weight_decay} is invalid; use 0 or a positive number"),
        (math.isfinite(settings.max_grad_norm) and settings.max_grad_norm >= 0,
         f"preset.max_grad_norm={settings.max_grad_norm} is invalid; use 0 (no clipping) or a positive number"),
        (settings.epochs >= 1, f"preset.epochs={settings.epochs} is invalid; use at least 1"),
        (settings.torch_threads >= 0, f"preset.torch_threads={settings.torch_threads} is invalid; use 0 or more"),
        (settings.progress_every_steps >= 0,
         f"progress_every_steps={settings.progress_every_steps} is invalid; use 0 (default 8) or more"),
    ]
    for valid, message in checks:
        if not valid:
            raise InvalidArgumentError(message)


def validate_sequences(sequences: Sequence[TrainingSequence], max_seq_len: int) -> None:
    """Raise InvalidArgumentError naming `sequences[i]`, the bad value and the fix."""
    if not sequences:
        raise InvalidArgumentError("sequences is empty; give at least one training sequence")
    for index, sequence in enumerate(sequences):
        _validate_sequence(index, sequence, max_seq_len)


def _validate_sequence(index: int, sequence: TrainingSequence, max_seq_len: int) -> None:
    field = f"sequences[{index}]"
    ids, mask = sequence.token_ids, sequence.loss_mask
    if len(ids) == 0:
        raise InvalidArgumentError(f"{field}.token_ids is empty; give the token ids of one training dialog")
    if len(mask) != len(ids):
        raise InvalidArgumentError(
            f"{field} has {len(ids)} token_ids but {len(mask)} loss_mask entries; give one 0/1 mask entry per token"
        )
    check_fits(len(ids), max_seq_len, field, "drop demonstration pairs to shorten it")
    check_token_ids(ids, f"{field}.token_ids")
    for position, value in enumerate(mask):
        if value not in (0, 1):
            raise InvalidArgumentError(f"{field}.loss_mask[{position}]={value} is invalid; use 0 or 1")
    if mask[0] == 1:
        raise InvalidArgumentError(
            f"{field}.loss_mask[0]=1 is invalid: the first token has no preceding token to be predicted from; set it to 0"
        )
    if 1 not in mask:
        raise InvalidArgumentError(
            f"{field}.loss_mask has no 1; mark the assistant tokens (output grid and its end token) to train on"
        )
