"""What a report shows, read from one or more result files: cells grouped by environment."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from ..analysis import (KIND_COUNT, KIND_MEMORY, Cell, CellCount, CellData, Environment, Estimate, ExplainError,
                        Explanation, HistoryError, Memory, ResultError, Row, analyze, count_cells, expand,
                        group_by_environment, is_explanation, kind_of, labels, load_explanation, load_results,
                        load_suite, median_ci, memory_of, read_history)


class ReportError(ValueError):
    """The inputs cannot make a report; the message says why in one line."""


class _Axes:
    """Loops, workloads and impls present in a group, in the suite's order (``_cells``: the group's cells)."""

    def _cells(self):
        raise NotImplementedError

    @property
    def loops(self) -> tuple[str, ...]:
        return tuple(sorted({c.loop for c in self._cells()}, key=_loop_order))

    @property
    def workloads(self) -> tuple[str, ...]:
        from ..impls import workloads

        present = {c.workload for c in self._cells()}
        return tuple(w for w in workloads() if w in present) + tuple(sorted(present - set(workloads())))

    @property
    def impls(self) -> tuple[str, ...]:
        from ..impls import names

        seen = {c.impl for c in self._cells()}
        builtin = [n for n in names() if n in seen]  # the suite's order, then plug-ins by name
        return tuple(builtin + sorted(seen - set(builtin)))


@dataclasses.dataclass(frozen=True)
class Group(_Axes):
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

    def _cells(self):
        return list(self.data)

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
class MemoryGroup(_Axes):
    """The memory figures of one environment (``aiterbench memory`` files)."""

    label: str
    environment: Environment
    sources: tuple[str, ...]
    memories: tuple[Memory, ...]

    def get(self, cell: Cell) -> Memory | None:
        for m in self.memories:
            if m.cell == cell:
                return m
        return None

    def _cells(self):
        return [m.cell for m in self.memories]


@dataclasses.dataclass(frozen=True)
class CountGroup(_Axes):
    """The instruction counts of one environment (``count`` and ``ab --count`` files): a timing group's
    second signal when one shares its environment (then its label too), else a table of its own."""

    label: str
    environment: Environment
    sources: tuple[str, ...]
    counts: Mapping[Cell, CellCount]

    def get(self, cell: Cell) -> CellCount | None:
        return self.counts.get(cell)

    def ratio(self, cell: Cell, reference: str | None) -> float | None:
        """Instructions per item of ``cell`` over those of ``reference`` in its workload and loop, when both
        were counted (and the reference's count is positive)."""
        mine = self.counts.get(cell)
        ref = self.counts.get(Cell(reference, cell.workload, cell.loop)) if reference else None
        if mine is None or ref is None or ref.cell == cell or ref.per_item <= 0:
            return None
        return mine.per_item / ref.per_item

    def _cells(self):
        return list(self.counts)


@dataclasses.dataclass(frozen=True)
class HistoryGroup:
    """One environment's runs from a history database: per cell, its points by date."""

    label: str
    environment: Environment
    source: str
    series: tuple  # ((cell name, (Point, ...)), ...)


@dataclasses.dataclass(frozen=True)
class Why:
    """One ``explain`` document among the inputs: the report's "Why" section shows it."""

    source: str
    explanation: Explanation


@dataclasses.dataclass(frozen=True)
class Dataset:
    groups: tuple[Group, ...]
    memory: tuple[MemoryGroup, ...] = ()
    history: tuple[HistoryGroup, ...] = ()
    #: Instruction counts, one per environment; a count group and a timing group of one environment share a label.
    counts: tuple[CountGroup, ...] = ()
    why: tuple[Why, ...] = ()

    @property
    def cell_count(self) -> int:
        return sum(len(g.data) for g in self.groups)

    @property
    def counted_cells(self) -> int:
        return sum(len(c.counts) for c in self.counts)

    def counts_of(self, label: str) -> CountGroup | None:
        """The instruction counts of the environment labelled ``label``, if any were given."""
        return next((c for c in self.counts if c.label == label), None)

    @property
    def counts_alone(self) -> tuple[CountGroup, ...]:
        """Count groups of an environment that has no timings among the inputs: tables of their own."""
        timed = {g.label for g in self.groups}
        return tuple(c for c in self.counts if c.label not in timed)


def _merge(a: Memory, b: Memory) -> Memory:
    """Two files' figures of one cell in one environment: their processes together."""
    if a.live != b.live:
        raise ReportError(f"{a.cell.name}: memory figures measured with --live {a.live} and {b.live} cannot be "
                          "pooled: give files of one --live")
    return dataclasses.replace(a, held=a.held + b.held, held_hooked=a.held_hooked + b.held_hooked, peak=a.peak + b.peak,
                               allocs_per_item=a.allocs_per_item + b.allocs_per_item,
                               bytes_per_item=a.bytes_per_item + b.bytes_per_item)


def _once(paths: Sequence[str]) -> list[str]:
    """Each file once, however often it was named (itself and through its folder): read twice, a memory file's
    processes would count twice and an explanation be shown twice."""
    import os

    seen: dict[str, str] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path), path)
    return list(seen.values())


