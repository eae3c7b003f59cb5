"""Load a 16-token Hugging Face model directory as a trainable copy, apart from the inference model."""

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from nvarc_sidecar.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from nvarc_sidecar.model_store import DTYPES
from nvarc_sidecar.tokens import VOCAB_SIZE, TokenTableError, read_token_table


def training_device() -> torch.device:
    """Return the first GPU when one is available, else the CPU."""
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype_name: str, device: torch.device) -> torch.dtype:
    """Return the torch dtype for `dtype_name`; empty means float32 on the CPU and bfloat16 on a GPU.

    Raises:
        InvalidArgumentError: the name is not one of DTYPES.
    """
    if dtype_name == "":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype_name not in DTYPES:
        raise InvalidArgumentError(
            f"hyperparameters.dtype={dtype_name!r} is not supported; use one of {sorted(DTYPES)} or leave it empty"
        )
    return DTYPES[dtype_name]


def load_trainable_model(path: Path, dtype: torch.dtype, device: torch.device) -> PreTrainedModel:
    """Load the model at `path` with every parameter trainable, in train mode, with the sdpa attention kernel.

    Raises:
        NotFoundError: the directory or its config.json does not exist.
        FailedPreconditionError: the directory is not a loadable 16-token model.
    """
    if not (path / "config.json").is_file():
        raise NotFoundError(f"model directory {path} not found or has no config.json; give a local model directory")
    try:
        read_token_table(path)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (TokenTableError, ValueError, OSError) as error:
        raise FailedPreconditionError(f"model directory {path} cannot be used: {error}") from error
    if config.vocab_size != VOCAB_SIZE:
        raise FailedPreconditionError(f"model at {path} has vocab_size {config.vocab_size}; training needs a 16-token model")
    try:
        # The packed-sequence mask is an explicit 4-D tensor, which the sdpa and eager kernels accept.
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype, attn_implementation="sdpa")
    except (ValueError, OSError) as error:
        raise FailedPreconditionError(f"model at {path} failed to load: {error}") from error
    model.to(device)
    model.requires_grad_(True)
    model.train()
    return model
