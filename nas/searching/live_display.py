"""Live progress of a search with rich, or one plain line per finished candidate in quiet mode (for logs)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LiveDisplay:
    """The terminal view of a running search, redrawn from its SearchCounts: a rich live panel on stderr, or
    one plain line per finished candidate when `quiet`."""

    def __init__(self, progress, config, quiet: bool = False, run_path=None):
        self.progress, self.config, self.quiet, self.run_path = progress, config, quiet, run_path
        self.console = Console(stderr=True)
        self.live: Live | None = None

    def __rich__(self):
        p = self.progress
        total = f"/{p.total}" if p.total is not None else ""
        counts = (
            f"done {p.done}{total} · running {p.running} · failed {p.failed} · stopped early {p.stopped} · "
            f"elapsed {_duration(p.elapsed())} · remaining ~{_duration(p.eta_s())}"
        )
        lines = [
            Text(f"{self.config.name}: {self.config.strategy} on {self.config.space}", style="bold"),
            *([Text(f"results: {self.run_path}", style="dim")] if self.run_path else []),
            Text(counts),
        ]
        if p.best is None:
            lines.append(Text("best validation accuracy: none yet"))
        else:
            lines.append(
                Text(
                    f"best validation accuracy {p.best['val_accuracy']:.4f} "
                    f"({p.best['trial_id']}, hash {p.best['arch_hash']}):",
                    style="green",
                )
            )
            lines.append(Text(self._arch_text(p.best["arch"])))
        return Group(*lines)

    @staticmethod
    def _arch_text(arch_json: str) -> str:
        import search_spaces

        try:
            return str(search_spaces.arch_from_json(arch_json))
        except search_spaces.ArchitectureError:
            return arch_json

    def on_result(self, row: dict[str, Any]) -> None:
        if self.quiet:
            accuracy = "-" if row.get("val_accuracy") is None else f"{row['val_accuracy']:.4f}"
            error = f" error={row['error']}" if row.get("error") else ""
            print(
                f"{row['trial_id']} {row['status']} val_accuracy={accuracy} hash={row['arch_hash']} "
                f"done={self.progress.done}{error}",
                file=sys.stderr,
                flush=True,
            )

    def __enter__(self) -> LiveDisplay:
        if not self.quiet:
            self.live = Live(self, console=self.console, refresh_per_second=2, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
