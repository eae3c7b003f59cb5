"""Sidecar settings read once from environment variables and validated at start.

| variable | default | meaning |
|---|---|---|
| NVARC_SIDECAR_ADDRESS | 127.0.0.1:50051 | host:port to listen on; port 0 picks a free port |
| NVARC_GRPC_MAX_MESSAGE_BYTES | 16777216 (16 MiB) | max size of one gRPC message, sent or received |
| NVARC_SIDECAR_TORCH_THREADS | 1 | torch intra-op threads; 0 keeps torch's default (one per core) |
| NVARC_SIDECAR_MODEL_ROOT | repository root | directory that relative model paths are resolved against |
| NVARC_SIDECAR_SHUTDOWN_GRACE_S | 30 | seconds in-flight calls get to finish after SIGTERM or SIGINT |
| NVARC_LOG_LEVEL | info | debug, info, warning or error (pino's warn, fatal, trace and silent also work) |

Any other variable named NVARC_SIDECAR_* is rejected, so a misspelt name fails at start
instead of being ignored.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ADDRESS_VAR = "NVARC_SIDECAR_ADDRESS"
MAX_MESSAGE_BYTES_VAR = "NVARC_GRPC_MAX_MESSAGE_BYTES"
TORCH_THREADS_VAR = "NVARC_SIDECAR_TORCH_THREADS"
MODEL_ROOT_VAR = "NVARC_SIDECAR_MODEL_ROOT"
SHUTDOWN_GRACE_VAR = "NVARC_SIDECAR_SHUTDOWN_GRACE_S"
LOG_LEVEL_VAR = "NVARC_LOG_LEVEL"

_KNOWN_SIDECAR_VARS = {ADDRESS_VAR, TORCH_THREADS_VAR, MODEL_ROOT_VAR, SHUTDOWN_GRACE_VAR}
_LOG_LEVELS = ("debug", "info", "warning", "error")
_MIN_MESSAGE_BYTES = 1024
_MAX_MESSAGE_BYTES = 2**31 - 1  # gRPC stores message limits in a signed 32-bit int.


class ConfigError(ValueError):
    """An environment variable has an invalid value; the message names the variable."""


@dataclass(frozen=True)
class SidecarConfig:
    """Validated sidecar settings; see the module docstring for defaults and units."""

    host: str
    port: int
    max_message_bytes: int
    torch_threads: int
    model_root: Path
    shutdown_grace_s: float
    log_level: str

    @property
    def address(self) -> str:
        """Listen address as given to gRPC, `host:port`."""
        return f"{self.host}:{self.port}"


def load_config(environ: Mapping[str, str] | None = None) -> SidecarConfig:
    """Read and validate the sidecar's environment variables.

    Raises:
        ConfigError: a variable is malformed, out of range or unknown.
    """
    env = os.environ if environ is None else environ
    unknown = sorted(name for name in env if name.startswith("NVARC_SIDECAR_") and name not in _KNOWN_SIDECAR_VARS)
    if unknown:
        raise ConfigError(f"unknown variable {unknown[0]}; known sidecar variables are {sorted(_KNOWN_SIDECAR_VARS)}")

    host, port = _parse_address(env.get(ADDRESS_VAR, "127.0.0.1:50051"))
    return SidecarConfig(
        host=host,
        port=port,
        max_message_bytes=_parse_int(env, MAX_MESSAGE_BYTES_VAR, 16 * 1024 * 1024, _MIN_MESSAGE_BYTES, _MAX_MESSAGE_BYTES),
        torch_threads=_parse_int(env, TORCH_THREADS_VAR, 1, 0, 1024),
        model_root=_parse_model_root(env.get(MODEL_ROOT_VAR)),
        shutdown_grace_s=_parse_seconds(env, SHUTDOWN_GRACE_VAR, 30.0),
        log_level=_parse_log_level(env.get(LOG_LEVEL_VAR, "info")),
    )


def _parse_address(raw: str) -> tuple[str, int]:
    host, separator, port_text = raw.strip().rpartition(":")
    if not separator or not host:
        raise ConfigError(f"{ADDRESS_VAR}={raw!r} is invalid; expected host:port, for example 127.0.0.1:50051")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"{ADDRESS_VAR}={raw!r} has an invalid port; use 0..65535 (0 picks a free port)")
    return host, int(port_text)


def _parse_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; use a whole number in {minimum}..{maximum}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range; use a whole number in {minimum}..{maximum}")
    return value


def _parse_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name}={raw!r} must be a positive finite number of seconds")
    return value


def _parse_model_root(raw: str | None) -> Path:
    if raw is None or raw.strip() == "":
        return default_model_root()
    root = Path(raw.strip()).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"{MODEL_ROOT_VAR}={raw!r} is not an existing directory")
    return root


# The Node services read the same variable with pino's level names; accept those too.
_PINO_LEVELS = {"warn": "warning", "fatal": "error", "trace": "debug", "silent": "error"}


def _parse_log_level(raw: str) -> str:
    level = raw.strip().lower()
    level = _PINO_LEVELS.get(level, level)
    if level not in _LOG_LEVELS:
        raise ConfigError(f"{LOG_LEVEL_VAR}={raw!r} is invalid; use one of {', '.join(_LOG_LEVELS)}")
    return level.upper()


def default_model_root() -> Path:
    """Return the repository root when running from a checkout (apps/sidecar/src/...), else the working directory."""
    package_dir = Path(__file__).resolve().parent
    candidate = package_dir.parents[3]
    if package_dir.parents[2].name == "apps" and (candidate / "apps" / "sidecar").is_dir():
        return candidate
    return Path.cwd()
