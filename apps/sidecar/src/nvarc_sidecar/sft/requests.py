"""Conversion of a TrainRequest message into a validated TrainJob."""

from collections.abc import Callable
from pathlib import Path

from nvarc_sidecar.errors import InvalidArgumentError
from nvarc_sidecar.sft.settings import resolve_settings, validate_run_id
from nvarc_sidecar.sft.trainer import TrainJob


def train_job(request, resolve_path: Callable[[str], Path]) -> TrainJob:
    """Validate `request` (a TrainRequest) and resolve its paths with `resolve_path`.

    Raises:
        InvalidArgumentError: naming the first empty path field or invalid setting.
    """
    validate_run_id(request.run_id)
    for name in ("base_model_path", "dataset_path", "output_dir"):
        if getattr(request, name).strip() == "":
            raise InvalidArgumentError(f"{name} is empty; give an absolute or sidecar-relative directory")
    if request.progress_every_steps < 0:
        raise InvalidArgumentError(
            f"progress_every_steps={request.progress_every_steps} is invalid; use 0 (every step) or more"
        )
    return TrainJob(
        run_id=request.run_id,
        base_model_path=resolve_path(request.base_model_path),
        dataset_path=resolve_path(request.dataset_path),
        output_dir=resolve_path(request.output_dir),
        settings=resolve_settings(request.hyperparameters),
        resume=request.resume,
        progress_every_steps=request.progress_every_steps or 1,
    )
