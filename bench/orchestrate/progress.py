"""Progress: a bar with the cell and ETA on a terminal, plain lines in CI and pipes."""

from __future__ import annotations

import os
import sys
import time


def wants_bar(stream=None) -> bool:
    stream = stream or sys.stderr
    return stream.isatty() and not os.environ.get("CI")


class PlainProgress:
    def __init__(self, total: int, stream=None):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.phase = None

    def step(self, phase: str, cell) -> None:
        self.total = max(self.total, self.done + 1)  # time-budgeted runs add rounds as they go
        if phase != self.phase:
            self._say(f"{phase}: {self.done}/{self.total} workers done, {time.monotonic() - self.start:.0f} s elapsed")
            self.phase = phase
        self.done += 1

    def note(self, text: str) -> None:
        self._say(text)

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        self._say(f"done: {self.done} workers in {time.monotonic() - self.start:.0f} s")


class BarProgress:
    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), transient=True,
            console=Console(stderr=True),  # the bar and its notes on stderr: stdout carries tables (--format md > f)
        )
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total)
        self.started = False

    def step(self, phase: str, cell) -> None:
        if self.started:
            self.progress.advance(self.task)
        self.started = True
        task = self.progress.tasks[0]
        total = max(task.total or 0, task.completed + 1)  # time-budgeted runs add rounds as they go
        self.progress.update(self.task, description=f"{phase} {cell.name}", total=total)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.progress.advance(self.task)
        self.progress.stop()


def progress(total: int):
    return BarProgress(total) if wants_bar() else PlainProgress(total)
