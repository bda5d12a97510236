"""Running the matrix: pyperf worker processes, interleaved across cells in rounds.

First, one worker process per cell checks equivalence and calibrates loops per
size with pyperf. Then each round runs one worker process per *group*: the
cells compared with each other (same workload and loop), every size of each,
in an order rotated from round to round (``bench._worker`` in pyperf's worker
mode). Cells of a ratio thus share a process and a moment: a burst of
interference or an unlucky memory layout lands on both, and their ratio,
paired by round, cancels it; fewer process start-ups buy more rounds. Groups
are visited forward, then backward, so slow drift lands on all alike.
After every round the result file is rewritten atomically: an interrupted run
keeps the rounds it finished; a cell that fails or hangs is dropped (its
group is retried cell by cell to find it), the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Sequence

from ._matrix import Cell
from ._results import dump_suite
from ._timing import EXIT_NOT_EQUIVALENT



@dataclasses.dataclass(frozen=True)
class Budget:
    """How much measuring a run does."""

    sizes: tuple[int, ...]
    rounds: int
    values: int
    warmups: int
    min_time: float
    cell_timeout: float  # seconds one worker process may take before the cell counts as hung

    def __post_init__(self) -> None:
        if len(self.sizes) != len(set(self.sizes)):
            raise ValueError(f"sizes {','.join(map(str, self.sizes))} repeat a size")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError("need at least two distinct sizes >= 1")
        object.__setattr__(self, "sizes", tuple(sorted(self.sizes)))
        if self.rounds < 2:
            raise ValueError("need at least two rounds (six for a 95% interval)")
        if self.values < 1 or self.warmups < 0:
            raise ValueError("values >= 1 and warmups >= 0")
        if not (0 < self.min_time <= 60 and 0 < self.cell_timeout <= 86400):
            raise ValueError("min_time in (0, 60] s and cell_timeout in (0, 86400] s")


QUICK = Budget(sizes=(16, 256, 4096), rounds=15, values=3, warmups=1, min_time=0.005, cell_timeout=60.0)
FULL = Budget(sizes=(16, 256, 4096), rounds=20, values=3, warmups=1, min_time=0.05, cell_timeout=300.0)


@dataclasses.dataclass(frozen=True)
class Failure:
    cell: Cell
    reason: str


@dataclasses.dataclass
class Outcome:
    benchmarks: dict  # bench name -> pyperf.Benchmark
    failures: list
    rounds_done: int
    interrupted: bool = False


class _CellFailed(Exception):
    pass


def _worker_cmd(cells: Sequence[Cell], budget: Budget, modules: Sequence[str], out: str, extra: Sequence[str],
                calibrate: bool = False) -> list:
    # Calibration only needs the loop count: one value past min_time, no warmup.
    values, warmups = (1, 0) if calibrate else (budget.values, budget.warmups)
    cmd = [sys.executable, "-m", "bench._worker", "--worker",
           "--sizes", ",".join(map(str, budget.sizes)), "--values", str(values),
           "--warmups", str(warmups), "--min-time", repr(budget.min_time), "-o", out]
    for cell in cells:
        cmd += ["--cell", cell.name]
    for module in modules:
        cmd += ["--impl-module", module]
    return cmd + list(extra)


def _spawn(cells: Sequence[Cell], budget: Budget, modules, tmpdir: str, extra: Sequence[str]):
    import pyperf

    out = os.path.join(tmpdir, f"w{time.monotonic_ns()}.json")
    cmd = _worker_cmd(cells, budget, modules, out, extra, calibrate="--calibrate-loops" in extra)
    limit = budget.cell_timeout * len(cells)
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise _CellFailed(f"hung: no result within {limit:g} s (per-cell time limit)") from None
    if proc.returncode == -signal.SIGINT or "Benchmark worker interrupted: exit" in (proc.stderr or ""):
        raise KeyboardInterrupt  # Ctrl-C reached the worker first: stop, do not blame the cell
    if proc.returncode != 0 or not os.path.exists(out):
        lines = [ln for ln in (proc.stderr or proc.stdout or "").strip().splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else f"worker exited with code {proc.returncode}"
        if proc.returncode == EXIT_NOT_EQUIVALENT:
            reason = "refused before timing: " + reason
        raise _CellFailed(reason)
    try:
        return pyperf.BenchmarkSuite.load(out)
    finally:
        os.unlink(out)


def run_matrix(
    cells: Sequence[Cell],
    budget: Budget,
    modules: Sequence[str] = (),
    on_step: Callable[[str, Cell | None], None] = lambda what, cell: None,
    on_round: Callable[[dict], None] = lambda benchmarks: None,
) -> Outcome:
    """Measure ``cells``; ``on_step`` is told before each worker, ``on_round`` after each round."""
    import uuid

    run_id = uuid.uuid4().hex[:12]
    outcome = Outcome(benchmarks={}, failures=[], rounds_done=0)
    size_loops: dict[str, int] = {}  # benchmark name -> loops, from calibration
    live = list(cells)

    def add(suite) -> None:
        for bench in suite.get_benchmarks():
            name = bench.get_name()
            if name in outcome.benchmarks:
                outcome.benchmarks[name].add_runs(bench)
            else:
                outcome.benchmarks[name] = bench

    def fail(cell: Cell, reason: str) -> None:
        outcome.failures.append(Failure(cell, reason))
        live.remove(cell)
        for n in budget.sizes:  # a failed cell leaves nothing half-measured behind
            outcome.benchmarks.pop(cell.bench_name(n), None)

    def measure(group: list[Cell], rnd: int) -> None:
        extra = ["--loops", "1", "--size-loops", json.dumps({c.bench_name(n): size_loops[c.bench_name(n)]
                                                             for c in group for n in budget.sizes}),
                 "--round", str(rnd), "--run-id", run_id]
        try:
            add(_spawn(group, budget, modules, tmpdir, extra))
        except _CellFailed as exc:
            if len(group) == 1:
                fail(group[0], str(exc))
                return
            for cell in group:  # find the culprit; the others keep this round
                measure([cell], rnd)

    with tempfile.TemporaryDirectory(prefix="aiterbench-") as tmpdir:
        try:
            for cell in list(live):
                on_step("check+calibrate", cell)
                try:
                    suite = _spawn([cell], budget, modules, tmpdir, ["--calibrate-loops"])
                except _CellFailed as exc:
                    fail(cell, str(exc))
                    continue
                for bench in suite.get_benchmarks():
                    size_loops[bench.get_name()] = bench.get_runs()[-1].get_metadata()["calibrate_loops"]
                add(suite)
            for rnd in range(budget.rounds):
                groups = _groups(live)
                for group in groups if rnd % 2 == 0 else groups[::-1]:
                    on_step(f"round {rnd + 1}/{budget.rounds}", group[0])
                    measure(group, rnd)
                outcome.rounds_done = rnd + 1
                on_round(outcome.benchmarks)
        except KeyboardInterrupt:
            outcome.interrupted = True
    return outcome


def _groups(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Cells compared with each other (same workload and loop), in first-seen order."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.workload, cell.loop), []).append(cell)
    return list(groups.values())


def steps(cells: Sequence[Cell], budget: Budget) -> int:
    """How many worker processes a run starts when nothing fails (for the progress bar)."""
    return len(cells) + budget.rounds * len(_groups(cells))


def save(benchmarks: dict, path: str, base=None) -> None:
    """Write the measured benchmarks (merged into ``base``, a loaded suite, if given) atomically."""
    import copy

    import pyperf

    merged = {}
    if base is not None:
        for bench in base.get_benchmarks():
            merged[bench.get_name()] = copy.deepcopy(bench)
    for name, bench in benchmarks.items():
        if name in merged:
            merged[name].add_runs(bench)
        else:
            merged[name] = bench
    if not any(run.values for bench in merged.values() for run in bench.get_runs()):
        return  # calibration only (interrupted early): never replace a file with nothing measured
    suite = pyperf.BenchmarkSuite([merged[name] for name in sorted(merged)])
    dump_suite(suite, path)
