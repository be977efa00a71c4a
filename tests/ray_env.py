"""Quiet, light settings for a local Ray in tests (see shared/RAY_NOTES.md)."""

import os
import tempfile

RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}


def ray_temp_dir() -> str:
    # Short path: Ray's unix sockets live under it and socket paths are limited to ~107 characters.
    return tempfile.mkdtemp(prefix="nasray", dir="/tmp")


def apply() -> None:
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)


def init_local_ray(num_cpus: int = 2) -> None:
    """Start the tests' local Ray the way `nas search` starts its own: on loopback only, so a test opens
    no port beyond 127.0.0.1 (nas.searching.cluster)."""
    import ray

    from nas.searching.cluster import loopback_only

    with loopback_only():
        ray.init(
            address="local",
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            _temp_dir=ray_temp_dir(),
            _node_ip_address="127.0.0.1",
        )
