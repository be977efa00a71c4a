"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ResultsDir = Annotated[
    Path | None,
    typer.Option(
        "--results-dir", envvar="NAS_RESULTS_DIR", help="Folder that holds runs by name (default: results)."
    ),
]
