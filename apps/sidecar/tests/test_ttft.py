"""TestTimeFineTune: input validation, progress stream, seeded determinism, cancellation."""

import json
import random
import threading
import time

import grpc
import pytest

from dialog import user_turn
from nvarc_sidecar.protos import sidecar_pb2
from rpc_builders import identity_sequences, score_request, train, ttft_request

GOOD = ([14, 11, 10, 1, 15, 14, 12, 10, 1, 15], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])

# (case, sequences, index named in the error, text the error must contain)
INVALID_SEQUENCE_CASES = [
    ("mask shorter than tokens", [GOOD, (GOOD[0], GOOD[1][:-1])], 1, "loss_mask"),
    ("token id above the vocabulary", [GOOD, GOOD, ([14, 11, 10, 16, 15], [0, 0, 0, 1, 1])], 2, "=16"),
    ("negative token id", [([14, 11, -1, 1, 15], [0, 0, 0, 1, 1])], 0, "=-1"),
    ("no masked token", [(GOOD[0], [0] * len(GOOD[0])), GOOD], 0, "no 1"),
    ("empty sequence", [GOOD, ([], [])], 1, "empty"),
    ("mask value other than 0 or 1", [GOOD, (GOOD[0], GOOD[1][:-1] + [2])], 1, "=2"),
    ("first token masked", [([14, 1, 15], [1, 1, 1])], 0, "loss_mask[0]"),
    ("longer than max_seq_len", [GOOD, GOOD, GOOD, ([1] * 8193, [0] + [1] * 8192)], 3, "8193"),
]


@pytest.fixture(autouse=True)
def test_model_loaded(sidecar, test_model_dir):
    sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir)), timeout=120)


@pytest.mark.parametrize(("case", "sequences", "index", "detail"), INVALID_SEQUENCE_CASES,
                         ids=[case[0] for case in INVALID_SEQUENCE_CASES])
def test_invalid_sequence_names_its_index(sidecar, case, sequences, index, detail):
    with pytest.raises(grpc.RpcError) as raised:
        train(sidecar.stub, ttft_request(sequences), timeout_s=60)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"sequences[{index}]" in raised.value.details()
    assert detail in raised.value.details()


@pytest.mark.parametrize(
    ("preset_overrides", "detail"),
    [
        ({"rank": 0}, "preset.rank"),
        ({"target_modules": ["q_proj", "attention"]}, "'attention'"),
        ({"learning_rate": 0.0}, "preset.learning_rate"),
        ({"epochs": 0}, "preset.epochs"),
        ({"warmup_ratio": 1.5}, "preset.warmup_ratio"),
    ],
)
def test_invalid_preset_names_the_field(sidecar, preset_overrides, detail):
    with pytest.raises(grpc.RpcError) as raised:
        train(sidecar.stub, ttft_request([GOOD], **preset_overrides), timeout_s=60)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail in raised.value.details()


def test_progress_then_one_final_message(sidecar, test_model_dir):
    sequences = identity_sequences(random.Random(1), count=5, pairs=2)
    request = ttft_request(sequences, progress_every_steps=4, epochs=3, rank=4, target_modules=["q_proj", "v_proj"])

    updates = train(sidecar.stub, request)

    assert [update.step for update in updates] == [4, 8, 12, 15]
    assert all(update.total_steps == 15 for update in updates)
    assert [update.done for update in updates] == [False, False, False, True]
    assert all(update.adapter_id == "" for update in updates[:-1])
    assert updates[-1].adapter_id.startswith("ad-")
    assert all(update.loss > 0 for update in updates)
    assert [update.device_seconds for update in updates] == sorted(update.device_seconds for update in updates)
    # LoRA adds r * (in + out) weights per adapted projection, in every layer.
    config = json.loads((test_model_dir / "config.json").read_text())
    hidden, head_dim = config["hidden_size"], config["head_dim"]
    per_layer = 4 * (hidden + config["num_attention_heads"] * head_dim) + 4 * (hidden + config["num_key_value_heads"] * head_dim)
    assert updates[-1].trainable_parameters == per_layer * config["num_hidden_layers"]


def test_same_seed_trains_the_same_adapter(sidecar):
    sequences = identity_sequences(random.Random(2), count=4, pairs=2)
    probe = [(user_turn([[1, 2], [3, 0]]) + [14, 12, 10], [1, 2, 10, 3, 0, 15])]

    def train_and_score(seed):
        updates = train(sidecar.stub, ttft_request(sequences, progress_every_steps=1, epochs=2, seed=seed, dropout=0.1))
        nll = sidecar.stub.Score(score_request(probe, adapter_id=updates[-1].adapter_id), timeout=60).nll[0]
        return [update.loss for update in updates], nll

    first_losses, first_nll = train_and_score(seed=7)
    second_losses, second_nll = train_and_score(seed=7)
    other_losses, other_nll = train_and_score(seed=8)

    assert first_losses == second_losses
    assert first_nll == second_nll
    assert first_losses != other_losses
    assert first_nll != other_nll


def test_cancelled_ttft_frees_the_lock(sidecar):
    sequences = identity_sequences(random.Random(3), count=8, pairs=4)
    call = sidecar.stub.TestTimeFineTune(
        ttft_request(sequences, request_id="cancel-ttft", progress_every_steps=2, epochs=10_000), timeout=600)

    first = next(call)
    assert not first.done
    call.cancel()

    logged = sidecar.wait_for_log(
        lambda record: record.get("request_id") == "cancel-ttft" and record.get("code") == "CANCELLED", timeout_s=30)
    assert logged is not None, "the sidecar did not log the cancelled call"
    # The lock is free again: the next model call finishes well before a generous bound.
    probe = [(user_turn([[1]]) + [14, 12, 10], [1, 15])]
    assert len(sidecar.stub.Score(score_request(probe), timeout=30).nll) == 1


def test_cancel_while_waiting_skips_the_call(sidecar):
    sequences = identity_sequences(random.Random(4), count=8, pairs=4)
    long_call = sidecar.stub.TestTimeFineTune(
        ttft_request(sequences, request_id="holder", progress_every_steps=1, epochs=10_000), timeout=600)
    next(long_call)  # the long call now holds the lock

    waiting_call = sidecar.stub.TestTimeFineTune(
        ttft_request(sequences[:1], request_id="waiter", epochs=1), timeout=600)
    results = []
    reader = threading.Thread(target=lambda: results.append(_drain(waiting_call)), daemon=True)
    reader.start()
    time.sleep(0.5)
    waiting_call.cancel()
    reader.join(timeout=30)
    long_call.cancel()

    assert results and results[0] == grpc.StatusCode.CANCELLED
    record = sidecar.wait_for_log(lambda r: r.get("request_id") == "waiter" and r.get("code") == "CANCELLED", timeout_s=30)
    assert record is not None
    # Neither the 0.5 s of waiting nor a lock freed after the cancel is device time.
    assert record["device_seconds"] == 0.0


def _drain(call) -> grpc.StatusCode:
    try:
        for _ in call:
            pass
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK
