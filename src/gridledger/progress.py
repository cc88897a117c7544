"""Progress reporting that scenarios can use without knowing whether a terminal is attached."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[float], None]


class Reporter:
    """Thin wrapper over a Rich :class:`~rich.progress.Progress` (or nothing, when silent)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress

    def task(self, description: str, total: float) -> Advance:
        """Start a bar; returns a function advancing it by a number of steps."""
        if self._progress is None:
            return lambda steps=1.0: None
        task_id = self._progress.add_task(description, total=total)
        progress = self._progress
        return lambda steps=1.0: progress.advance(task_id, steps)


SILENT = Reporter(None)


def rich_progress(transient: bool = False) -> Progress:
    """The progress display used by the CLI (on stderr, so that --json output stays clean)."""
    from rich.console import Console

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=transient)
