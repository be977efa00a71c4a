"""The search's side of Ray: reach or start a cluster (failing fast), keep Ray's own log lines off the screen,
check the cluster's resources, and ship the run's data to the workers through Ray's object store.

Everything here that can refuse a run runs before the run folder is created, so a refused run writes nothing.
Ray is imported inside the functions: `import nas` and the CLI's help stay quick.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nas.errors import UserError, one_line
from nas.searching.config import SearchConfig

CONNECT_TIMEOUT_S = 5.0  # TCP probe of --address before ray.init, which would retry for minutes
GCS_PORT, CLIENT_PORT = (
    6379,
    10001,
)  # Ray's default ports: a cluster's GCS, and the Ray Client server (ray://)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RayLog:
    """Ray's and Tune's log lines (start-up notices, token-authentication notice, warnings) go to the run
    folder's search.log instead of the screen. Until the run folder exists they are held in memory, so a
    refused run writes them nowhere; `to_file` writes what was held and sends later lines there. `close`
    restores Ray's own handlers (a notebook keeps working as before)."""

    def __init__(self) -> None:
        self.held: list[logging.LogRecord] = []
        self.handler: logging.Handler = _Collect(self.held)
        self._saved: tuple[list[logging.Handler], int, bool] | None = None

    def open(self) -> RayLog:
        import ray  # noqa: F401  (configures the "ray" logger, whose handlers are replaced here)

        logger = logging.getLogger("ray")
        self._saved = (logger.handlers[:], logger.level, logger.propagate)
        logger.handlers = [self.handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        for name in ("ray.tune", "ray.train", "ray.data"):
            logging.getLogger(name).setLevel(logging.NOTSET)  # inherit INFO from "ray", into the file
        return self

    def to_file(self, path: Path) -> None:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        for record in self.held:
            handler.handle(record)
        self.held.clear()
        logger = logging.getLogger("ray")
        logger.handlers = [handler]
        self.handler = handler

    def close(self) -> None:
        if self._saved is None:
            return
        logger = logging.getLogger("ray")
        logger.handlers, level, logger.propagate = self._saved[0], self._saved[1], self._saved[2]
        logger.setLevel(level)
        if isinstance(self.handler, logging.FileHandler):
            self.handler.close()
        self._saved = None

    def tail(self, n: int = 3) -> str:
        return " | ".join(record.getMessage() for record in self.held[-n:])


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def probe_address(address: str) -> None:
    """Refuse an address nothing listens on within seconds (ray.init would retry for minutes)."""
    if address in ("auto", "local"):
        return
    if "://" in address:
        # Through Ray Client, Tune runs its controller (and so the strategy and the run folder) on the
        # cluster's head node, not here: this search's driver has to join the cluster itself.
        raise UserError(
            f"address: {address!r} is a Ray Client address, which would run the search's driver on the "
            "cluster; pass the cluster's GCS address HOST:PORT (e.g. 10.0.0.1:6379) from a machine that "
            "reaches the cluster's nodes"
        )
    host, port = split_address(address)
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UserError(
            f"cannot reach the Ray cluster at {address} ({reason} within {CONNECT_TIMEOUT_S:.0f} s); "
            "start it with `ray start --head`, or check --address / RAY_ADDRESS"
        ) from None


def split_address(address: str) -> tuple[str, int]:
    """HOST and PORT of a GCS address `HOST:PORT`, `[IPV6]:PORT` or `HOST` (Ray's default port)."""
    host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
    if host.count(":") > 0 and not host.startswith("["):  # a bare IPv6 address such as ::1, no port
        host, port_text = address, ""
    try:
        port = int(port_text) if port_text else GCS_PORT
    except ValueError:
        raise UserError(f"address: {address!r} is not HOST:PORT") from None
    return host.strip("[]") or "127.0.0.1", port


def is_loopback(address: str) -> bool:
    """Whether a GCS address names this machine's loopback (127.0.0.0/8, ::1 or localhost)."""
    if address in ("auto", "local") or "://" in address:
        return False
    host = split_address(address)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(address: str | None) -> bool:
    """Reach the cluster at `address`, or start a local Ray listening on loopback only; True when Ray was
    started or connected here (False: the caller had already initialised Ray, which is used as it is)."""
    if address:
        probe_address(address)  # also when Ray is up already: a wrong address is the user's to know
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return False
    try:
        if address:
            # A cluster on this machine's loopback: the driver must join it there too (loopback_only).
            with loopback_only() if is_loopback(address) else contextlib.nullcontext():
                ray.init(address=address, log_to_driver=False)
        else:
            with loopback_only():
                # "local": never join another Ray that happens to run on this machine.
                ray.init(
                    address="local",
                    include_dashboard=False,
                    log_to_driver=False,
                    _node_ip_address="127.0.0.1",
                )
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UserError(f"could not start or reach {where}: {one_line(e)[:300]}") from None
    return True


@contextlib.contextmanager
def loopback_only():
    """A single-machine search has no reason to listen beyond loopback. Ray turns 127.0.0.1 into the machine's
    outward address unless it believes clusters are off (its macOS/Windows default,
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); that belief only decides which IP a node announces and binds. The
    processes started here inherit the variable; the driver's copy of the flag is restored afterwards, so a
    later cluster connection in the same process (a notebook) is unaffected."""
    from ray._private import ray_constants

    name = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    saved_env, saved_flag = os.environ.get(name), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[name], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved_env


def resolve_resources(config: SearchConfig) -> SearchConfig:
    """Fill in GPUs per candidate and concurrency from what the Ray cluster has, once, at a run's first start
    (both are saved: the strategy's proposals depend on the concurrency), and refuse what no node can run."""
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    gpus_per_trial = (
        config.gpus_per_trial if config.gpus_per_trial is not None else (0.25 if gpus > 0 else 0.0)
    )
    if gpus_per_trial > 0 and gpus == 0:
        raise UserError(
            f"--gpus-per-trial {gpus_per_trial} asks for GPUs but the Ray cluster has none; "
            "pass --gpus-per-trial 0 to train on CPUs"
        )
    check_fits(config.cpus_per_trial, gpus_per_trial)
    concurrency = config.concurrency
    if concurrency is None:
        by_cpu = int(cpus // config.cpus_per_trial)
        by_gpu = int(gpus // gpus_per_trial) if gpus_per_trial > 0 else by_cpu
        concurrency = max(1, min(by_cpu, by_gpu))
    return replace(config, gpus_per_trial=gpus_per_trial, concurrency=concurrency)


def check_fits(cpus_per_trial: float, gpus_per_trial: float) -> None:
    """A candidate asking more than any one node has would wait in Tune's queue forever: refuse it now."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    most_cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    most_gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
    if cpus_per_trial > most_cpus:
        raise UserError(
            f"--cpus-per-trial {cpus_per_trial:g} is more than any node of the Ray cluster has "
            f"(at most {most_cpus:g}); lower it"
        )
    if gpus_per_trial > most_gpus:
        raise UserError(
            f"--gpus-per-trial {gpus_per_trial:g} is more than any node of the Ray cluster has "
            f"(at most {most_gpus:g}); lower it"
        )


@dataclass(frozen=True)
class ShippedData:
    """The run's training and validation images in Ray's object store, put there once by the driver. Each
    node fetches the object once into its own store; every worker process keeps what it read (`get`), so
    neither the data folder nor a shared filesystem is needed on the workers."""

    ref: Any  # ray.ObjectRef of nas.train.data.Splits
    key: str  # the object's id: the worker cache's key

    def get(self):
        if _WORKER_CACHE.get("key") != self.key:
            import ray

            _WORKER_CACHE.clear()  # one run's data at a time per process
            _WORKER_CACHE.update(key=self.key, splits=ray.get(self.ref))
        return _WORKER_CACHE["splits"]


_WORKER_CACHE: dict[str, Any] = {}


def ship(splits) -> ShippedData:
    import ray

    ref = ray.put(splits)
    return ShippedData(ref=ref, key=ref.hex())


class _Inbox:
    """Holds candidates' trained weights sent by workers until the driver takes them (a Ray actor on the
    driver's node, so what a worker sent survives the loss of that worker's node)."""

    def __init__(self) -> None:
        self.items: dict[int, bytes] = {}

    def put(self, key: int, blob: bytes) -> None:
        self.items[key] = blob

    def take(self, key: int) -> bytes | None:
        return self.items.pop(key, None)


def make_inbox():
    """The actor workers send weights to: no CPU, pinned to the driver's node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(num_cpus=0)(_Inbox).options(scheduling_strategy=here).remote()


def close_inbox(inbox) -> None:
    """End the inbox actor with its search (a notebook runs many searches on one Ray)."""
    import ray

    ray.kill(inbox)


def take_weights(inbox, key: int) -> bytes | None:
    import ray

    return ray.get(inbox.take.remote(key))
