"""What a report shows, read from one or more result files: cells grouped by environment."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from bench.analysis import (KIND_COUNT, Cell, CellData, Environment, Estimate, ResultError, Row, analyze, labels,
                            load_results, median_ci)


class ReportError(ValueError):
    """The inputs cannot make a report; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class Group:
    """All cells measured in one environment: the unit every chart and finding is about."""

    label: str  # what sets this environment apart from the others in the report ("3.11", "3.12 · Intel Xeon")
    environment: Environment
    sources: tuple[str, ...]
    data: Mapping[Cell, CellData]
    rows: tuple[Row, ...]

    @property
    def python_version(self) -> str:
        return self.environment.python_version

    @property
    def implementation(self) -> str:
        return self.environment.implementation

    @property
    def host(self) -> str:
        return self.environment.hostname

    @property
    def cpu(self) -> str:
        return self.environment.cpu

    def row(self, cell: Cell) -> Row | None:
        for r in self.rows:
            if r.cell == cell:
                return r
        return None

    @property
    def loops(self) -> tuple[str, ...]:
        return tuple(sorted({c.loop for c in self.data}, key=_loop_order))

    @property
    def workloads(self) -> tuple[str, ...]:
        from impls import workloads

        present = {c.workload for c in self.data}
        return tuple(w for w in workloads() if w in present) + tuple(sorted(present - set(workloads())))

    @property
    def impls(self) -> tuple[str, ...]:
        from impls import names

        seen = {r.cell.impl for r in self.rows}
        builtin = [n for n in names() if n in seen]  # the suite's order, then plug-ins by name
        return tuple(builtin + sorted(seen - set(builtin)))

    def per_size(self, cell: Cell) -> dict[int, Estimate]:
        """Median seconds per item at each size over processes, with its interval."""
        by_n: dict[int, list[float]] = {}
        for values in self.data[cell].per_round.values():
            for n, v in values.items():
                by_n.setdefault(n, []).append(v)
        return {n: median_ci(vs) for n, vs in sorted(by_n.items())}


def _loop_order(name: str) -> tuple[int, str]:
    order = {"asyncio": 0, "uvloop": 1, "rloop": 2}
    return order.get(name, 9), name


@dataclasses.dataclass(frozen=True)
class Dataset:
    groups: tuple[Group, ...]

    @property
    def cell_count(self) -> int:
        return sum(len(g.data) for g in self.groups)


def load(paths: Sequence[str]) -> Dataset:
    """Read result files into one group per environment; ReportError on unusable input.

    Runs from different environments (Python, machine, loop versions, inherited
    variables) are never pooled; runs of one environment are, across files.
    """
    try:
        sets = [s for s in load_results(paths) if s.kind != KIND_COUNT]
    except ResultError as exc:
        raise ReportError(str(exc)) from None
    if not sets:
        raise ReportError("no timing results among the inputs (instruction counts are read by 'show' and 'compare')")
    names = labels([s.environment for s in sets])
    groups = [Group(label, s.environment, s.sources, s.cells, tuple(analyze(s.cells))) for label, s in zip(names, sets)]
    return Dataset(tuple(groups))
