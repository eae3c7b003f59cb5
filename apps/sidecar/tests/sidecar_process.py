"""Start a real sidecar process on 127.0.0.1 with port 0 and talk to it over gRPC."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc

from nvarc_sidecar.protos import sidecar_pb2_grpc

SIDECAR_SRC = Path(__file__).resolve().parents[1] / "src"
READY_TIMEOUT_S = 120.0  # torch and transformers imports dominate the start time
# Above any server limit the tests set, so that the server's own limit is what a test exercises.
CLIENT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class SidecarProcess:
    """A `python -m nvarc_sidecar` child process, its gRPC stub and its JSON log lines."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        env = dict(os.environ)
        env.update({
            # The package is importable without `pip install -e` as well.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SIDECAR_SRC), env.get("PYTHONPATH")])),
            "NVARC_SIDECAR_ADDRESS": "127.0.0.1:0",
            "NVARC_SIDECAR_TORCH_THREADS": "1",
            "NVARC_LOG_LEVEL": "info",
        })
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nvarc_sidecar"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.log_lines: list[str] = []
        threading.Thread(target=self._collect_logs, daemon=True).start()
        self.port = self._wait_ready()
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[("grpc.max_receive_message_length", CLIENT_MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", CLIENT_MAX_MESSAGE_BYTES)],
        )
        self.stub = sidecar_pb2_grpc.SidecarStub(self.channel)

    def _wait_ready(self) -> int:
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=READY_TIMEOUT_S)
        line = first_line[0] if first_line else ""
        if not line.startswith("NVARC_SIDECAR_READY port="):
            self.process.kill()
            raise RuntimeError(f"sidecar did not start within {READY_TIMEOUT_S} s; stdout {line!r}; "
                               f"last logs {self.log_lines[-5:]}")
        return int(line.strip().split("port=")[1])

    def _collect_logs(self) -> None:
        for line in self.process.stderr:
            self.log_lines.append(line.rstrip("\n"))

    def log_records(self) -> list[dict]:
        """Parse the JSON log lines written so far (non-JSON lines are skipped)."""
        records = []
        for line in list(self.log_lines):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def wait_for_log(self, predicate, timeout_s: float) -> dict | None:
        """Return the first log record matching `predicate` within `timeout_s`, else None."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.log_records():
                if predicate(record):
                    return record
            time.sleep(0.05)
        return None

    def stop(self) -> int:
        """Send SIGTERM, wait for exit and return the exit code."""
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def create_model_dir(preset: str, seed: int, out_dir: Path) -> Path:
    """Create a model directory with the real create_model command."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SIDECAR_SRC), os.environ.get("PYTHONPATH")])))
    subprocess.run(
        [sys.executable, "-m", "nvarc_sidecar.create_model", "--preset", preset, "--seed", str(seed), "--out", str(out_dir)],
        check=True, capture_output=True, text=True, env=env,
    )
    return out_dir
