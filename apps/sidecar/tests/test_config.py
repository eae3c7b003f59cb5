"""Environment parsing: defaults, ranges and unknown names."""

import pytest

from nvarc_sidecar.config import ConfigError, load_config


def test_defaults_when_nothing_is_set():
    config = load_config({})

    assert config.address == "127.0.0.1:50051"
    assert config.max_message_bytes == 16 * 1024 * 1024
    assert config.torch_threads == 1
    assert config.shutdown_grace_s == 30.0
    assert config.log_level == "INFO"


def test_port_zero_is_accepted():
    assert load_config({"NVARC_SIDECAR_ADDRESS": "127.0.0.1:0"}).port == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NVARC_SIDECAR_ADDRESS", "localhost"),
        ("NVARC_SIDECAR_ADDRESS", "127.0.0.1:70000"),
        ("NVARC_GRPC_MAX_MESSAGE_BYTES", "12"),
        ("NVARC_GRPC_MAX_MESSAGE_BYTES", "lots"),
        ("NVARC_SIDECAR_TORCH_THREADS", "-1"),
        ("NVARC_SIDECAR_MODEL_ROOT", "/no/such/directory"),
        ("NVARC_SIDECAR_SHUTDOWN_GRACE_S", "0"),
        ("NVARC_LOG_LEVEL", "loud"),
        ("NVARC_SIDECAR_TORCH_THREAD", "2"),
    ],
)
def test_invalid_value_names_variable(variable, value):
    with pytest.raises(ConfigError) as raised:
        load_config({variable: value})

    assert variable in str(raised.value)
