"""``ab`` and ``calibrate``: two sides measured in the same job, in alternating worker processes.

A side is an interpreter and, optionally, a source folder put first on
``sys.path`` for impls and plug-in modules; the harness always comes from the
installed suite. Each side is probed first (is it a Python, has it pyperf,
which loops and impls does it offer), so that bad input fails in a second,
before anything is measured.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess

from ..model.cells import SelectionError, select
from .children import run_child
from .rounds import Side

PROBE_TIMEOUT = 60.0


class SideError(ValueError):
    """A side cannot be used; one line naming it."""


@dataclasses.dataclass(frozen=True)
class ProbedImpl:
    name: str
    family: str
    workloads: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ProbedWorkload:
    name: str
    module: str = "aiterbench.impls"
    available: bool = True
    requires: str | None = None
    install: str = ""


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one side's interpreter offers, as its worker reported it."""

    side: Side
    implementation: str
    version: str
    loops: dict
    impls: tuple[ProbedImpl, ...]
    workloads: tuple[ProbedWorkload, ...] = ()

    # The registry interface ``select`` uses.
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.impls)

    def workload_names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.workloads)

    def workload(self, name: str) -> ProbedWorkload:
        return next(w for w in self.workloads if w.name == name)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((i.name, w) for i in self.impls for w in i.workloads)

    def available(self, loop: str) -> bool:
        return self.loops.get(loop) is not None


def make_side(name: str, python: str | None, path: str | None) -> Side:
    """A side from the command line's values; SideError for a missing interpreter or folder."""
    import sys

    exe = sys.executable
    if python:
        found = shutil.which(python) if os.sep not in python else python
        if not found or not os.path.isfile(found):
            raise SideError(f"--{name}-python {python}: no such interpreter")
        if not os.access(found, os.X_OK):
            raise SideError(f"--{name}-python {python}: not executable")
        exe = os.path.abspath(found)
    if path is not None:
        if not os.path.isdir(path):
            raise SideError(f"--{name}-path {path}: no such folder")
        path = os.path.abspath(path)
    return Side(name, exe, path)


def probe(side: Side, modules, env) -> Probe:
    """Ask the side's interpreter what it offers; SideError when it is not a usable Python."""
    from .workers import command

    cmd = command("--probe", (), modules, side.path, side.python)
    flag = f"--{side.name}-python" if side.name else "--python"
    try:
        proc = run_child(cmd, PROBE_TIMEOUT, env)
    except OSError as exc:
        raise SideError(f"{flag} {side.python}: cannot run it ({exc.strerror or exc})") from None
    except subprocess.TimeoutExpired:
        raise SideError(f"{flag} {side.python}: no answer within {PROBE_TIMEOUT:g} s") from None
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        if not isinstance(data, dict) or "version" not in data:
            raise ValueError
    except (ValueError, IndexError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SideError(f"{flag} {side.python}: not a Python this suite can run ({last})") from None
    if not data.get("pyperf"):
        raise SideError(f"{flag} {side.python}: pyperf is not installed there (pip install pyperf, or aiterbench)")
    if "error" in data:
        raise SideError(f"{side.name} side: {data['error']}")
    impls = tuple(ProbedImpl(i["name"], i["family"], tuple(i["workloads"])) for i in data["impls"])
    workloads = tuple(ProbedWorkload(**w) for w in data["workloads"])
    return Probe(side, data["implementation"], data["version"], data["loops"], impls, workloads)


def select_cells(probes, impls, workloads, loops):
    """Cells every side offers, in the first side's order, plus notes on what one side lacks.

    Raises SelectionError (bad input) when a filter matches nothing on every side.
    """
    chosen, notes = [], []
    for p in probes:
        cells, n = select(p, impls, workloads, loops, available=p.available)
        chosen.append(cells)
        notes += [f"{p.side.name}: {x}" for x in n]
    common = [c for c in chosen[0] if all(c in other for other in chosen[1:])]
    for p, cells in zip(probes, chosen):
        lacking = [c.name for c in cells if c not in common]
        if lacking:
            notes.append(f"note: only on the {p.side.name} side, not measured: {', '.join(lacking)}")
    if not common:
        raise SelectionError("the sides have no cell in common for these filters")
    return tuple(common), notes


def describe(probes) -> str:
    return "; ".join(f"{p.side.name}: {p.implementation} {p.version} ({p.side.python}"
                     f"{', ' + p.side.path if p.side.path else ''})" for p in probes)


