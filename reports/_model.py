"""What a report shows, read from one or more result files: cells grouped by Python (and host)."""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from bench._matrix import Cell
from bench._results import CellData, ResultError, cells, load_suite
from bench._stats import Estimate, median_ci
from bench._table import Row, analyze


class ReportError(ValueError):
    """The inputs cannot make a report; the message says why in one line."""


@dataclasses.dataclass(frozen=True)
class Group:
    """All cells measured on one Python (and host): the unit every chart and finding is about."""

    label: str  # "3.11", or "3.11 @host" when the inputs span several hosts
    python_version: str  # e.g. "3.11.7"
    implementation: str
    host: str
    cpu: str
    sources: tuple[str, ...]
    data: Mapping[Cell, CellData]
    rows: tuple[Row, ...]

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


def _short(version: str) -> str:
    return ".".join(version.split()[0].split(".")[:2])


@dataclasses.dataclass(frozen=True)
class Dataset:
    groups: tuple[Group, ...]

    @property
    def cell_count(self) -> int:
        return sum(len(g.data) for g in self.groups)


def load(paths: Sequence[str]) -> Dataset:
    """Read result files into groups by Python version (and host); ReportError on unusable input."""
    paths = _expand(paths)
    merged: dict[tuple, dict] = {}
    for path in paths:
        try:
            suite = load_suite(path)
            data = cells(suite, path)
        except ResultError as exc:
            raise ReportError(str(exc)) from None
        if not data:
            raise ReportError(f"{path}: holds no benchmarks")
        md = suite.get_benchmarks()[0].get_metadata()
        version = str(md.get("python_version", "unknown")).split()[0]
        key = (str(md.get("python_implementation", "cpython")), _short(version), str(md.get("hostname", "")))
        entry = merged.setdefault(key, {"version": version, "cpu": str(md.get("cpu_model_name", "")), "sources": [], "data": {}})
        entry["sources"].append(path)
        for cell, cd in data.items():
            if cell in entry["data"]:
                rounds = dict(entry["data"][cell].per_round)
                rounds.update(cd.per_round)  # keys carry the run id: rounds of different runs stay apart
                cd = CellData(cell, rounds, {**entry["data"][cell].metadata, **cd.metadata})
            entry["data"][cell] = cd
    hosts = {k[2] for k in merged}
    groups = []
    for (impl, short, host), entry in sorted(merged.items(), key=lambda kv: (_version_key(kv[0][1]), kv[0][0], kv[0][2])):
        label = short if impl == "cpython" else f"{impl} {short}"
        if len(hosts) > 1:
            label += f" @{host or '?'}"
        data = dict(sorted(entry["data"].items()))
        groups.append(Group(label, entry["version"], impl, host, entry["cpu"], tuple(entry["sources"]), data, tuple(analyze(data))))
    return Dataset(tuple(groups))


def _expand(paths: Sequence[str]) -> list[str]:
    """Files as given; a folder stands for the ``*.json`` files in it."""
    import glob
    import os

    out = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "*.json")))
            if not found:
                raise ReportError(f"{path}: folder holds no .json result files")
            out += found
        else:
            out.append(path)
    if not out:
        raise ReportError("no result files given")
    return out


def _version_key(short: str) -> tuple:
    try:
        return tuple(int(p) for p in short.split("."))
    except ValueError:
        return (999, short)

