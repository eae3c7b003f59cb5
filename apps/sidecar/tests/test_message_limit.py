"""A sidecar with a 4,096-byte message limit and a model root: limits, relative paths, graceful stop."""

import signal
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dialog import prompt
from nvarc_sidecar.protos import sidecar_pb2
from rpc_builders import decode_request, score_request
from sidecar_process import SidecarProcess

MAX_MESSAGE_BYTES = 4096


@pytest.fixture(scope="module")
def limited(tiny_model_dir):
    process = SidecarProcess({
        "NVARC_GRPC_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "NVARC_SIDECAR_MODEL_ROOT": str(tiny_model_dir.parent),
        "NVARC_LOG_LEVEL": "debug",
    })
    yield process
    process.stop()


def _long_greedy_request(max_new_tokens: int, with_logprobs: bool, request_id: str = "long-greedy"
                         ) -> sidecar_pb2.DecodeRequest:
    # min_probability 0.99 leaves DFS nothing, so the reply is the greedy completion.
    return decode_request([prompt([], [[1, 2]])], request_id=request_id, min_probability=0.99,
                          max_new_tokens=max_new_tokens, return_token_logprobs=with_logprobs)


def test_call_before_load_model_fails(limited):
    with pytest.raises(grpc.RpcError) as raised:
        limited.stub.Score(score_request([([14, 11, 10, 1, 15], [1, 15])]), timeout=30)

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "LoadModel" in raised.value.details()


def test_release_before_load_model_releases_nothing(limited):
    reply = limited.stub.ReleaseAdapter(sidecar_pb2.ReleaseAdapterRequest(adapter_id="ad-unknown"), timeout=30)

    assert not reply.released


def test_relative_path_uses_model_root(limited, tiny_model_dir):
    reply = limited.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=tiny_model_dir.name), timeout=120)

    assert reply.model_path == tiny_model_dir.name
    assert len(reply.tokens) == 16


def test_oversized_reply_is_resource_exhausted(limited, sidecar, tiny_model_dir):
    request = _long_greedy_request(max_new_tokens=1000, with_logprobs=True)
    sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(tiny_model_dir)), timeout=120)
    unlimited_reply = next(iter(sidecar.stub.Decode(request, timeout=120)))
    assert unlimited_reply.ByteSize() > MAX_MESSAGE_BYTES, "precondition: this request must produce a large reply"
    limited.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=tiny_model_dir.name), timeout=120)

    with pytest.raises(grpc.RpcError) as raised:
        list(limited.stub.Decode(request, timeout=120))

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "NVARC_GRPC_MAX_MESSAGE_BYTES" in raised.value.details()
    assert str(MAX_MESSAGE_BYTES) in raised.value.details()
    small = list(limited.stub.Decode(_long_greedy_request(max_new_tokens=5, with_logprobs=True), timeout=60))
    assert len(small) == 1
    health = health_pb2_grpc.HealthStub(limited.channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_sigterm_finishes_in_flight_call(limited, tiny_model_dir):
    limited.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=tiny_model_dir.name), timeout=120)
    request = _long_greedy_request(max_new_tokens=2500, with_logprobs=False, request_id="in-flight")
    call = limited.stub.Decode(request, timeout=120)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(list(call)), daemon=True)
    reader.start()
    started = limited.wait_for_log(lambda record: record.get("msg") == "call started"
                                   and record.get("request_id") == "in-flight", timeout_s=30)
    assert started is not None

    limited.process.send_signal(signal.SIGTERM)
    reader.join(timeout=120)
    exit_code = limited.process.wait(timeout=120)

    assert exit_code == 0
    assert len(outcome) == 1
    assert len(outcome[0]) == 1
    assert len(outcome[0][0].completions) == 1
    assert limited.wait_for_log(lambda record: record.get("msg") == "sidecar stopped", timeout_s=10) is not None
    messages = [(record.get("msg"), record.get("request_id")) for record in limited.log_records()]
    assert messages.index(("stop signal received", None)) < messages.index(("call finished", "in-flight"))
