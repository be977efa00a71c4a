"""`nas search --address 127.0.0.1:PORT` against a Ray head that listens on loopback only, started by `ray
start` in its own process (as a user starts one), with the search run as the `nas` command in another: the
driver must join over loopback (Ray would otherwise look for the GCS at the machine's outward address and
retry for minutes). Slow (two Ray starts); stops only the processes it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nas.searching.cluster import is_loopback
from tests import ray_env
from tests.tiny_cifar import tiny_arrays, write_parquet

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
CLUSTER_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, head: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise AssertionError(f"`ray start` ended with code {head.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the Ray head did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


@pytest.fixture
def loopback_head(tmp_path):
    """A one-node Ray cluster on 127.0.0.1 only, in a separate process group; `--block` keeps `ray start` in
    the foreground so ending it ends the Ray processes it started (never `ray stop`, which would end every
    Ray of this machine's user)."""
    port = free_port()
    temp = ray_env.ray_temp_dir()
    env = {**os.environ, **ray_env.RAY_ENV, "PYTHONPATH": str(ROOT), CLUSTER_VARIABLE: "0"}
    env.pop("RAY_ADDRESS", None)
    ports = {
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--runtime-env-agent-port": free_port(),
        "--metrics-export-port": free_port(),
    }
    command = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    command += [
        "--num-cpus",
        "2",
        "--include-dashboard",
        "false",
        "--disable-usage-stats",
        "--temp-dir",
        temp,
    ]
    command += [str(x) for item in ports.items() for x in item]
    head = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=open(tmp_path / "head.log", "w"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_listening(port, head, tmp_path / "head.log")
        yield f"127.0.0.1:{port}"
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGTERM)  # its own group: `ray start` and what it started
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
                head.wait()


def test_address_on_loopback_is_joined_over_loopback(loopback_head, tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    env = {**os.environ, **ray_env.RAY_ENV, "PYTHONPATH": str(ROOT), "NAS_CACHE_DIR": str(tmp_path / "cache")}
    for name in (CLUSTER_VARIABLE, "RAY_ADDRESS"):  # the driver as a user runs it: no hint from the tests
        env.pop(name, None)
    command = [sys.executable, "-m", "nas", "search", "--address", loopback_head, "--strategy", "random"]
    command += ["--space", "nb201", "--preset", "smoke", "--trials", "2", "--concurrency", "1"]
    command += ["--data", str(data), "--val-size", "20", "--name", "loop", "--quiet"]
    command += ["--results-dir", str(tmp_path / "runs")]
    # A driver that looks for the GCS at the outward address retries for minutes: the timeout fails it.
    proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, (proc.stderr[-3000:], (tmp_path / "head.log").read_text()[-2000:])
    run = tmp_path / "runs" / "loop"
    assert json.loads((run / "config.json").read_text())["address"] == loopback_head
    log = (run / "search.log").read_text()
    assert f"Connecting to existing Ray cluster at address: {loopback_head}" in log, log[-2000:]
    assert "Failed to connect to GCS" not in log + proc.stderr
    rows = pq.read_table(run / "trials.parquet").to_pylist()
    assert len(rows) == 2 and all(r["status"] == "completed" for r in rows)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:6379", True),
        ("127.3.2.1:6379", True),
        ("localhost:6379", True),
        ("[::1]:6379", True),
        ("10.0.0.1:6379", False),
        ("head.example:6379", False),
        ("ray://127.0.0.1:10001", False),  # refused elsewhere: Ray Client
        ("auto", False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback
