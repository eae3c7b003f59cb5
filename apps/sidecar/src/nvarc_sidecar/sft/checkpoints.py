"""Checkpoint and final-model directories of an SFT run, written atomically.

Layout under `output_dir/run_id/`: `checkpoint-<step>/` (a Hugging Face model plus the
trainer state) and `final/` (the model only). Each directory is first written under a
hidden temporary name, its files are flushed to disk, and it is then renamed into
place. A directory that a crash interrupted keeps its hidden name, so it is never
taken for a checkpoint, and the next run of the same run_id deletes it.
"""

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import torch
import transformers
from transformers import PreTrainedModel

from nvarc_sidecar.create_model import MODEL_METADATA_FILE
from nvarc_sidecar.tokens import write_token_table

FINAL_DIR_NAME = "final"
TRAINER_STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
RNG_STATE_FILE = "rng_state.pt"
_CHECKPOINT_PATTERN = re.compile(r"checkpoint-(\d+)")
_STAGING_PREFIX = ".staging-"


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Return the steps of the complete checkpoints in `run_dir`, oldest first."""
    if not run_dir.is_dir():
        return []
    steps = []
    for path in run_dir.iterdir():
        match = _CHECKPOINT_PATTERN.fullmatch(path.name)
        if match and (path / TRAINER_STATE_FILE).is_file():
            steps.append(int(match.group(1)))
    return sorted(steps)


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """Return the directory of the checkpoint written after optimizer step `step`."""
    return run_dir / f"checkpoint-{step}"


def remove_staging_dirs(run_dir: Path) -> None:
    """Delete directories that an interrupted write left behind."""
    if run_dir.is_dir():
        for path in run_dir.iterdir():
            if path.name.startswith(_STAGING_PREFIX):
                shutil.rmtree(path, ignore_errors=True)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints; `keep` 0 keeps all."""
    if keep <= 0:
        return
    for step in checkpoint_steps(run_dir)[:-keep]:
        shutil.rmtree(checkpoint_dir(run_dir, step), ignore_errors=True)


def write_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create `target` by calling `fill` on an empty staging directory, flushing it and renaming it.

    An existing `target` is replaced only after the new one is complete.
    """
    staging = target.parent / f"{_STAGING_PREFIX}{target.name}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        fill(staging)
        _fsync_tree(staging)
        if target.exists():
            retired = target.parent / f"{_STAGING_PREFIX}{target.name}-old-{uuid.uuid4().hex}"
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)
        _fsync_dir(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def save_model(model_dir: Path, model: PreTrainedModel, metadata: dict) -> None:
    """Write safetensors weights, config, the 16-token table and `nvarc_model.json` into `model_dir`."""
    model.save_pretrained(model_dir, safe_serialization=True)
    write_token_table(model_dir)
    document = dict(metadata, torch_version=torch.__version__, transformers_version=transformers.__version__)
    (model_dir / MODEL_METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def save_trainer_state(checkpoint: Path, state: dict, optimizer: torch.optim.Optimizer) -> None:
    """Write the optimizer state, the RNG states and, last, `trainer_state.json` (the completeness marker)."""
    torch.save(optimizer.state_dict(), checkpoint / OPTIMIZER_FILE)
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, checkpoint / RNG_STATE_FILE)
    (checkpoint / TRAINER_STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def read_trainer_state(checkpoint: Path) -> dict:
    """Return the parsed `trainer_state.json` of a checkpoint."""
    return json.loads((checkpoint / TRAINER_STATE_FILE).read_text(encoding="utf-8"))


def restore_optimizer_and_rng(checkpoint: Path, optimizer: torch.optim.Optimizer) -> None:
    """Load the optimizer state and the torch RNG states saved by `save_trainer_state`."""
    device = next(iter(optimizer.param_groups[0]["params"])).device
    optimizer.load_state_dict(torch.load(checkpoint / OPTIMIZER_FILE, map_location=device, weights_only=True))
    rng = torch.load(checkpoint / RNG_STATE_FILE, weights_only=True)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _fsync_tree(root: Path) -> None:
    # The safetensors writer creates files readable by the owner only; other services read models too.
    root.chmod(0o755)
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            with path.open("rb") as file:
                os.fsync(file.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
