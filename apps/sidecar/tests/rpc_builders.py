"""Builders of Sidecar request messages with the settings the tests use."""

import random

from dialog import ALLOWED_TOKEN_IDS, IM_END, Grid, training_sequence
from nvarc_sidecar.protos import sidecar_pb2

ALL_LINEAR_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def lora_preset(**overrides) -> sidecar_pb2.LoraPreset:
    """A rank-8 rsLoRA preset on every projection and lm_head; keyword arguments replace fields."""
    fields = dict(rank=8, alpha=16.0, dropout=0.0, use_rslora=True, target_modules=ALL_LINEAR_TARGETS,
                  learning_rate=1e-2, warmup_ratio=0.1, weight_decay=0.0, max_grad_norm=1.0, epochs=1, seed=0)
    fields.update(overrides)
    return sidecar_pb2.LoraPreset(**fields)


def ttft_request(sequences: list[tuple[list[int], list[int]]], request_id: str = "test", progress_every_steps: int = 0,
                 **preset_overrides) -> sidecar_pb2.TestTimeFineTuneRequest:
    return sidecar_pb2.TestTimeFineTuneRequest(
        request_id=request_id,
        sequences=[sidecar_pb2.TrainingSequence(token_ids=ids, loss_mask=mask) for ids, mask in sequences],
        preset=lora_preset(**preset_overrides),
        progress_every_steps=progress_every_steps,
    )


def decode_request(prompts: list[list[int]], adapter_id: str = "", request_id: str = "test",
                   **overrides) -> sidecar_pb2.DecodeRequest:
    fields = dict(allowed_token_ids=ALLOWED_TOKEN_IDS, eos_token_id=IM_END, min_probability=0.2,
                  max_new_tokens=20, batch_size=4)
    fields.update(overrides)
    return sidecar_pb2.DecodeRequest(request_id=request_id, adapter_id=adapter_id,
                                     prompts=[sidecar_pb2.DecodePrompt(token_ids=prompt) for prompt in prompts], **fields)


def score_request(pairs: list[tuple[list[int], list[int]]], adapter_id: str = "", batch_size: int = 4
                  ) -> sidecar_pb2.ScoreRequest:
    items = [sidecar_pb2.ScoreItem(prompt_token_ids=prompt, completion_token_ids=completion) for prompt, completion in pairs]
    return sidecar_pb2.ScoreRequest(request_id="test", adapter_id=adapter_id, items=items, batch_size=batch_size)


def train(stub, request: sidecar_pb2.TestTimeFineTuneRequest, timeout_s: float = 300) -> list:
    """Run TestTimeFineTune to the end and return every update."""
    return list(stub.TestTimeFineTune(request, timeout=timeout_s))


def random_grid(rng: random.Random, rows: int, columns: int, colors: int) -> Grid:
    return [[rng.randrange(colors) for _ in range(columns)] for _ in range(rows)]


def identity_sequences(rng: random.Random, count: int, pairs: int, rows: int = 2, columns: int = 2, colors: int = 4):
    """Training sequences of the identity task: every output grid equals its input grid."""
    sequences = []
    for _ in range(count):
        grids = [random_grid(rng, rows, columns, colors) for _ in range(pairs)]
        sequences.append(training_sequence([(grid, grid) for grid in grids]))
    return sequences
