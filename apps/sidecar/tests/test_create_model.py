"""create_model: deterministic weights, the files of a model directory, atomic writes."""

import hashlib
import json

import pytest

from nvarc_sidecar.create_model import PRESETS, build_config, create_model, main


def _weights_sha256(model_dir):
    return hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()


def test_same_seed_gives_identical_weights(tmp_path):
    first = create_model("test", 3, tmp_path / "first")
    second = create_model("test", 3, tmp_path / "second")
    other_seed = create_model("test", 4, tmp_path / "other-seed")

    assert _weights_sha256(first) == _weights_sha256(second)
    assert _weights_sha256(first) != _weights_sha256(other_seed)


def test_model_dir_describes_untrained_model(test_model_dir):
    config = json.loads((test_model_dir / "config.json").read_text())
    tokens = json.loads((test_model_dir / "nvarc_tokens.json").read_text())
    metadata = json.loads((test_model_dir / "nvarc_model.json").read_text())

    assert config["architectures"] == ["Qwen3ForCausalLM"]
    assert config["vocab_size"] == 16
    assert config["eos_token_id"] == 15
    assert config["pad_token_id"] == 13
    assert config.get("bos_token_id") is None
    assert config["tie_word_embeddings"] is True
    assert [entry["id"] for entry in tokens["tokens"]] == list(range(16))
    assert tokens["tokens"][15]["text"] == "<|im_end|>"
    assert metadata["trained"] is False
    assert metadata["seed"] == 0
    assert metadata["preset"] == "test"


def test_existing_directory_is_kept_unless_overwrite(tmp_path):
    out_dir = create_model("test", 0, tmp_path / "model")
    before = _weights_sha256(out_dir)

    with pytest.raises(FileExistsError):
        create_model("test", 1, out_dir)
    assert main(["--preset", "test", "--seed", "1", "--out", str(out_dir)]) == 2
    assert _weights_sha256(out_dir) == before

    create_model("test", 1, out_dir, overwrite=True)
    assert _weights_sha256(out_dir) != before
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_full_preset_has_the_qwen3_4b_shape():
    config = build_config(PRESETS["full"])

    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size) == (2560, 36, 9728)
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (32, 8, 128)
    assert config.vocab_size == 16
