"""Server basics over gRPC: health, LoadModel, configuration errors."""

import json
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nvarc_sidecar.protos import sidecar_pb2
from sidecar_process import SIDECAR_SRC

EXPECTED_TOKENS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\n", "user", "assistant",
                   "<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@pytest.mark.parametrize("service", ["", "nvarc.sidecar.v1.Sidecar"])
def test_health_check_reports_serving(sidecar, service):
    health = health_pb2_grpc.HealthStub(sidecar.channel)

    reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_load_model_returns_the_16_token_table(sidecar, test_model_dir):
    reply = sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir)), timeout=120)

    assert [(token.id, token.text) for token in reply.tokens] == list(enumerate(EXPECTED_TOKENS))
    metadata = json.loads((test_model_dir / "nvarc_model.json").read_text())
    config = json.loads((test_model_dir / "config.json").read_text())
    assert reply.parameter_count == metadata["parameter_count"]
    assert reply.max_seq_len == config["max_position_embeddings"]
    assert reply.architecture == "Qwen3ForCausalLM"
    assert reply.device == "cpu"
    assert reply.dtype == "float32"
    assert reply.model_path == str(test_model_dir)


def test_load_model_missing_path_not_found(sidecar, tmp_path):
    missing = tmp_path / "no-such-model"

    with pytest.raises(grpc.RpcError) as raised:
        sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(missing)), timeout=30)

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert str(missing) in raised.value.details()


def test_load_model_without_token_table(sidecar, test_model_dir, tmp_path):
    broken = tmp_path / "no-token-table"
    broken.mkdir()
    (broken / "config.json").write_text((test_model_dir / "config.json").read_text())

    with pytest.raises(grpc.RpcError) as raised:
        sidecar.stub.LoadModel(sidecar_pb2.LoadModelRequest(model_path=str(broken)), timeout=30)

    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "nvarc_tokens.json" in raised.value.details()


def test_load_model_with_unknown_dtype_is_invalid_argument(sidecar, test_model_dir):
    request = sidecar_pb2.LoadModelRequest(model_path=str(test_model_dir), dtype="float8")

    with pytest.raises(grpc.RpcError) as raised:
        sidecar.stub.LoadModel(request, timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "float8" in raised.value.details()


def test_invalid_variable_stops_start():
    env = {"NVARC_GRPC_MAX_MESSAGE_BYTES": "sixteen", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(SIDECAR_SRC)}

    result = subprocess.run([sys.executable, "-m", "nvarc_sidecar"], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2
    assert "NVARC_GRPC_MAX_MESSAGE_BYTES" in result.stderr
    assert "NVARC_SIDECAR_READY" not in result.stdout


def test_port_in_use_stops_start(sidecar):
    address = f"127.0.0.1:{sidecar.port}"
    env = {"NVARC_SIDECAR_ADDRESS": address, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(SIDECAR_SRC)}

    result = subprocess.run([sys.executable, "-m", "nvarc_sidecar"], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert address in result.stderr
    assert "NVARC_SIDECAR_READY" not in result.stdout
