"""MULTI-NODE SEARCH, SIMULATED ON ONE MACHINE (ray.cluster_utils.Cluster; the slowest test of this file set).

A head node without CPUs (the driver's machine: it alone has the data) and three one-CPU worker nodes, each
with its own Ray temp folder, all on 127.0.0.1. The data folder is deleted as soon as the run has started, so
the candidates can only train on what the driver shipped through Ray's object store; one worker node is
removed in the middle of the search. Every candidate must still be recorded exactly once.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests import ray_env

ray_env.apply()

import ray
from ray import cloudpickle
from ray._private import ray_constants
from ray.cluster_utils import Cluster

from nas.searching.config import make_config
from nas.searching.driver import run_search
from tests import fake_evaluators
from tests.tiny_cifar import tiny_arrays, write_parquet


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    temp = ray_env.ray_temp_dir()
    # Ray writes "the latest cluster" under its temp root; keep it off the machine-wide /tmp/ray so no other
    # Ray user on this machine connects to this test's cluster. All nodes on loopback (nas.searching.cluster).
    os.makedirs(f"{temp}/ray")
    monkeypatch.setenv("RAY_TMPDIR", temp)
    monkeypatch.setenv("TMPDIR", temp)
    monkeypatch.setenv(ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    monkeypatch.setenv("NAS_CACHE_DIR", str(tmp_path / "cache"))
    if ray.is_initialized():
        ray.shutdown()
    node = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
    c = Cluster(initialize_head=True, head_node_args={**node, "num_cpus": 0, "temp_dir": f"{temp}/head"})
    for i in range(3):
        c.add_node(**node, num_cpus=1, temp_dir=f"{temp}/worker{i}")
    ray.init(address=c.address, log_to_driver=False)
    cloudpickle.register_pickle_by_value(fake_evaluators)
    yield c
    ray.shutdown()
    c.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def test_search_on_a_cluster_without_shared_storage_survives_a_lost_node(cluster, tmp_path):
    data = write_parquet(tmp_path / "cifar", tiny_arrays(per_class_train=8, per_class_test=1))
    removed = []

    def delete_data(run) -> None:  # the run has started: the data is in the object store, not needed on disk
        shutil.rmtree(data)

    def lose_a_node(row) -> None:  # from the second result on: the first node with a candidate in flight
        if not removed and len(seen) >= 2:
            busy = {line.split()[2] for line in log.read_text().splitlines() if line.startswith("start")}
            busy -= {line.split()[2] for line in log.read_text().splitlines() if line.startswith("end")}
            node = next((n for n in cluster.worker_nodes if n.node_id in busy), None)
            if node is not None:
                cluster.remove_node(node)
                removed.append(node.node_id)

    seen = []
    config = make_config(
        {
            "name": "cluster",
            "strategy": "evolution",
            "space": "nb201",
            "preset": "smoke",
            "trials": 8,
            "concurrency": 3,
            "cpus_per_trial": 1,
            "gpus_per_trial": 0,
            "data": str(data),
            "val_size": 20,
        }
    )
    log = tmp_path / "nodes.log"
    outcome = run_search(
        config,
        results_dir=tmp_path / "runs",
        evaluator=fake_evaluators.NodeLoggingEvaluator(str(log)),
        quiet=True,
        on_start=delete_data,
        on_result=lambda row: (seen.append(row), lose_a_node(row)),
    )
    rows = outcome.run.trials()
    assert removed and not data.exists()
    assert outcome.finished
    assert sorted(r["proposal"] for r in rows) == list(range(8))  # every candidate exactly once
    assert {r["status"] for r in rows} == {"completed"}, [r["error"] for r in rows]
    # A candidate that was training on the lost node was trained again elsewhere, and recorded once.
    events = [line.split() for line in log.read_text().splitlines()]
    lost = {p for kind, p, node in events if kind == "start" and node == removed[0]}
    lost -= {p for kind, p, node in events if kind == "end" and node == removed[0]}
    assert lost and all(["end", p, removed[0]] not in events for p in lost)
    assert all(any(e[:2] == ["end", p] for e in events) for p in lost)
    assert (outcome.run.path / "best.pt").exists()  # the best candidate's weights came back through Ray
