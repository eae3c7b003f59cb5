"""The SFT loop: full fine-tuning with AdamW on packed sequences, checkpoints and exact resume.

The loss of an optimizer step is the mean negative log-likelihood (nats, float32) over
all target tokens of the step's micro-batches. Each micro-batch contributes its summed
target NLL divided by the step's total target count, so gradient accumulation gives the
same gradient as one large batch. With several data-parallel ranks (data_parallel.py),
each rank trains its share of a step's sequences, gradients are summed over ranks, and
rank 0 alone writes checkpoints and the final model.
"""

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedModel

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.create_model import MODEL_METADATA_FILE
from nvarc_sidecar.errors import FailedPreconditionError, InternalError, InvalidArgumentError
from nvarc_sidecar.sft import checkpoints
from nvarc_sidecar.sft.artifact import DatasetArtifact, PackedSequence, open_artifact
from nvarc_sidecar.sft.data_order import iterate_steps, steps_per_epoch
from nvarc_sidecar.sft.data_parallel import SINGLE_PROCESS, SingleProcess
from nvarc_sidecar.sft.model_loading import load_trainable_model, resolve_dtype
from nvarc_sidecar.sft.packing import MicroBatch, collate, count_targets, split_segments
from nvarc_sidecar.sft.schedule import learning_rate_at
from nvarc_sidecar.sft.settings import TrainSettings
from nvarc_sidecar.ttft import torch_threads


@dataclass(frozen=True)
class TrainJob:
    """One Train request with resolved paths and settings."""

    run_id: str
    base_model_path: Path
    dataset_path: Path
    output_dir: Path
    settings: TrainSettings
    resume: bool
    progress_every_steps: int  # at least 1

    @property
    def run_dir(self) -> Path:
        """Directory of the run's checkpoints and final model."""
        return self.output_dir / self.run_id


@dataclass(frozen=True)
class TrainProgress:
    """One streamed update; see TrainUpdate in the proto for units."""

    step: int
    total_steps: int
    loss: float
    learning_rate: float
    tokens_seen: int
    resumed_from_step: int
    checkpoint_path: str = ""
    done: bool = False
    final_model_path: str = ""


@dataclass
class _Session:
    """Mutable state of a run in progress."""

    job: TrainJob
    artifact: DatasetArtifact
    model: PreTrainedModel
    optimizer: torch.optim.Optimizer
    total_steps: int
    max_seq_len: int
    parallel: SingleProcess
    step: int = 0
    tokens_seen: int = 0
    resumed_from_step: int = 0
    learning_rate: float = 0.0
    window_losses: list[float] = field(default_factory=list)


def train(job: TrainJob, guard: CallGuard, parallel: SingleProcess = SINGLE_PROCESS) -> Iterator[TrainProgress]:
    """Run or resume the SFT run `job` and yield progress, then one final update naming the final model.

    The caller holds the model lock while iterating. Cancellation is checked between
    optimizer steps; checkpoints written so far stay on disk. With a `parallel` process
    group, every rank calls this with the same job; all ranks yield the same progress,
    and only rank 0 writes to the run directory.

    Raises:
        InvalidArgumentError: the dataset or a setting is invalid.
        NotFoundError: the base model or the dataset does not exist.
        FailedPreconditionError: the run directory has results but `resume` is off, or
            its checkpoint was made with other settings, another dataset or another base model.
        InternalError: the loss became non-finite.
    """
    artifact = open_artifact(job.dataset_path)
    if parallel.is_writer:
        checkpoints.remove_staging_dirs(job.run_dir)
    finished = _finished_run(job, artifact)
    if finished is not None:
        yield finished
        return
    session = _start_session(job, artifact, parallel)
    with torch_threads(job.settings.torch_threads):
        yield from _run_steps(session, guard)


def _finished_run(job: TrainJob, artifact: DatasetArtifact) -> TrainProgress | None:
    """Return the final update of a run that already wrote its final model, when resuming it."""
    steps = checkpoints.checkpoint_steps(job.run_dir)
    final_dir = job.run_dir / checkpoints.FINAL_DIR_NAME
    has_final = (final_dir / MODEL_METADATA_FILE).is_file()
    if not job.resume and (steps or has_final):
        raise FailedPreconditionError(
            f"run directory {job.run_dir} already contains checkpoints or a final model; set resume to continue "
            "the run, or choose another run_id"
        )
    if not has_final:
        return None
    state = json.loads((final_dir / MODEL_METADATA_FILE).read_text(encoding="utf-8"))["training"]
    _check_compatible(job, artifact, state, final_dir)
    return TrainProgress(step=state["step"], total_steps=state["total_steps"], loss=0.0, learning_rate=0.0,
                         tokens_seen=state["tokens_seen"], resumed_from_step=state["step"], done=True,
                         final_model_path=str(final_dir))


def _start_session(job: TrainJob, artifact: DatasetArtifact, parallel: SingleProcess) -> _Session:
    """Load the model (from the newest checkpoint when resuming) and the optimizer, restoring their state."""
    steps = checkpoints.checkpoint_steps(job.run_dir)
    checkpoint = checkpoints.checkpoint_dir(job.run_dir, steps[-1]) if steps else None
    if checkpoint is None:
        # Nothing in the model is random during training (no dropout); seeding still
        # fixes any random op a future model may add.
        torch.manual_seed(job.settings.seed)
    device = parallel.device()
    model = load_trainable_model(checkpoint or job.base_model_path, resolve_dtype(job.settings.dtype, device), device)
    s = job.settings
    # NOTE: in bfloat16 the AdamW state and updates stay in bfloat16 too (no float32 master
    # weights), so small updates can round away; only float32 runs are tested.
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.learning_rate, betas=(s.beta1, s.beta2), eps=s.eps,
                                  weight_decay=s.weight_decay)
    session = _Session(job=job, artifact=artifact, model=model, optimizer=optimizer,
                       total_steps=_total_steps(artifact, s), max_seq_len=int(model.config.max_position_embeddings),
                       parallel=parallel)
    if checkpoint is not None:
        _restore(session, checkpoint)
    parallel.sync_parameters(model)
    return session


def _total_steps(artifact: DatasetArtifact, settings: TrainSettings) -> int:
    per_epoch = steps_per_epoch(artifact, settings.sequences_per_step)
    if per_epoch == 0:
        raise InvalidArgumentError(
            f"dataset {artifact.path} has {artifact.sequence_count} sequences, fewer than the "
            f"{settings.sequences_per_step} one optimizer step needs; lower micro_batch_sequences or "
            "gradient_accumulation_steps"
        )
    if settings.epochs == 0:
        return settings.max_steps
    by_epochs = settings.epochs * per_epoch
    return min(by_epochs, settings.max_steps) if settings.max_steps > 0 else by_epochs


def _restore(session: _Session, checkpoint: Path) -> None:
    state = checkpoints.read_trainer_state(checkpoint)
    _check_compatible(session.job, session.artifact, state, checkpoint)
    checkpoints.restore_optimizer_and_rng(checkpoint, session.optimizer)
    session.step = session.resumed_from_step = state["step"]
    session.tokens_seen = state["tokens_seen"]


def _check_compatible(job: TrainJob, artifact: DatasetArtifact, state: dict, source: Path) -> None:
    """Raise FAILED_PRECONDITION when `source` was trained with another dataset, base model or settings."""
    expected = {
        "dataset_content_hash": artifact.content_hash,
        "base_model_path": str(job.base_model_path),
        **{f"hyperparameters.{name}": value for name, value in job.settings.resume_relevant().items()},
    }
    recorded = {"dataset_content_hash": state.get("dataset_content_hash"), "base_model_path": state.get("base_model_path"),
                **{f"hyperparameters.{name}": value for name, value in state.get("settings", {}).items()}}
    for name, value in expected.items():
        if recorded.get(name) != value:
            raise FailedPreconditionError(
                f"{source} was trained with {name}={recorded.get(name)!r}, but this request has {value!r}; "
                "resume with the original request, or choose another run_id"
            )


def _run_steps(session: _Session, guard: CallGuard) -> Iterator[TrainProgress]:
    job, settings = session.job, session.job.settings
    batches = iterate_steps(session.artifact, settings.seed, settings.sequences_per_step, session.step,
                            session.max_seq_len)
    while session.step < session.total_steps:
        guard.check()
        sequences = next(batches)
        session.learning_rate = learning_rate_at(session.step, settings, session.total_steps)
        session.window_losses.append(_optimizer_step(session, sequences))
        session.step += 1
        if session.step == session.total_steps:
            break
        checkpoint_path = _maybe_checkpoint(session) if session.parallel.is_writer else ""
        if checkpoint_path or session.step % job.progress_every_steps == 0:
            yield _progress(session, checkpoint_path=checkpoint_path)
    final_dir = job.run_dir / checkpoints.FINAL_DIR_NAME
    if session.parallel.is_writer:
        checkpoints.write_atomically(
            final_dir, lambda staging: checkpoints.save_model(staging, session.model, _model_metadata(session)),
        )
    yield _progress(session, done=True, final_model_path=str(final_dir))


