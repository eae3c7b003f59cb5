"""Decode on the untrained `tiny` model: greedy fallback, deadlines and cancellation."""

import time

import grpc
import pytest

from dialog import IM_END, prompt
from nvarc_sidecar.protos import sidecar_pb2
from rpc_builders import decode_request, score_request

LOCK_FREED_BOUND_S = 30  # generous bound for "the next call gets the model quickly"


@pytest.fixture(scope="module")
def stub(sidecar, tiny_model_dir):
    sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(tiny_model_dir)), timeout=120)
    return sidecar.stub


def _long_search_request(request_id: str) -> sidecar_pb2.DecodeRequest:
    # The untrained model spreads probability almost evenly over 16 tokens, so with
    # p = 1e-9 the search keeps about 12^8 prefixes: far longer than any test waits.
    return decode_request([prompt([], [[1, 2]])], request_id=request_id, min_probability=1e-9, max_new_tokens=40)


def _score_probe(stub) -> list[float]:
    probe = [(prompt([], [[1]]), [1, IM_END])]
    return list(stub.Score(score_request(probe), timeout=LOCK_FREED_BOUND_S).nll)


def test_untrained_model_returns_greedy(stub):
    prompts = [prompt([([[1, 2]], [[2, 1]])], [[3, 4]]), prompt([], [[5]])]

    results = list(stub.Decode(decode_request(prompts, min_probability=0.2, max_new_tokens=30), timeout=120))

    assert sorted(result.prompt_index for result in results) == [0, 1]
    for result in results:
        assert len(result.completions) == 1
        completion = result.completions[0]
        assert completion.greedy
        assert completion.stop_reason in (sidecar_pb2.STOP_REASON_EOS, sidecar_pb2.STOP_REASON_MAX_TOKENS)
        if completion.stop_reason == sidecar_pb2.STOP_REASON_EOS:
            assert completion.token_ids[-1] == IM_END
            assert IM_END not in completion.token_ids[:-1]
        else:
            assert len(completion.token_ids) == 30
            assert IM_END not in completion.token_ids
        scored = stub.Score(score_request([(prompts[result.prompt_index], list(completion.token_ids))]), timeout=60)
        assert completion.nll == pytest.approx(scored.nll[0], abs=1e-3)


def test_decode_deadline_frees_the_lock(stub, sidecar):
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.Decode(_long_search_request("deadline-decode"), timeout=1.0))

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert len(_score_probe(stub)) == 1
    logged = sidecar.wait_for_log(
        lambda record: record.get("request_id") == "deadline-decode" and record.get("code") == "DEADLINE_EXCEEDED",
        timeout_s=LOCK_FREED_BOUND_S)
    assert logged is not None, "the sidecar did not log the expired call"


def test_cancelled_decode_frees_the_lock(stub, sidecar):
    call = stub.Decode(_long_search_request("cancel-decode"), timeout=600)
    time.sleep(1.0)  # let the search start
    call.cancel()

    with pytest.raises(grpc.RpcError) as raised:
        list(call)

    assert raised.value.code() == grpc.StatusCode.CANCELLED
    logged = sidecar.wait_for_log(
        lambda record: record.get("request_id") == "cancel-decode" and record.get("code") == "CANCELLED",
        timeout_s=LOCK_FREED_BOUND_S)
    assert logged is not None, "the sidecar did not log the cancelled call"
    assert logged["device_seconds"] > 0
    assert len(_score_probe(stub)) == 1
