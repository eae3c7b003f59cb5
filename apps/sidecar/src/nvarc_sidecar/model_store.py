"""The one loaded model, its token table, its adapters and the lock that serialises device work."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from nvarc_sidecar.call_guard import CallGuard
from nvarc_sidecar.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from nvarc_sidecar.lora import AdapterSet, adaptable_module_names
from nvarc_sidecar.tokens import VOCAB_SIZE, TokenEntry, TokenTableError, read_token_table

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}

_LOCK_POLL_S = 0.1


class DeviceClock:
    """Wall-clock seconds a call has held the model lock (its device seconds)."""

    def __init__(self) -> None:
        self._start_s = time.monotonic()
        self._end_s: float | None = None

    def seconds(self) -> float:
        """Seconds from acquiring the lock to now, or to its release once released."""
        end_s = time.monotonic() if self._end_s is None else self._end_s
        return end_s - self._start_s

    def stop(self) -> None:
        """Freeze the clock at the moment the lock is released."""
        if self._end_s is None:
            self._end_s = time.monotonic()


class ModelLock:
    """Serialises every model call: one device job at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, guard: CallGuard) -> Iterator[DeviceClock]:
        """Wait for the lock, checking `guard` while waiting, and yield a clock started on acquisition.

        Waiting time is not device time: the clock starts once the lock is held. A call
        cancelled while waiting raises from `guard.check()` without taking the lock.
        """
        while not self._lock.acquire(timeout=_LOCK_POLL_S):
            guard.check()
        try:
            # The lock may come free after the caller went away but before the loop
            # above saw it: check once more so such a call never starts.
            guard.check()
        except BaseException:
            self._lock.release()
            raise
        clock = DeviceClock()
        try:
            yield clock
        finally:
            clock.stop()
            self._lock.release()


@dataclass
class LoadedModel:
    """A model loaded from a local directory, with its token table and adapters."""

    model_path: str
    resolved_path: Path
    dtype_name: str
    adapters: AdapterSet
    adaptable_modules: frozenset[str]  # LoRA target names the base model offers
    tokens: list[TokenEntry]
    max_seq_len: int
    parameter_count: int
    architecture: str
    device: torch.device
    dtype: torch.dtype


class ModelStore:
    """Holds at most one loaded model. Callers hold `lock` around every method and model call."""

    def __init__(self, model_root: Path) -> None:
        self.lock = ModelLock()
        self._model_root = model_root
        self._loaded: LoadedModel | None = None

    def current(self) -> LoadedModel | None:
        """Return the loaded model, or None when none is loaded."""
        return self._loaded

    def require(self) -> LoadedModel:
        """Return the loaded model, or raise FAILED_PRECONDITION when none is loaded."""
        if self._loaded is None:
            raise FailedPreconditionError("no model is loaded; call LoadModel with a model directory first")
        return self._loaded

    def load(self, model_path: str, dtype_name: str) -> LoadedModel:
        """Load the model at `model_path` (local directory only) in `dtype_name`.

        Loading the path and dtype that are already loaded returns the loaded model
        unchanged. Loading another one first releases the current model and all its
        adapters, so a failed load leaves no model loaded.

        Raises:
            InvalidArgumentError: empty path or unknown dtype.
            NotFoundError: the directory or its config.json does not exist.
            FailedPreconditionError: the directory is not a loadable 16-token model.
        """
        if model_path.strip() == "":
            raise InvalidArgumentError("model_path is empty; give the path of a model directory")
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
        resolved_dtype_name = _resolve_dtype_name(dtype_name, device)
        resolved_path = self.resolve_path(model_path)

        current = self._loaded
        if current is not None and current.resolved_path == resolved_path and current.dtype_name == resolved_dtype_name:
            return current
        self.unload()

        _check_model_dir(resolved_path)
        self._loaded = _load_model(model_path, resolved_path, resolved_dtype_name, device)
        return self._loaded

    def unload(self) -> None:
        """Drop the loaded model and its adapters, if any."""
        if self._loaded is None:
            return
        self._loaded.adapters.release_all()
        self._loaded = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def resolve_path(self, model_path: str) -> Path:
        """Resolve a relative model path against the model root; absolute paths stay as they are."""
        path = Path(model_path).expanduser()
        if not path.is_absolute():
            path = self._model_root / path
        return path.resolve()


def _resolve_dtype_name(dtype_name: str, device: torch.device) -> str:
    if dtype_name == "":
        return "bfloat16" if device.type == "cuda" else "float32"
    if dtype_name not in DTYPES:
        raise InvalidArgumentError(f"dtype {dtype_name!r} is not supported; use one of {sorted(DTYPES)} or leave it empty")
    return dtype_name


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise NotFoundError(f"model directory {path} not found; give an existing local directory (the sidecar never downloads)")
    if not (path / "config.json").is_file():
        raise NotFoundError(f"{path} has no config.json; it is not a Hugging Face model directory")


def _load_model(model_path: str, path: Path, dtype_name: str, device: torch.device) -> LoadedModel:
    try:
        tokens = read_token_table(path)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (TokenTableError, ValueError, OSError) as error:
        raise FailedPreconditionError(f"model directory {path} cannot be used: {error}") from error
    if config.vocab_size != VOCAB_SIZE:
        raise FailedPreconditionError(
            f"model at {path} has vocab_size {config.vocab_size}; the sidecar serves 16-token models only"
        )

    dtype = DTYPES[dtype_name]
    try:
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except (ValueError, OSError) as error:
        raise FailedPreconditionError(f"model at {path} failed to load: {error}") from error
    model.to(device).eval()
    model.requires_grad_(False)

    return LoadedModel(
        model_path=model_path,
        resolved_path=path,
        dtype_name=dtype_name,
        adapters=AdapterSet(model),
        adaptable_modules=adaptable_module_names(model),
        tokens=tokens,
        max_seq_len=int(config.max_position_embeddings),
        parameter_count=sum(parameter.numel() for parameter in model.parameters()),
        architecture=(config.architectures or [type(model).__name__])[0],
        device=device,
        dtype=dtype,
    )
