"""Create an untrained Qwen3-architecture model with the 16-token vocabulary.

Usage:
    python -m nvarc_sidecar.create_model --preset tiny --seed 0 --out models/tiny-untrained

The directory gets `config.json` and `model.safetensors` (Hugging Face format), the
token table `nvarc_tokens.json` and the metadata file `nvarc_model.json`
(`"trained": false`, the preset and the seed). The same preset and seed always give
byte-identical weights. The directory is written under a temporary name and renamed
into place, so an interrupted run never leaves a partial model at `--out`.
"""

import argparse
import json
import shutil
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import transformers
from transformers import Qwen3Config, Qwen3ForCausalLM

from nvarc_sidecar.tokens import EOS_TOKEN_ID, PAD_TOKEN_ID, VOCAB_SIZE, write_token_table

MODEL_METADATA_FILE = "nvarc_model.json"
"""Name of the metadata file (trained flag, preset, seed) inside a model directory."""


@dataclass(frozen=True)
class ModelPreset:
    """Transformer shape of a Qwen3 model; sizes are in elements per token."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    max_position_embeddings: int
    rope_theta: float
    initializer_range: float = 0.02  # std of the normal weight init (transformers' default)


PRESETS: dict[str, ModelPreset] = {
    # Unit tests: trains in seconds on one CPU thread. The wider init (std 0.3) lets LoRA
    # alone fit a copy task in a few hundred steps. At std 0.02 attention starts nearly
    # uniform, and such training often stalls at the loss of guessing colors.
    "test": ModelPreset(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, intermediate_size=128, max_position_embeddings=8192, rope_theta=10000.0,
        initializer_range=0.3,
    ),
    # The default CPU model of the embedded setup.
    "tiny": ModelPreset(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        head_dim=32, intermediate_size=256, max_position_embeddings=8192, rope_theta=10000.0,
    ),
    # The Qwen3-4B shape (hidden 2560, 36 layers, 32 query and 8 KV heads of dim 128,
    # MLP 9728). rope_theta follows the Qwen3-4B-2507 config.json; positions are cut to
    # the 8,192-token context that NVARC uses. About 4B parameters: a GPU preset.
    "full": ModelPreset(
        hidden_size=2560, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8,
        head_dim=128, intermediate_size=9728, max_position_embeddings=8192, rope_theta=5_000_000.0,
    ),
}


def build_config(preset: ModelPreset) -> Qwen3Config:
    """Return the Qwen3Config of `preset` with the 16-token vocabulary (EOS 15, pad 13, no BOS)."""
    return Qwen3Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        head_dim=preset.head_dim,
        max_position_embeddings=preset.max_position_embeddings,
        rope_theta=preset.rope_theta,
        rms_norm_eps=1e-6,
        initializer_range=preset.initializer_range,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=EOS_TOKEN_ID,
        pad_token_id=PAD_TOKEN_ID,
        architectures=["Qwen3ForCausalLM"],
    )


def build_model(preset_name: str, seed: int) -> Qwen3ForCausalLM:
    """Instantiate the untrained model of a preset; the weights depend only on the preset and `seed`."""
    config = build_config(PRESETS[preset_name])
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    return model.eval()


def create_model(preset_name: str, seed: int, out_dir: Path, overwrite: bool = False) -> Path:
    """Build a model and save it atomically to `out_dir`.

    Raises:
        ValueError: unknown preset.
        FileExistsError: `out_dir` exists and `overwrite` is false.
    """
    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; choose one of {sorted(PRESETS)}")
    out_dir = out_dir.resolve()
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass --overwrite to replace it")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging_dir = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex}"
    try:
        model = build_model(preset_name, seed)
        model.save_pretrained(staging_dir, safe_serialization=True)
        write_token_table(staging_dir)
        _write_metadata(staging_dir, model, preset_name, seed)
        _make_readable(staging_dir)
        _replace_dir(staging_dir, out_dir)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return out_dir


def _write_metadata(model_dir: Path, model: Qwen3ForCausalLM, preset_name: str, seed: int) -> None:
    metadata = {
        "trained": False,
        "preset": preset_name,
        "seed": seed,
        "architecture": "Qwen3ForCausalLM",
        "parameter_count": sum(parameter.numel() for parameter in model.parameters()),
        "shape": asdict(PRESETS[preset_name]),
        "created_by": "nvarc_sidecar.create_model",
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
    }
    (model_dir / MODEL_METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def _make_readable(model_dir: Path) -> None:
    """Give every file mode 0644: the safetensors writer creates files readable by the owner only."""
    model_dir.chmod(0o755)
    for path in model_dir.iterdir():
        path.chmod(0o644)


def _replace_dir(staging_dir: Path, out_dir: Path) -> None:
    """Move `staging_dir` to `out_dir`; an existing `out_dir` is moved aside first and deleted after."""
    if not out_dir.exists():
        staging_dir.rename(out_dir)
        return
    retired_dir = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex}"
    out_dir.rename(retired_dir)
    staging_dir.rename(out_dir)
    shutil.rmtree(retired_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description="Create an untrained 16-token Qwen3 model directory.")
    parser.add_argument("--preset", required=True, choices=sorted(PRESETS), help="model shape")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight initialisation (default 0)")
    parser.add_argument("--out", required=True, type=Path, help="model directory to create")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing directory")
    args = parser.parse_args(argv)
    try:
        out_dir = create_model(args.preset, args.seed, args.out, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        print(f"create_model: {error}", file=sys.stderr)
        return 2
    print(f"create_model: wrote the {args.preset} model (seed {args.seed}) to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
