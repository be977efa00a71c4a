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
