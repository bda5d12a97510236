"""``calibrate``: an A/A job on the machine at hand with ``ab``'s own design, and what ``ab`` would decide here.

Both sides are the same interpreter and source, so every difference between
them is this machine's noise. The job is measured exactly as ``ab --quick``
measures: its two sizes, one worker process per loop and side and round, the
sides alternating, the job's cells counted into each look's error rate. It
does not stop at a verdict: it measures for the whole ``--budget``, then cuts
each cell's pairs, in round order, into windows of as many pairs as
``ab --quick`` gets in its own time at this pace, and replays ``ab``'s
sequential looks (``stats.sequential``) on every window:

* the smallest ``--threshold`` at which every window of every cell is decided
  ``unchanged`` (no normal approximation: the design's own intervals) is the
  threshold to set; below it, an unchanged cell stays ``inconclusive`` or,
  worse, is flagged by noise;
* the smallest planted change (the window's ratios times 1 + c) that every
  window flags as a regression at that threshold is what ``ab --quick``
  detects here, and the pairs it took.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Sequence

from ..model.results import ResultError, cells as result_cells, paired_keys
from ..stats.fit import Estimate, fit_cell
from ..stats.sequential import DESIGN, FIRST_LOOK, round_order, sequential_verdict
from ..stats.verdict import hodges_lehmann_paired
from .ab import worker_args
from .children import CHECK_TIMEOUT
from .rounds import AB_QUICK, planned_rounds, run_matrix, steps

#: The thresholds tried, in steps of a quarter of a percent up to 25%; and the planted changes.
GRID = tuple(k / 400 for k in range(1, 101))


@dataclasses.dataclass(frozen=True)
class CellCalibration:
    cell: object
    aa: Estimate  # NEW / BASE over every A/A pair, 95% interval
    pairs: int
    windows: int
    #: Smallest threshold of GRID at which every window is decided unchanged; None: none up to 25%.
    unchanged_from: float | None
    #: At the suggested threshold: pairs ``ab`` took to decide unchanged (median over windows).
    pairs_to_unchanged: int | None = None
    #: At the suggested threshold: smallest change every window flags as a regression, and the pairs it took.
    detects: float | None = None
    pairs_to_detect: int | None = None


@dataclasses.dataclass(frozen=True)
class Calibration:
    cells: tuple[CellCalibration, ...]
    rounds: int
    seconds: float
    #: Pairs per cell ``ab --quick`` gets in its own seconds at this pace: the window of each replay.
    quick_pairs: int
    #: Cells in the job: each look's error rate is shared among them, as ``ab`` shares it.
    family: int
    notes: tuple[str, ...]
    failures: tuple
    interrupted: bool

    @property
    def suggested(self) -> float | None:
        """The ``--threshold`` for ``ab --quick`` here: every A/A window of every cell decided unchanged."""
        found = [c.unchanged_from for c in self.cells]
        if not found or None in found:
            return None
        return max(found)


def _verdict(logs: Sequence[float], threshold: float, family: int):
    return sequential_verdict(list(logs), threshold, len(logs), len(logs), final=True, design=DESIGN, family=family)


def replay(cell, logs: Sequence[float], window: int, family: int) -> CellCalibration:
    """What ``ab`` decides on this cell's A/A pairs (in round order), window by window (``window`` pairs each)."""
    e = hodges_lehmann_paired(logs)
    aa = Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), e.samples)
    chunks = _windows(logs, window)
    unchanged_from = next((t for t in GRID if all(_verdict(c, t, family).kind == "unchanged" for c in chunks)), None)
    return CellCalibration(cell, aa, len(logs), len(chunks), unchanged_from)


def _windows(logs: Sequence[float], window: int) -> list:
    """The pairs in round order cut into whole windows of ``window`` (all of them, when fewer were measured)."""
    return [logs[i:i + window] for i in range(0, max(len(logs) - window + 1, 1), window)] or [logs]