def _refuse_other_documents(path: str) -> None:
    """ReportError for a document a command printed (``show --format json``...): it is not the file it was made from."""
    import re

    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return  # load_suite says why, in its words
    found = re.search(r'"aiterbench_document"\s*:\s*"([^"]{1,40})"', head)
    if found:
        raise ReportError(f"{path}: an aiterbench {found.group(1)!r} document (a command's --format json output), "
                          "which report does not read: give it the result, count or memory files it was made from, "
                          "or explain documents")


def load(paths: Sequence[str], history: str | None = None) -> Dataset:
    """Read result, count and memory files into one group per environment, and explain documents as they are;
    ReportError on unusable input.

    Runs from different environments (Python, machine, loop versions, inherited
    variables, ab side) are never pooled; runs of one environment are, across files.
    Instruction counts join the timings of their environment: a count set takes the
    first timing group whose environment is ``compatible`` with its own (same Python,
    build, machine, aiterbench, variables and side, the same version of every loop
    both used) and that no other count set took; one that finds none is a group of
    its own. Every input is used or refused: nothing is left out in silence.
    """
    try:
        timing, counting, memory_parts, why = [], [], [], []
        for path in _once(expand(paths) if paths else []):
            if is_explanation(path):
                why.append(Why(path, load_explanation(path)))
                continue
            _refuse_other_documents(path)
            suite = load_suite(path)
            kind = kind_of(suite, path)
            if kind == KIND_MEMORY:
                memory_parts += [(env, (path, ms)) for env, ms in memory_of(suite, path)]
            elif kind == KIND_COUNT:
                counting.append(path)
            else:
                timing.append(path)
        sets = [s for s in load_results(timing)] if timing else []
        count_sets = [(s, count_cells(s.cells, ", ".join(s.sources))) for s in load_results(counting)] if counting else []
    except (ResultError, ExplainError) as exc:
        raise ReportError(str(exc)) from None
    trends: list = []
    if history:
        try:
            trends = group_by_environment((env, (cell, tuple(points))) for env, cell, points in read_history(history))
        except HistoryError as exc:
            raise ReportError(str(exc)) from None
    if not sets and not count_sets and not memory_parts and not trends and not why:
        raise ReportError("no timing results, instruction counts, explain documents, memory figures or history among "
                          "the inputs")
    memory = []
    for env, members in group_by_environment(memory_parts):
        cells: dict = {}
        sources: list[str] = []
        for path, ms in members:
            sources += [path] if path not in sources else []
            for m in ms:
                cells[m.cell] = _merge(cells[m.cell], m) if m.cell in cells else m
        memory.append((env, tuple(sources), tuple(cells[c] for c in sorted(cells))))
    # One label per environment: counts, memory figures and history of an environment that also has timings
    # take its label.
    envs = [s.environment for s in sets]

    def place(env, taken=()) -> int:
        match = next((i for i, e in enumerate(envs) if i not in taken and e.compatible(env)), None)
        if match is None:
            envs.append(env)
            match = len(envs) - 1
        return match

    where_counts: list[int] = []
    for s, _ in count_sets:  # two count sets never share a group: they are not of one environment
        where_counts.append(place(s.environment, where_counts))
    where = [place(env) for env, _, _ in memory]
    where_history = [place(env) for env, _ in trends]
    names = labels(envs)
    groups = [Group(label, s.environment, s.sources, s.cells, tuple(analyze(s.cells))) for label, s in zip(names, sets)]
    count_groups = [CountGroup(names[i], s.environment, s.sources, counts)
                    for i, (s, counts) in zip(where_counts, count_sets)]
    memory_groups = [MemoryGroup(names[i], env, sources, ms) for i, (env, sources, ms) in zip(where, memory)]
    history_groups = [HistoryGroup(names[i], env, history, tuple(cells))
                      for i, (env, cells) in zip(where_history, trends)]
    return Dataset(tuple(groups), tuple(memory_groups), tuple(history_groups), tuple(count_groups), tuple(why))
