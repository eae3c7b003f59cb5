"""LoRA adapters of the loaded model, kept by name (peft multi-adapter).

The first adapter wraps the base model in a PeftModel; later ones are added beside it.
Releasing the last adapter unloads the LoRA layers, which gives back the unchanged base
model. Every method must be called while holding the model lock.
"""

import math
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from nvarc_sidecar.errors import InternalError, InvalidArgumentError, NotFoundError

ADAPTER_ID_PREFIX = "ad-"


@dataclass(frozen=True)
class LoraSettings:
    """Adapter shape of one fine-tune: LoRA rank r, lora_alpha, dropout, rsLoRA, targets and init seed."""

    rank: int
    alpha: float
    dropout: float
    use_rslora: bool
    target_modules: tuple[str, ...]
    seed: int


def validate_lora_settings(settings: LoraSettings, adaptable_modules: frozenset[str]) -> None:
    """Reject settings peft cannot build on `model`, naming the field and the fix.

    Raises:
        InvalidArgumentError: a value is out of range or a target module does not exist.
    """
    if settings.rank < 1:
        raise InvalidArgumentError(f"preset.rank={settings.rank} is invalid; the LoRA rank must be at least 1")
    if not math.isfinite(settings.alpha) or settings.alpha <= 0:
        raise InvalidArgumentError(f"preset.alpha={settings.alpha} is invalid; lora_alpha must be a positive number")
    if not 0 <= settings.dropout < 1:
        raise InvalidArgumentError(f"preset.dropout={settings.dropout} is invalid; use a value in [0, 1)")
    if not settings.target_modules:
        raise InvalidArgumentError("preset.target_modules is empty; name the modules to adapt, for example q_proj, v_proj")
    for name in settings.target_modules:
        if name not in adaptable_modules:
            raise InvalidArgumentError(
                f"preset.target_modules contains {name!r}, which is not a module of this model; "
                f"choose from {sorted(adaptable_modules)}"
            )


def adaptable_module_names(model: PreTrainedModel) -> frozenset[str]:
    """Return the short names (last path component) of the Linear and Embedding modules of a model without adapters."""
    return frozenset(
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)) and name
    )


def new_adapter_id() -> str:
    """Return a fresh adapter id, `ad-` followed by a random UUID."""
    return f"{ADAPTER_ID_PREFIX}{uuid.uuid4()}"


class AdapterSet:
    """The LoRA adapters of one base model, each trained for one task and chosen by id."""

    def __init__(self, base_model: PreTrainedModel) -> None:
        self._base_model = base_model
        self._peft_model: PeftModel | None = None

    @property
    def adapter_ids(self) -> list[str]:
        """Ids of the adapters that exist now."""
        return [] if self._peft_model is None else list(self._peft_model.peft_config)

    def create(self, adapter_id: str, settings: LoraSettings) -> PeftModel:
        """Add a freshly initialised adapter and make it the active, only trainable one.

        The global torch RNG is seeded with `settings.seed` right before peft creates the
        weights, so the same settings always give the same initial adapter.
        """
        config = LoraConfig(
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=settings.dropout,
            use_rslora=settings.use_rslora,
            target_modules=list(settings.target_modules),
            bias="none",
            task_type="CAUSAL_LM",
        )
        with warnings.catch_warnings():
            # peft warns when lm_head is a target while embeddings are tied. Only the
            # LoRA delta is added on top of the shared matrix, which stays frozen.
            warnings.filterwarnings("ignore", message=".*tie_word_embeddings.*", category=UserWarning)
            torch.manual_seed(settings.seed)
            if self._peft_model is None:
                self._peft_model = get_peft_model(self._base_model, config, adapter_name=adapter_id)
            else:
                self._peft_model.add_adapter(adapter_id, config)
        self._peft_model.set_adapter(adapter_id)
        return self._peft_model

    def trainable_parameters(self, adapter_id: str) -> list[torch.nn.Parameter]:
        """Return the parameters that belong to `adapter_id`."""
        model = self._require(adapter_id)
        marker = f".{adapter_id}."
        return [parameter for name, parameter in model.named_parameters() if marker in f"{name}."]

    def check_finite(self, adapter_id: str) -> None:
        """Raise InternalError naming the adapter when any of its weights is NaN or infinite."""
        for parameter in self.trainable_parameters(adapter_id):
            if not torch.isfinite(parameter).all():
                raise InternalError(f"adapter {adapter_id} has non-finite weights after training; it was discarded")

    @contextmanager
    def use(self, adapter_id: str) -> Iterator[torch.nn.Module]:
        """Yield the module to call: the base model for an empty id, else the model with that adapter active.

        Raises:
            NotFoundError: no adapter has this id.
        """
        if adapter_id == "":
            if self._peft_model is None:
                yield self._base_model
            else:
                with self._peft_model.disable_adapter():
                    yield self._peft_model
            return
        model = self._require(adapter_id)
        model.set_adapter(adapter_id)
        yield model

    def release(self, adapter_id: str) -> bool:
        """Delete an adapter; return False when it did not exist."""
        if self._peft_model is None or adapter_id not in self._peft_model.peft_config:
            return False
        if len(self._peft_model.peft_config) == 1:
            self.release_all()
            return True
        with warnings.catch_warnings():
            # peft warns when the deleted adapter was the active one; another is picked.
            warnings.filterwarnings("ignore", message=".*was active which is now deleted.*", category=UserWarning)
            self._peft_model.delete_adapter(adapter_id)
        return True

    def release_all(self) -> None:
        """Remove every adapter and the LoRA layers, leaving the base model as it was loaded."""
        if self._peft_model is None:
            return
        self._base_model = self._peft_model.unload()
        # unload() leaves peft's bookkeeping attribute behind; a later get_peft_model
        # would take the model for one that still has adapters.
        if hasattr(self._base_model, "peft_config"):
            del self._base_model.peft_config
        self._peft_model = None

    def _require(self, adapter_id: str) -> PeftModel:
        if self._peft_model is None or adapter_id not in self._peft_model.peft_config:
            raise NotFoundError(
                f"adapter {adapter_id!r} not found; it was released, belongs to a model that was "
                "replaced, or never existed. Train a new one with TestTimeFineTune"
            )
        return self._peft_model
