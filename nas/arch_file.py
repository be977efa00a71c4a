"""Architectures the user names (a JSON file written by `search_spaces.to_json`, or a run's row), read into
values or one-line UserErrors that say what is wrong and how to fix it. Torch-free."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import search_spaces
from nas.errors import UserError
from search_spaces import Architecture


def is_known_cell(name: str | os.PathLike) -> bool:
    """Whether `name` is a published cell of search_spaces.known_cells (and no file of that name exists)."""
    from search_spaces.known_cells import KNOWN_CELLS

    return str(name) in KNOWN_CELLS and not Path(name).exists()


def read_arch_json(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in `path`, checked only for being an architecture's (an object with a "space" key), so
    a caller can look at its space before reading it with that space's options. A known cell's name
    (search_spaces.known_cells, e.g. darts_v2) stands for that cell wherever an architecture file is taken."""
    if is_known_cell(path):
        from search_spaces.known_cells import KNOWN_CELLS

        return json.loads(search_spaces.to_json(KNOWN_CELLS[str(path)]))
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        from search_spaces.known_cells import KNOWN_CELLS

        raise UserError(
            f"no architecture file {path}; pass a JSON file saved with search_spaces.to_json or a known cell "
            f"({', '.join(sorted(KNOWN_CELLS))})"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(
            f"cannot read architecture file {path} ({type(e).__name__}); pass a JSON file "
            "written by search_spaces.to_json"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not a readable architecture: not valid JSON ({e})") from None
    if not isinstance(data, dict) or "space" not in data:
        raise UserError(f'{path} is not a readable architecture: expected a JSON object with a "space" key')
    return data


def arch_from_data(
    data: str | Mapping[str, Any], where: str, space_options: Mapping[str, Any] | None = None
) -> Architecture:
    """An architecture from its JSON text or dict, validated by its space (made with `space_options`); `where`
    names it in the error (a file, or "run R's best candidate")."""
    try:
        return search_spaces.arch_from_json(
            data if isinstance(data, str) else dict(data), **dict(space_options or {})
        )
    except (search_spaces.ArchitectureError, TypeError) as e:
        raise UserError(f"{where} is not a readable architecture: {e}") from None


def read_arch_file(path: str | os.PathLike, space_options: Mapping[str, Any] | None = None) -> Architecture:
    """The architecture in a JSON file written by `search_spaces.to_json`."""
    return arch_from_data(read_arch_json(path), str(path), space_options)
