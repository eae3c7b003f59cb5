"""Validated settings of one SFT run, with the defaults the proto names for zero values."""

import math
import re
from dataclasses import asdict, dataclass

from nvarc_sidecar.errors import InvalidArgumentError

DEFAULT_BETA1 = 0.9
DEFAULT_BETA2 = 0.98
DEFAULT_EPS = 1e-8

_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class TrainSettings:
    """Optimizer, schedule, batching and checkpoint settings with defaults applied.

    `epochs` 0 means "as many as `max_steps` needs"; `max_steps` 0 means "the steps of
    `epochs`". At least one of the two is positive after `resolve_settings`.
    """

    learning_rate: float
    warmup_steps: int
    min_learning_rate: float
    weight_decay: float
    beta1: float
    beta2: float
    eps: float
    max_grad_norm: float  # 0 disables clipping
    micro_batch_sequences: int
    gradient_accumulation_steps: int
    max_steps: int
    epochs: int
    seed: int
    checkpoint_every_steps: int  # 0: no checkpoint before the final model
    keep_checkpoints: int  # 0: keep all
    dtype: str  # empty: float32 on the CPU, bfloat16 on a GPU
    torch_threads: int  # 0 keeps the sidecar's setting

    @property
    def sequences_per_step(self) -> int:
        """Packed sequences consumed by one optimizer step."""
        return self.micro_batch_sequences * self.gradient_accumulation_steps

    def resume_relevant(self) -> dict:
        """Fields a resumed run must share with its checkpoint: they fix the data order, schedule and weights."""
        fields = asdict(self)
        for name in ("checkpoint_every_steps", "keep_checkpoints", "torch_threads"):
            fields.pop(name)
        return fields


def resolve_settings(hyperparameters) -> TrainSettings:
    """Apply the zero-value defaults of a `TrainHyperparameters` message and validate the result.

    Raises:
        InvalidArgumentError: naming the first invalid `hyperparameters.<field>`.
    """
    h = hyperparameters
    max_steps, epochs = h.max_steps, h.epochs
    if max_steps == 0 and epochs == 0:
        epochs = 1
    settings = TrainSettings(
        learning_rate=h.learning_rate, warmup_steps=h.warmup_steps, min_learning_rate=h.min_learning_rate,
        weight_decay=h.weight_decay, beta1=h.beta1 or DEFAULT_BETA1, beta2=h.beta2 or DEFAULT_BETA2,
        eps=h.eps or DEFAULT_EPS, max_grad_norm=h.max_grad_norm,
        micro_batch_sequences=h.micro_batch_sequences or 1,
        gradient_accumulation_steps=h.gradient_accumulation_steps or 1,
        max_steps=max_steps, epochs=epochs, seed=h.seed, checkpoint_every_steps=h.checkpoint_every_steps,
        keep_checkpoints=h.keep_checkpoints, dtype=h.dtype, torch_threads=h.torch_threads,
    )
    _validate(settings)
    return settings


def _validate(s: TrainSettings) -> None:
    def finite(value: float) -> bool:
        return math.isfinite(value)

    checks = [
        (finite(s.learning_rate) and s.learning_rate > 0, "learning_rate", "use a positive number such as 1e-4"),
        (finite(s.min_learning_rate) and 0 <= s.min_learning_rate <= s.learning_rate, "min_learning_rate",
         "use a value in 0..learning_rate"),
        (s.warmup_steps >= 0, "warmup_steps", "use 0 or more"),
        (finite(s.weight_decay) and s.weight_decay >= 0, "weight_decay", "use 0 or a positive number"),
        (0 <= s.beta1 < 1, "beta1", "use a value in [0, 1), or 0 for 0.9"),
        (0 <= s.beta2 < 1, "beta2", "use a value in [0, 1), or 0 for 0.98"),
        (finite(s.eps) and s.eps > 0, "eps", "use a positive number, or 0 for 1e-8"),
        (finite(s.max_grad_norm) and s.max_grad_norm >= 0, "max_grad_norm", "use 0 (no clipping) or a positive number"),
        (s.micro_batch_sequences >= 1, "micro_batch_sequences", "use 1 or more (0 means 1)"),
        (s.gradient_accumulation_steps >= 1, "gradient_accumulation_steps", "use 1 or more (0 means 1)"),
        (s.max_steps >= 0, "max_steps", "use 0 (the steps of epochs) or more"),
        (s.epochs >= 0, "epochs", "use 0 or more"),
        (s.checkpoint_every_steps >= 0, "checkpoint_every_steps", "use 0 (none) or more"),
        (s.keep_checkpoints >= 0, "keep_checkpoints", "use 0 (keep all) or more"),
        (s.torch_threads >= 0, "torch_threads", "use 0 or more"),
    ]
    for valid, field, fix in checks:
        if not valid:
            raise InvalidArgumentError(f"hyperparameters.{field}={getattr(s, field)} is invalid; {fix}")


def validate_run_id(run_id: str) -> None:
    """Reject run ids that are empty or could leave `output_dir` (path separators, `..`)."""
    if not _RUN_ID_PATTERN.fullmatch(run_id):
        raise InvalidArgumentError(
            f"run_id={run_id!r} is invalid; use 1..128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
