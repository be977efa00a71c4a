"""The engine's version (pyproject.toml's), importable from any layer without running `nas/__init__`."""

__version__ = "0.1.0"
