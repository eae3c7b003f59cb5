"""Train over gRPC: loss, checkpoints, resume after SIGKILL, determinism, dataset checks, final model."""

import json
import random
import shutil
import signal
from pathlib import Path

import grpc
import pytest
import torch
from safetensors.torch import load_file

from dialog import prompt, reply
from nvarc_sidecar.protos import sidecar_pb2
from rpc_builders import decode_request, random_grid, score_request
from sft_artifact import copy_artifact
from sidecar_process import SidecarProcess

TIMEOUT_S = 300


def train_request(model_dir: Path, dataset: Path, output_dir: Path, run_id: str, resume: bool = False,
                  progress_every_steps: int = 0, **overrides) -> sidecar_pb2.TrainRequest:
    fields = dict(learning_rate=3e-3, warmup_steps=2, min_learning_rate=1e-4, weight_decay=0.01, max_grad_norm=1.0,
                  micro_batch_sequences=2, gradient_accumulation_steps=1, max_steps=12, seed=1,
                  checkpoint_every_steps=4, keep_checkpoints=0)
    fields.update(overrides)
    return sidecar_pb2.TrainRequest(
        request_id=f"train-{run_id}", run_id=run_id, base_model_path=str(model_dir), dataset_path=str(dataset),
        output_dir=str(output_dir), hyperparameters=sidecar_pb2.TrainHyperparameters(**fields), resume=resume,
        progress_every_steps=progress_every_steps,
    )


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def assert_same_weights(first: Path, second: Path) -> None:
    first_weights, second_weights = weights(first), weights(second)
    assert first_weights.keys() == second_weights.keys()
    for name, tensor in first_weights.items():
        assert torch.equal(tensor, second_weights[name]), f"{name} differs between {first} and {second}"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A copy-task artifact of 15 packed sequences in 4 shards."""
    return copy_artifact(tmp_path_factory.mktemp("datasets"), "copy", seed=0, samples=60)


@pytest.fixture(scope="module")
def straight_run(sidecar, test_model_dir, dataset, tmp_path_factory) -> tuple[Path, list]:
    """An uninterrupted 12-step run with checkpoints every 4 steps: its output dir and updates."""
    output_dir = tmp_path_factory.mktemp("runs")
    updates = list(sidecar.stub.Train(train_request(test_model_dir, dataset, output_dir, "straight"), timeout=TIMEOUT_S))
    return output_dir, updates


def test_training_lowers_the_loss(sidecar, test_model_dir, dataset, tmp_path):
    request = train_request(test_model_dir, dataset, tmp_path, "loss", max_steps=30, progress_every_steps=5,
                            checkpoint_every_steps=0)
    updates = list(sidecar.stub.Train(request, timeout=TIMEOUT_S))

    assert [update.step for update in updates] == [5, 10, 15, 20, 25, 30]
    assert updates[-1].done and not any(update.done for update in updates[:-1])
    assert updates[-1].loss < 0.7 * updates[0].loss
    assert [update.tokens_seen for update in updates] == sorted(update.tokens_seen for update in updates)
    assert updates[-1].learning_rate == pytest.approx(1e-4)


def test_checkpoints_every_n_steps_and_pruned(sidecar, test_model_dir, dataset, tmp_path):
    request = train_request(test_model_dir, dataset, tmp_path, "pruned", max_steps=10, checkpoint_every_steps=3,
                            keep_checkpoints=2, progress_every_steps=100)
    updates = list(sidecar.stub.Train(request, timeout=TIMEOUT_S))

    run_dir = tmp_path / "pruned"
    assert [(update.step, Path(update.checkpoint_path).name) for update in updates[:-1]] == [
        (3, "checkpoint-3"), (6, "checkpoint-6"), (9, "checkpoint-9")]
    assert sorted(path.name for path in run_dir.iterdir()) == ["checkpoint-6", "checkpoint-9", "final"]
    metadata = json.loads((run_dir / "checkpoint-9" / "nvarc_model.json").read_text())
    assert metadata["trained"] is True
    assert metadata["step"] == 9
    assert metadata["dataset_content_hash"] == json.loads((dataset / "manifest.json").read_text())["contentHash"]
    assert metadata["base_model"]["preset"] == "test"
    assert updates[-1].final_model_path == str(run_dir / "final")


def test_killed_run_resumes_in_new_process(test_model_dir, dataset, tmp_path, straight_run):
    request = train_request(test_model_dir, dataset, tmp_path, "killed", max_steps=400, checkpoint_every_steps=4,
                            keep_checkpoints=3, progress_every_steps=1)
    first = SidecarProcess()
    try:
        for update in first.stub.Train(request, timeout=TIMEOUT_S):
            if update.step >= 8 and update.checkpoint_path:
                first.process.send_signal(signal.SIGKILL)
                break
    finally:
        first.process.wait(timeout=30)
        first.stop()
    assert first.process.returncode == -signal.SIGKILL
    run_dir = tmp_path / "killed"
    assert not (run_dir / "final").exists()
    newest = max(int(path.name.split("-")[1]) for path in run_dir.glob("checkpoint-*"))

    second = SidecarProcess()
    try:
        resume = train_request(test_model_dir, dataset, tmp_path, "killed", resume=True, max_steps=400,
                               checkpoint_every_steps=4, keep_checkpoints=3, progress_every_steps=50)
        updates = list(second.stub.Train(resume, timeout=TIMEOUT_S))
    finally:
        second.stop()

    assert 8 <= newest < 400
    assert all(update.resumed_from_step == newest for update in updates)
    assert updates[0].step > newest
    assert updates[-1].done
    assert updates[-1].step == updates[-1].total_steps == 400
    assert (run_dir / "final" / "model.safetensors").is_file()


def test_resumed_runs_match_the_uninterrupted_run(sidecar, test_model_dir, dataset, tmp_path, straight_run):
    straight_dir, straight_updates = straight_run
    for copy in ("copy-a", "copy-b"):
        (tmp_path / copy).mkdir()
        shutil.copytree(straight_dir / "straight" / "checkpoint-4", tmp_path / copy / "checkpoint-4")

    finals = []
    for copy in ("copy-a", "copy-b"):
        updates = list(sidecar.stub.Train(train_request(test_model_dir, dataset, tmp_path, copy, resume=True),
                                          timeout=TIMEOUT_S))
        assert updates[0].resumed_from_step == 4
        assert updates[-1].step == 12
        assert updates[-1].tokens_seen == straight_updates[-1].tokens_seen
        finals.append(Path(updates[-1].final_model_path))

    assert_same_weights(finals[0], finals[1])
    assert_same_weights(finals[0], straight_dir / "straight" / "final")


def test_existing_run_needs_resume_and_same_settings(sidecar, test_model_dir, dataset, straight_run):
    straight_dir, _ = straight_run
    with pytest.raises(grpc.RpcError) as without_resume:
        list(sidecar.stub.Train(train_request(test_model_dir, dataset, straight_dir, "straight"), timeout=TIMEOUT_S))
    assert without_resume.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "resume" in without_resume.value.details()

    shutil.copytree(straight_dir / "straight" / "checkpoint-8", straight_dir / "changed" / "checkpoint-8")
    changed = train_request(test_model_dir, dataset, straight_dir, "changed", resume=True, learning_rate=1e-3)
    with pytest.raises(grpc.RpcError) as other_settings:
        list(sidecar.stub.Train(changed, timeout=TIMEOUT_S))
    assert other_settings.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "hyperparameters.learning_rate" in other_settings.value.details()


def test_corrupted_shard_is_rejected(sidecar, test_model_dir, tmp_path):
    dataset = copy_artifact(tmp_path, "corrupt", seed=1, samples=20)
    shard = dataset / "shard-00001.jsonl.gz"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))

    with pytest.raises(grpc.RpcError) as raised:
        list(sidecar.stub.Train(train_request(test_model_dir, dataset, tmp_path / "out", "corrupt"), timeout=TIMEOUT_S))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert str(shard) in raised.value.details()
    assert "sha256" in raised.value.details()
    assert not (tmp_path / "out" / "corrupt").exists()


def test_other_format_version_is_rejected(sidecar, test_model_dir, tmp_path):
    dataset = copy_artifact(tmp_path, "v2", seed=1, samples=8)
    manifest_path = dataset / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["formatVersion"] = 2
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(grpc.RpcError) as raised:
        list(sidecar.stub.Train(train_request(test_model_dir, dataset, tmp_path / "out", "v2"), timeout=TIMEOUT_S))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert str(manifest_path) in raised.value.details()


def test_final_model_loads_and_decodes(sidecar, test_model_dir, dataset, straight_run):
    straight_dir, updates = straight_run
    final_dir = Path(updates[-1].final_model_path)
    assert final_dir == straight_dir / "straight" / "final"
    assert json.loads((final_dir / "nvarc_model.json").read_text())["trained"] is True

    loaded = sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(final_dir)), timeout=120)
    rng = random.Random(4)
    grids = [random_grid(rng, 3, 3, 4) for _ in range(2)]
    results = list(sidecar.stub.Decode(decode_request([prompt([(grids[0], grids[0])], grids[1])], max_new_tokens=14),
                                       timeout=120))

    assert loaded.parameter_count == sum(tensor.numel() for tensor in weights(final_dir).values())
    assert len(results) == 1
    assert results[0].completions
    assert all(len(completion.token_ids) > 0 for completion in results[0].completions)


def test_training_leaves_the_loaded_model_unchanged(sidecar, test_model_dir, dataset, tmp_path):
    sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir)), timeout=120)
    rng = random.Random(6)
    grid = random_grid(rng, 3, 3, 4)
    probe = [(prompt([(grid, grid)], grid), reply(grid))]
    before = sidecar.stub.Score(score_request(probe), timeout=60).nll[0]

    list(sidecar.stub.Train(train_request(test_model_dir, dataset, tmp_path, "beside", max_steps=4), timeout=TIMEOUT_S))

    assert sidecar.stub.Score(score_request(probe), timeout=60).nll[0] == before


def test_cancelled_run_keeps_its_checkpoints(sidecar, test_model_dir, dataset, tmp_path):
    request = train_request(test_model_dir, dataset, tmp_path, "cancelled", max_steps=100_000, checkpoint_every_steps=2,
                            keep_checkpoints=0, progress_every_steps=1)
    call = sidecar.stub.Train(request, timeout=TIMEOUT_S)
    for update in call:
        if update.checkpoint_path:
            break
    call.cancel()

    logged = sidecar.wait_for_log(
        lambda record: record.get("request_id") == "train-cancelled" and record.get("code") == "CANCELLED", timeout_s=30)
    assert logged is not None, "the sidecar did not log the cancelled Train call"
    assert Path(update.checkpoint_path).is_dir()
    assert not (tmp_path / "cancelled" / "final").exists()
