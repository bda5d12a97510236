"""``calibrate``: A/A runs on the machine at hand, and the smallest change they say ``ab`` can detect.

Both sides are the same interpreter and source; every difference between them
is this machine's noise. From the spread of the paired log ratios comes the
standard error of ``ab``'s estimate, and from it (normal approximation):

* a change is significant once it exceeds 1.96 standard errors, so a threshold
  below that is never reached by a verdict, only by noise;
* a change of ``threshold + 1.645`` standard errors is flagged 95% of the time.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time

from ..model.results import cells as result_cells
from ..stats.fit import Estimate, fit_cell
from ..stats.verdict import Z_INTERVAL, hodges_lehmann_paired
from .rounds import AB_QUICK, QUICK, balanced_rounds, run_matrix, steps

#: A change is significant past Z_SIGNIFICANT standard errors, and flagged 95% of the time Z_POWER beyond that.
Z_SIGNIFICANT, Z_POWER = Z_INTERVAL, statistics.NormalDist().inv_cdf(0.95)
#: Pairs ``ab --quick`` measures per cell with its rounds alone (one cell: whole units of sizes x sides).
AB_QUICK_ROUNDS = balanced_rounds(AB_QUICK.rounds, 1, len(AB_QUICK.sizes), 2)


@dataclasses.dataclass(frozen=True)
class CellCalibration:
    cell: object
    aa: Estimate  # NEW / BASE, both sides the same
    pairs: int
    se: float  # standard error of the log ratio at this budget
    quick_pairs: int

    @property
    def se_quick(self) -> float:
        return self.se * math.sqrt(self.pairs / self.quick_pairs)

    @property
    def floor_quick(self) -> float:
        """Smallest threshold worth setting for ``ab --quick``: below it, noise alone decides."""
        return math.expm1(Z_SIGNIFICANT * self.se_quick)

    def detects(self, se: float) -> float:
        """Smallest change flagged 95% of the time at the smallest useful threshold, for a standard error."""
        return math.expm1((Z_SIGNIFICANT + Z_POWER) * se)


@dataclasses.dataclass(frozen=True)
class Calibration:
    cells: tuple[CellCalibration, ...]
    rounds: int
    seconds: float
    notes: tuple[str, ...]
    failures: tuple
    interrupted: bool

    @property
    def quick_rounds(self) -> int:
        """Pairs ``ab --quick`` measures per cell with its rounds alone (the floor of ``quick_pairs``)."""
        return AB_QUICK_ROUNDS

    @property
    def suggested(self) -> float | None:
        """A --threshold for ``ab --quick`` on this machine: the largest floor over cells, rounded up to 0.5%."""
        if not self.cells:
            return None
        worst = max(c.floor_quick for c in self.cells)
        return max(0.005, math.ceil(worst * 200) / 200)


def from_log_ratios(cell, logs, quick_pairs: int) -> CellCalibration:
    """One cell's calibration from its A/A paired log ratios (at least six): the standard error is the
    interval's half-width over Z_SIGNIFICANT, as ``ab``'s verdict reads the same interval."""
    e = hodges_lehmann_paired(logs)
    se = max(e.value - e.low, e.high - e.value) / Z_SIGNIFICANT
    ratio = Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), e.samples)
    return CellCalibration(cell, ratio, len(logs), se, quick_pairs)


def calibrate(cells, sides, modules, env, budget_seconds: float, notes=()) -> Calibration:
    """Run A/A rounds until ``budget_seconds`` are spent (at least six), and summarize their noise."""
    from .progress import progress

    budget = dataclasses.replace(QUICK, rounds=6, seconds=budget_seconds)
    start = time.monotonic()
    bar = progress(steps(cells, budget, len(sides)))
    for note in notes:
        bar.note(note)
    bar.note(f"calibrate: A/A on {len(cells)} cells for about {budget_seconds:g} s")
    try:
        outcome = run_matrix(cells, budget, modules, on_step=bar.step, sides=sides, env=env)
    finally:
        bar.close()
    # What 'ab --quick' would get for these cells: its rounds, or as many as its seconds buy at this pace.
    elapsed = time.monotonic() - start
    quick_pairs = max(AB_QUICK_ROUNDS,
                      int(outcome.rounds_done * AB_QUICK.seconds / elapsed) if elapsed > 0 else 0)
    sides_data = [_cells(b) for b in outcome.benchmarks]
    out = []
    for cell in cells:
        try:
            a = fit_cell(sides_data[0][cell].per_round)
            b = fit_cell(sides_data[1][cell].per_round)
        except (KeyError, ValueError):
            continue
        common = sorted(set(a.slopes) & set(b.slopes), key=str)
        logs = [math.log(b.slopes[k] / a.slopes[k]) for k in common if a.slopes[k] > 0 and b.slopes[k] > 0]
        if len(logs) >= 6:
            out.append(from_log_ratios(cell, logs, quick_pairs))
    return Calibration(tuple(out), outcome.rounds_done, time.monotonic() - start, tuple(notes),
                       tuple(outcome.failures), outcome.interrupted)


def _cells(benchmarks: dict) -> dict:
    import pyperf

    return result_cells(pyperf.BenchmarkSuite(list(benchmarks.values()))) if benchmarks else {}
