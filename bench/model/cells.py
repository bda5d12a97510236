"""Cells (impl x workload x loop), their pyperf names, and selection by globs."""

from __future__ import annotations

import dataclasses
import fnmatch
import re

from .loops import DEFAULT_LOOPS, LOOPS

_NAME_RE = re.compile(r"^(?P<impl>[^/@#]+)/(?P<workload>[^/@#]+)/(?P<loop>[^/@#]+)"
                      r"(?:@n=(?P<n>\d+)|#(?P<metric>[a-z][a-z0-9_@=]*))?$")


class SelectionError(ValueError):
    """A filter the user gave matches nothing or names something unusable."""


@dataclasses.dataclass(frozen=True, order=True)
class Cell:
    impl: str
    workload: str
    loop: str

    @property
    def name(self) -> str:
        return f"{self.impl}/{self.workload}/{self.loop}"

    def bench_name(self, n: int) -> str:
        """The pyperf benchmark name of this cell at size ``n``."""
        return f"{self.name}@n={n}"

    def metric_name(self, metric: str) -> str:
        """The pyperf benchmark name of a figure of this cell other than the per-size timings (``#first_item``)."""
        return f"{self.name}#{metric}"

    @classmethod
    def parse(cls, name: str) -> tuple["Cell", int | None]:
        """``impl/workload/loop[@n=N]`` -> (cell, n or None)."""
        cell, n, metric = cls.parse_any(name)
        if metric is not None:
            raise SelectionError(f"{name!r} is not a cell name (impl/workload/loop)")
        return cell, n

    @classmethod
    def parse_any(cls, name: str) -> tuple["Cell", int | None, str | None]:
        """``impl/workload/loop[@n=N | #metric]`` -> (cell, n or None, metric or None)."""
        m = _NAME_RE.match(name)
        if not m:
            raise SelectionError(f"{name!r} is not a cell name (impl/workload/loop)")
        n = m.group("n")
        return cls(m.group("impl"), m.group("workload"), m.group("loop")), (int(n) if n else None), m.group("metric")


def split_globs(text: str | None) -> list[str]:
    return [g.strip() for g in (text or "").split(",") if g.strip()]


def _pick(kind: str, globs: list[str], choices: list[str]) -> list[str]:
    picked = []
    for glob in globs:
        hits = fnmatch.filter(choices, glob)
        if not hits:
            raise SelectionError(f"{kind} {glob!r} matches nothing (choices: {', '.join(choices)})")
        picked += [h for h in hits if h not in picked]
    return [c for c in choices if c in picked]  # registry order, stable


def select(registry, impls: str | None = None, workloads: str | None = None, loops: str | None = None,
           available=None):
    """The cells a run measures and notes about loops skipped; raises SelectionError on bad filters.

    ``available(loop)`` tells whether a loop is installed (default: in this interpreter).
    """
    available = available or (lambda name: LOOPS[name].available)
    notes = []
    impl_names = _pick("impl", split_globs(impls) or ["*"], list(registry.names()))
    implemented = {w for impl in registry.impls for w in impl.workloads}
    known = registry.workload_names()
    workload_globs = split_globs(workloads)
    workload_names = _pick("workload", workload_globs or ["*"], [w for w in known if w in implemented])
    for name in list(workload_names):
        record = registry.workload(name)
        if record.available:
            continue
        if name in workload_globs:  # asked for by name: say how to get it
            raise SelectionError(f"workload {name!r} needs {record.requires}, which is not installed: {record.install}")
        workload_names.remove(name)
        notes.append(f"note: skipping workload {name!r}: {record.requires} is not installed ({record.install})")
    if not workload_names:
        raise SelectionError("no selected workload is installed")
    loop_globs = split_globs(loops)
    if loop_globs:
        loop_names = _pick("loop", loop_globs, list(LOOPS))
        for glob in loop_globs:
            if glob in LOOPS and not available(glob):
                spec = LOOPS[glob]
                raise SelectionError(f"loop {spec.name!r} is not installed: {spec.install}")
    else:
        loop_names = list(DEFAULT_LOOPS)
    usable = []
    for name in loop_names:
        if available(name):
            usable.append(name)
        else:
            notes.append(f"note: skipping loop {name!r}: not installed ({LOOPS[name].install})")
    if not usable:
        raise SelectionError("no selected event loop is installed")
    pairs = [(i, w) for i, w in registry.pairs() if i in impl_names and w in workload_names]
    if not pairs:
        raise SelectionError(
            f"no impl in {', '.join(impl_names)} implements workload {', '.join(workload_names)} (see 'list')"
        )
    cells = tuple(Cell(i, w, loop) for i, w in pairs for loop in usable)
    return cells, notes