def at_threshold(k: CellCalibration, logs: Sequence[float], window: int, family: int,
                 threshold: float) -> CellCalibration:
    """``k`` with what ``ab`` does at ``threshold``: the pairs to decide unchanged, the smallest change it flags."""
    chunks = _windows(logs, window)
    verdicts = [_verdict(c, threshold, family) for c in chunks]
    to_unchanged = sorted(v.ratio.samples for v in verdicts if v.kind == "unchanged")
    detects = pairs = None
    for change in GRID:
        if change <= threshold:
            continue
        shifted = [_verdict([x + math.log1p(change) for x in c], threshold, family) for c in chunks]
        if all(v.kind == "regression" for v in shifted):
            detects = change
            pairs = sorted(v.ratio.samples for v in shifted)[len(shifted) // 2]
            break
    return dataclasses.replace(k, pairs_to_unchanged=to_unchanged[len(to_unchanged) // 2] if to_unchanged else None,
                               detects=detects, pairs_to_detect=pairs)


def calibrate(cells, sides, modules, env, budget_seconds: float, notes=(),
              check_timeout: float = CHECK_TIMEOUT) -> Calibration:
    """Measure A/A with ``ab``'s design for ``budget_seconds`` (at least the first look's pairs), then replay.
    ``check_timeout``: the limit on each cell's equivalence check."""
    from .progress import progress

    # ab's budget but for its rounds: at least the first look's pairs, then as many as the seconds buy.
    budget = dataclasses.replace(AB_QUICK, rounds=FIRST_LOOK, seconds=budget_seconds,
                                 check_timeout=check_timeout)
    family = len(cells)
    start = time.monotonic()
    bar = progress(steps(cells, budget, len(sides), sequential=True))
    for note in notes:
        bar.note(note)
    bar.note(f"calibrate: A/A on {len(cells)} cells with ab's design for about {budget_seconds:g} s")
    try:
        # settle never names a cell: ab's processes, sizes and alternation, measured for the whole budget.
        outcome = run_matrix(cells, budget, modules, on_step=bar.step, sides=sides, env=env,
                             settle=lambda benchmarks, live: [], worker_args=worker_args(family))
    finally:
        bar.close()
    elapsed = time.monotonic() - start
    # What 'ab --quick' gets per cell in its own seconds at this pace (at least its rounds, in pairs).
    # Every round measures each cell once on each side: a pair per round.
    quick_pairs = max(planned_rounds(cells, AB_QUICK, len(sides), sequential=True),
                      int(outcome.rounds_done * AB_QUICK.seconds / elapsed) if elapsed > 0 else 0)
    sides_data = [_cells(b) for b in outcome.benchmarks]
    logs_of, out = {}, []
    for cell in cells:
        try:
            a = fit_cell(sides_data[0][cell].per_round)
            b = fit_cell(sides_data[1][cell].per_round)
        except (KeyError, ValueError):
            continue
        bs, ns = paired_keys(a.slopes, "base"), paired_keys(b.slopes, "new")
        common = sorted(set(bs) & set(ns), key=round_order)
        logs = [math.log(ns[k] / bs[k]) for k in common if bs[k] > 0 and ns[k] > 0]
        if len(logs) >= 6:
            logs_of[cell] = logs
            out.append(replay(cell, logs, quick_pairs, family))
    result = Calibration(tuple(out), outcome.rounds_done, elapsed, quick_pairs, family, tuple(notes),
                         tuple(outcome.failures), outcome.interrupted)
    if result.suggested is not None:
        out = [at_threshold(k, logs_of[k.cell], quick_pairs, family, result.suggested) for k in out]
        result = dataclasses.replace(result, cells=tuple(out))
    return result


def _cells(benchmarks: dict) -> dict:
    import pyperf

    if not benchmarks:
        return {}
    try:
        return result_cells(pyperf.BenchmarkSuite(list(benchmarks.values())))
    except ResultError:
        return {}
