"""Data-parallel SFT in-process: 2 gloo ranks against 1 process, the Ray job's request and progress lines."""

import json
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from nvarc_sidecar.call_guard import UNGUARDED
from nvarc_sidecar.protos import sidecar_pb2
from nvarc_sidecar.sft import checkpoints
from nvarc_sidecar.sft.data_parallel import ProcessGroup, _buckets
from nvarc_sidecar.sft.ray_job import ERROR_PREFIX, PROGRESS_PREFIX, RayJobRequest, error_line, progress_line
from nvarc_sidecar.sft.settings import resolve_settings
from nvarc_sidecar.sft.trainer import TrainJob, TrainProgress, train
from sft_artifact import copy_artifact

STEPS = 4
# Two ranks sum their gradients in another order than one process does, so weights
# agree up to float32 rounding, amplified a little by 4 AdamW steps.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def make_job(model_dir: Path, dataset: Path, output_dir: Path, run_id: str) -> TrainJob:
    # 3 sequences per step: rank 0 trains 2 of them and rank 1 one, so the shares are uneven.
    hyperparameters = sidecar_pb2.TrainHyperparameters(
        learning_rate=3e-3, warmup_steps=1, weight_decay=0.01, max_grad_norm=1.0, micro_batch_sequences=3,
        gradient_accumulation_steps=1, max_steps=STEPS, seed=1, checkpoint_every_steps=2, torch_threads=1)
    return TrainJob(run_id=run_id, base_model_path=model_dir, dataset_path=dataset, output_dir=output_dir,
                    settings=resolve_settings(hyperparameters), resume=True, progress_every_steps=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_rank(rank: int, world_size: int, port: int, job: TrainJob, results) -> None:
    """Body of one spawned rank: train and send its updates to the parent."""
    group = ProcessGroup(rank, world_size, f"tcp://127.0.0.1:{port}", "gloo")
    try:
        results.put((rank, list(train(job, UNGUARDED, group))))
    finally:
        group.close()


def train_two_ranks(job: TrainJob) -> dict[int, list[TrainProgress]]:
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    mp.start_processes(train_rank, args=(2, free_port(), job, results), nprocs=2, join=True, start_method="spawn")
    return dict(results.get() for _ in range(2))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return copy_artifact(tmp_path_factory.mktemp("datasets"), "copy", seed=0, samples=40)


@pytest.fixture(scope="module")
def runs(test_model_dir, dataset, tmp_path_factory) -> dict:
    """The same run trained by one process and by two gloo ranks."""
    single_dir, parallel_dir = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("parallel")
    torch.set_num_threads(1)
    single = list(train(make_job(test_model_dir, dataset, single_dir, "run"), UNGUARDED))
    parallel = train_two_ranks(make_job(test_model_dir, dataset, parallel_dir, "run"))
    return {"single": (single_dir / "run", single), "parallel": (parallel_dir / "run", parallel)}


def test_two_ranks_reach_single_process_weights(runs):
    single_dir, _ = runs["single"]
    parallel_dir, _ = runs["parallel"]
    expected = load_file(str(single_dir / "final" / "model.safetensors"))
    actual = load_file(str(parallel_dir / "final" / "model.safetensors"))

    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, **TOLERANCE, msg=lambda text: f"{name}: {text}")


def test_two_ranks_report_single_process_losses(runs):
    _, single = runs["single"]
    _, parallel = runs["parallel"]

    for rank in (0, 1):
        updates = parallel[rank]
        assert [update.step for update in updates] == [update.step for update in single]
        assert [update.tokens_seen for update in updates] == [update.tokens_seen for update in single]
        assert [update.loss for update in updates] == pytest.approx([update.loss for update in single], rel=1e-5)
    assert parallel[0][-1].done
    assert parallel[0][-1].final_model_path.endswith("run/final")


def test_only_rank_zero_writes_the_run_directory_layout(runs):
    single_dir, _ = runs["single"]
    parallel_dir, parallel = runs["parallel"]

    assert sorted(path.name for path in parallel_dir.iterdir()) == sorted(path.name for path in single_dir.iterdir())
    assert sorted(path.name for path in parallel_dir.iterdir()) == ["checkpoint-2", "final"]
    assert [update.checkpoint_path for update in parallel[0] if update.checkpoint_path] == [str(parallel_dir / "checkpoint-2")]
    assert not any(update.checkpoint_path for update in parallel[1])
    state = checkpoints.read_trainer_state(parallel_dir / "checkpoint-2")
    assert state["step"] == 2
    metadata = json.loads((parallel_dir / "final" / "nvarc_model.json").read_text())
    assert metadata["training"]["step"] == STEPS


def test_resumed_finished_run_returns_final_update(runs, test_model_dir, dataset):
    parallel_dir, parallel = runs["parallel"]
    job = make_job(test_model_dir, dataset, parallel_dir.parent, "run")

    updates = list(train(job, UNGUARDED))

    assert len(updates) == 1
    assert updates[0].done and updates[0].step == STEPS
    assert updates[0].final_model_path == parallel[0][-1].final_model_path


def test_gradient_buckets_split_by_size_and_dtype():
    tensors = [torch.zeros(4), torch.zeros(4), torch.zeros(10), torch.zeros(2, dtype=torch.float64), torch.zeros(1)]

    buckets = _buckets(tensors, max_bytes=32)

    assert [[tensor.numel() for tensor in bucket] for bucket in buckets] == [[4, 4], [10], [2], [1]]


def test_ray_request_parses_train_request_and_group_shape():
    request = RayJobRequest({
        "train": {"runId": "r1", "baseModelPath": "/m", "datasetPath": "/d", "outputDir": "/o", "resume": True,
                  "hyperparameters": {"learningRate": 0.001, "maxSteps": 3, "seed": "7"}},
        "workers": 2, "cpusPerWorker": 1, "gpusPerWorker": 0,
    })

    assert request.train.run_id == "r1"
    assert request.train.hyperparameters.max_steps == 3
    assert request.train.hyperparameters.seed == 7
    assert (request.workers, request.cpus_per_worker, request.gpus_per_worker) == (2, 1.0, 0.0)
    assert request.backend == "gloo"
    assert RayJobRequest({"train": {}, "gpusPerWorker": 1}).backend == "nccl"


@pytest.mark.parametrize("document, field", [
    ({"workers": 2}, "train"),
    ({"train": {}, "workers": 0}, "workers"),
    ({"train": {}, "workers": 1.5}, "workers"),
    ({"train": {}, "gpus": 1}, "gpus"),
])
def test_ray_request_rejects_bad_fields(document, field):
    with pytest.raises(ValueError, match=field):
        RayJobRequest(document)


def test_progress_and_error_lines_are_prefixed_json():
    progress = TrainProgress(step=3, total_steps=6, loss=1.5, learning_rate=1e-3, tokens_seen=99, resumed_from_step=0,
                             checkpoint_path="/o/r/checkpoint-3")

    line = progress_line(progress)

    assert line.startswith(PROGRESS_PREFIX)
    assert json.loads(line[len(PROGRESS_PREFIX):]) == {
        "step": 3, "totalSteps": 6, "loss": 1.5, "learningRate": 1e-3, "tokensSeen": 99, "resumedFromStep": 0,
        "checkpointPath": "/o/r/checkpoint-3", "done": False, "finalModelPath": ""}
    error = error_line("invalid_argument", "bad")
    assert json.loads(error[len(ERROR_PREFIX):]) == {"code": "invalid_argument", "message": "bad"}