def _optimizer_step(session: _Session, sequences: list[PackedSequence]) -> float:
    """Run one optimizer step over `sequences` (this rank's share) and return its mean target NLL (nats)."""
    settings, model, optimizer, parallel = session.job.settings, session.model, session.optimizer, session.parallel
    for group in optimizer.param_groups:
        group["lr"] = session.learning_rate
    # The count over the whole step, on every rank, so the ranks' gradients sum to the step's gradient.
    target_count = count_targets(sequences)
    optimizer.zero_grad(set_to_none=True)
    nll_total, tokens = 0.0, 0
    device, dtype = model.device, model.dtype
    for batch in _micro_batches(parallel.share(sequences), settings.micro_batch_sequences, dtype, device):
        nll_sum = _target_nll_sum(model, batch)
        if target_count > 0:
            (nll_sum / target_count).backward()
        nll_total += nll_sum.item()
        tokens += batch.token_count
    if target_count > 0:
        parallel.reduce_gradients(model)
    nll_total, tokens = parallel.reduce_totals(nll_total, tokens)
    session.tokens_seen += tokens
    if settings.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
    # A step without targets leaves every gradient unset, and AdamW skips such parameters.
    optimizer.step()
    loss = nll_total / target_count if target_count > 0 else 0.0
    if not math.isfinite(loss):
        raise InternalError(f"run {session.job.run_id}: loss became {loss} at step {session.step + 1}; "
                            "lower hyperparameters.learning_rate")
    return loss


def _micro_batches(sequences: list[PackedSequence], micro_batch_sequences: int, dtype: torch.dtype,
                   device: torch.device) -> Iterator[MicroBatch]:
    """Yield the forward passes of one step: packed rows with a 4-D mask on a GPU, single segments on the CPU."""
    if device.type == "cpu":
        for sequence in sequences:
            yield from split_segments(sequence, device)
        return
    for start in range(0, len(sequences), micro_batch_sequences):
        yield collate(sequences[start:start + micro_batch_sequences], dtype, device)


def _target_nll_sum(model: PreTrainedModel, batch: MicroBatch) -> torch.Tensor:
    """Return the summed NLL (float32 scalar) of the batch's target tokens."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids if batch.attention_mask is not None else None,
                   use_cache=False).logits[:, :-1]  # [B, L-1, V]
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # [B, L-1, V]
    token_nll = -logprobs.gather(-1, batch.input_ids[:, 1:, None]).squeeze(-1)  # [B, L-1]
    return token_nll[batch.target_mask].sum()


def _maybe_checkpoint(session: _Session) -> str:
    """Write a checkpoint when the step is a multiple of checkpoint_every_steps; return its path or ''."""
    every = session.job.settings.checkpoint_every_steps
    if every == 0 or session.step % every != 0:
        return ""

    def fill(staging: Path) -> None:
        checkpoints.save_model(staging, session.model, _model_metadata(session))
        checkpoints.save_trainer_state(staging, _trainer_state(session), session.optimizer)

    run_dir = session.job.run_dir
    path = checkpoints.write_atomically(checkpoints.checkpoint_dir(run_dir, session.step), fill)
    checkpoints.prune_checkpoints(run_dir, session.job.settings.keep_checkpoints)
    return str(path)


def _trainer_state(session: _Session) -> dict:
    settings = session.job.settings
    per_epoch = steps_per_epoch(session.artifact, settings.sequences_per_step)
    epoch, step_in_epoch = divmod(session.step, per_epoch)
    return {
        "step": session.step,
        "total_steps": session.total_steps,
        "tokens_seen": session.tokens_seen,
        "learning_rate": session.learning_rate,
        "run_id": session.job.run_id,
        "dataset_content_hash": session.artifact.content_hash,
        "base_model_path": str(session.job.base_model_path),
        "settings": settings.resume_relevant(),
        # The data order is a function of the seed and the step; these fields are for readers.
        "data_position": {"epoch": epoch, "sequence_offset": step_in_epoch * settings.sequences_per_step},
    }


def _model_metadata(session: _Session) -> dict:
    return {
        "trained": True,
        "step": session.step,
        "dataset_content_hash": session.artifact.content_hash,
        "dataset_path": str(session.artifact.path),
        "base_model_path": str(session.job.base_model_path),
        "base_model": _base_model_metadata(session.job.base_model_path),
        "created_by": "nvarc_sidecar.sft",
        "training": _trainer_state(session),
    }


def _base_model_metadata(base_model_path: Path) -> dict | None:
    path = base_model_path / MODEL_METADATA_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _progress(session: _Session, **extra) -> TrainProgress:
    losses = session.window_losses
    loss = sum(losses) / len(losses) if losses else 0.0
    session.window_losses = []
    return TrainProgress(step=session.step, total_steps=session.total_steps, loss=loss,
                         learning_rate=session.learning_rate, tokens_seen=session.tokens_seen,
                         resumed_from_step=session.resumed_from_step, **extra)
