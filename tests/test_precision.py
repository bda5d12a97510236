"""run --precision: a group stops once its figures are precise, at balanced round counts; the intervals still cover.

The simulation uses this machine's noise as seen in runs here: +-2% between
processes when quiet, and 20 to 40% of processes slowed 1.3 to 1.8 times at
random (a whole process, or only one cell's part of it).
"""

from __future__ import annotations

import math
import random
import statistics
import time

import pytest

from aiterbench.stats.fit import Estimate, median_ci, ratio_ci
from aiterbench.stats.precision import MIN_ROUNDS, parse_precision, relative_half_width

from .test_cli import assert_one_error_line


# -- the rule's arithmetic ----------------------------------------------------------------------------------------

def test_relative_half_width_is_the_larger_half_over_the_estimate():
    assert relative_half_width(Estimate(100.0, 95.0, 110.0, 6)) == pytest.approx(0.10)
    assert relative_half_width(Estimate(100.0, 80.0, 101.0, 6)) == pytest.approx(0.20)
    assert relative_half_width(Estimate(1.0, math.nan, math.nan, 5)) == math.inf  # no interval yet
    assert relative_half_width(None) == math.inf
    assert relative_half_width(Estimate(-1.0, -2.0, 0.0, 6)) == math.inf


@pytest.mark.parametrize("text, value", [("5", 0.05), ("5%", 0.05), (" 2.5 ", 0.025), ("0.5", 0.005)])
def test_parse_precision(text, value):
    assert parse_precision(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0", "-1", "100", "abc", "", "nan", "5 %x"])
def test_parse_precision_refuses(text):
    with pytest.raises(ValueError, match="--precision"):
        parse_precision(text)


@pytest.mark.parametrize("value", ["0", "fast", "150"])
def test_run_refuses_a_bad_precision_in_one_line(capsys, value):
    from aiterbench.cli import main

    assert main(["run", "--precision", value, "-i", "asyncgen", "-w", "none", "-l", "asyncio"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--precision")


# -- coverage under this machine's noise ----------------------------------------------------------------------------

def _process(rng: random.Random, q: float, partial: bool) -> tuple[float, float]:
    """One worker process's per-item slopes of the class form and the generator: +-2% noise; with probability
    ``q`` a slow spell (x1.3 to x1.8) over the whole process, or with ``partial`` over only one cell's part."""
    f = rng.uniform(1.3, 1.8) if rng.random() < q else 1.0
    fa = f if not partial or rng.random() < 0.5 else 1.0
    return 100.0 * fa * math.exp(rng.gauss(0, 0.02)), 60.0 * f * math.exp(rng.gauss(0, 0.02))


def _truth(q: float, partial: bool) -> tuple[float, float]:
    """What the intervals estimate: the medians of a process's slope and of its ratio, under that noise."""
    rng = random.Random(1)
    xs = [_process(rng, q, partial) for _ in range(40000)]
    return statistics.median(a for a, _ in xs), statistics.median(b / a for a, b in xs)


def _stopped_run(rng, q, partial, target=0.05, unit=6, cap=24, of="all"):
    """One simulated group under run --precision: a balanced unit of rounds at a time, a look after each from
    MIN_ROUNDS on, stopping when both figures (``of="ratios"``: the ratio) are precise or the cap is reached
    (the rule ``run`` applies)."""
    xs = []
    while True:
        xs += [_process(rng, q, partial) for _ in range(unit)]
        a = median_ci([x for x, _ in xs])
        r = ratio_ci([y for _, y in xs], [x for x, _ in xs])
        widths = [relative_half_width(r)] + ([relative_half_width(a)] if of == "all" else [])
        if len(xs) >= MIN_ROUNDS and max(widths) <= target:
            return a, r, len(xs), True
        if len(xs) >= cap:
            return a, r, len(xs), False


@pytest.mark.parametrize("of", ["all", "ratios"])
@pytest.mark.parametrize("partial", [False, True], ids=["whole-process", "one-cell"])
@pytest.mark.parametrize("q", [0.0, 0.2, 0.3, 0.4])
def test_intervals_still_cover_when_a_run_stops_on_their_width(q, partial, of):
    """Stopping on the interval's width (never on the estimate) leaves 95% intervals that cover at 95%: 1000
    simulated runs per noise level, each stopping at 6, 12, 18 or 24 rounds (a coverage of 0.95 gives 0.93
    or more in 1000 runs but for one chance in a hundred; the seed is fixed)."""
    true_slope, true_ratio = _truth(q, partial)
    rng = random.Random(7)
    runs = [_stopped_run(rng, q, partial, of=of) for _ in range(1000)]
    slope_cover = statistics.fmean(a.low <= true_slope <= a.high for a, _, _, _ in runs)
    ratio_cover = statistics.fmean(r.low <= true_ratio <= r.high for _, r, _, _ in runs)
    assert slope_cover >= 0.93 and ratio_cover >= 0.93, (slope_cover, ratio_cover)
    if q == 0.0:  # a quiet machine: precise at the first or second look
        assert statistics.fmean(n for _, _, n, _ in runs) <= 12 and all(ok for *_, ok in runs)


# -- run_matrix stops a group at its balanced rounds --------------------------------------------------------------

def test_a_precise_group_stops_and_a_wide_one_runs_to_its_budget_with_both_recorded():
    """short_of is asked at a group's balanced round counts from six on; a group with nothing short stops
    there; one always short stops when its rounds are spent; each stop is in outcome.stops and in its runs'
    metadata, and the progress line names the cells still short."""
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.rounds import Budget, run_matrix

    pair = [Cell("class_anext", "none", "asyncio"), Cell("asyncgen", "none", "asyncio")]  # unit: 2 cells x 2 sizes
    alone = Cell("asyncgen", "sleep0", "asyncio")  # unit: 1 cell x 2 sizes
    budget = Budget(sizes=(8, 64), rounds=8, values=1, warmups=0, min_time=0.002, cell_timeout=60.0, precision=0.05)
    asked, steps = [], []

    def short_of(benchmarks, group):
        measured = {name for name, b in benchmarks.items() if any(r.values for r in b.get_runs())}
        asked.append((tuple(c.name for c in group), sum(len(b.get_runs()) - 1 for n, b in benchmarks.items()
                                                         if n == group[0].bench_name(8))))
        assert all(c.bench_name(64) in measured for c in group)
        return [] if group == pair else [(alone.name, 0.08)]

    outcome = run_matrix(pair + [alone], budget, short_of=short_of, on_step=lambda what, cell: steps.append((what, cell)))
    assert not outcome.failures and not outcome.interrupted
    # the pair's unit is 4 rounds: its first look is at 8; the single cell's is 2: looks at 6 and 8 (its budget)
    assert asked == [((alone.name,), 6), ((pair[0].name, pair[1].name), 8), ((alone.name,), 8)]
    stops = {cells: (s.rounds, s.precise, s.widest) for cells, s in outcome.stops.items()}
    assert stops == {tuple(pair): (8, True, 0.0), (alone,): (8, False, 0.08)}
    md = outcome.benchmarks[0][pair[1].bench_name(64)].get_metadata()
    assert md["aiterbench_precise"] == "yes" and md["aiterbench_stop_rounds"] == 8 and md["aiterbench_precision"] == 0.05
    md = outcome.benchmarks[0][alone.bench_name(8)].get_metadata()
    assert md["aiterbench_precise"] == "no" and md["aiterbench_widest"] == 0.08
    assert any("short of ±5%: asyncgen/sleep0/asyncio" in what for what, _ in steps if what.startswith("round 7/"))
    # past its first look the single cell waits while the pair has not had one; then it measures alone
    assert [(what.split(" (")[0], cell) for what, cell in steps[-4:]] == \
        [("round 7/8", pair[0]), ("round 8/8", pair[0]), ("round 7/8", alone), ("round 8/8", alone)]
    assert outcome.rounds_done == 8


@pytest.mark.parametrize("max_seconds, stops_at", [(7.5, 6), (8.5, 8)])
def test_max_seconds_lets_no_group_begin_a_unit_its_rounds_say_would_end_after_it(monkeypatch, max_seconds, stops_at):
    """--max-seconds, on a clock that advances one second per worker: at its look after six rounds (six seconds)
    a group of one cell whose next unit of two rounds would end at eight seconds stops there under a 7.5 s
    limit, and under 8.5 s measures that unit and stops at its next look."""
    import types

    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate import rounds
    from aiterbench.orchestrate.rounds import Budget, run_matrix

    now = [0.0]
    clock = types.SimpleNamespace(**{**vars(time), "monotonic": lambda: now[0],
                                     "monotonic_ns": lambda: int(now[0] * 1e9)})
    monkeypatch.setattr(rounds, "time", clock)
    cell = Cell("asyncgen", "sleep0", "asyncio")
    budget = Budget(sizes=(8, 64), rounds=20, values=1, warmups=0, min_time=0.002, cell_timeout=60.0, precision=0.05,
                    max_seconds=max_seconds)

    def tick(what, cell):
        now[0] += 1.0

    outcome = run_matrix([cell], budget, short_of=lambda benchmarks, group: [(cell.name, 0.5)], on_step=tick)
    # its seconds run to the end of its last round: one per round on this clock
    assert {cells: (s.rounds, s.precise, s.seconds) for cells, s in outcome.stops.items()} == \
        {(cell,): (stops_at, False, stops_at)}


def test_ctrl_c_marks_the_groups_still_measuring_as_interrupted_and_the_table_says_so():
    """Ctrl-C after a group's look: the group it cut records where it stood (its rounds, its widest figure looked
    at again on those rounds, interrupted), and the precision line names it as interrupted, not as reached or out
    of budget."""
    import pyperf

    from aiterbench.analysis import analyze, cells
    from aiterbench.analysis.table import format_text, precision_of
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.rounds import Budget, run_matrix

    cell = Cell("asyncgen", "sleep0", "asyncio")
    budget = Budget(sizes=(8, 64), rounds=20, values=1, warmups=0, min_time=0.002, cell_timeout=60.0, precision=0.05)
    steps = []

    def step(what, cell):
        steps.append(what)
        if what.startswith("round 8/"):  # one unit of two rounds after the look at six
            raise KeyboardInterrupt

    def short_of(benchmarks, group):  # one over the rounds measured: 1/6 at the look, 1/7 when cut
        rounds = sum(1 for r in benchmarks[cell.bench_name(8)].get_runs() if r.values)
        return [(cell.name, 1 / rounds)]

    outcome = run_matrix([cell], budget, short_of=short_of, on_step=step)
    assert outcome.interrupted
    assert {cells: (s.rounds, s.precise, s.interrupted, s.widest) for cells, s in outcome.stops.items()} == \
        {(cell,): (7, False, True, 1 / 7)}
    (row,) = analyze(cells(pyperf.BenchmarkSuite(list(outcome.benchmarks[0].values()))))
    assert precision_of(row) | {"seconds": 0} == {"target": 0.05, "of": "all", "reached": False, "rounds": 7,
                                                  "seconds": 0, "widest": 0.14286, "interrupted": True}
    assert "reached by 0 of 1 groups; interrupted before it: sleep0/asyncio (widest ±14.3% after 7 rounds)" \
        in format_text([row])


def test_past_their_first_look_groups_take_turns_widest_first():
    """widest_first: a group before its first look, or inside a unit it began, measures; once every group waits at
    a look, the one with the widest figure measures alone (no interval at all is widest; a tie goes to the one
    with fewer rounds, then to the first)."""
    from aiterbench.orchestrate.rounds import widest_first

    units = [4, 2, 2]
    short = {1: [("b", 0.08)], 2: [("c", 0.2)]}
    # the first group has not looked: it goes on, and the two waiting at their look wait
    assert widest_first([0, 1, 2], [7, 6, 6], units, [-1, 6, 6], short) == [0]
    # every group waits at a look: the widest alone
    assert widest_first([1, 2], [8, 6, 6], units, [8, 6, 6], short) == [2]
    # inside the unit it began it goes on, the other waits
    assert widest_first([1, 2], [8, 7, 6], units, [8, 6, 6], short) == [1]
    # no interval yet counts as widest; equal widths go to the first
    assert widest_first([1, 2], [8, 6, 6], units, [8, 6, 6], {1: [("b", math.inf)], 2: [("c", 0.2)]}) == [1]
    assert widest_first([1, 2], [8, 6, 6], units, [8, 6, 6], {1: [("b", 0.2)], 2: [("c", 0.2)]}) == [1]
    # of two without an interval, the one with fewer rounds
    assert widest_first([1, 2], [8, 8, 6], units, [8, 8, 6], {1: [("b", math.inf)], 2: [("c", math.inf)]}) == [2]
    assert widest_first([], [], [], [], {}) == []


# -- what the precision is asked of ---------------------------------------------------------------------------------

@pytest.mark.parametrize("of", ["all", "ratios"])
def test_short_of_looks_at_every_figure_or_at_the_ratios_alone(of):
    """``all``: a cell is short while its per-item figure or its ratio is too wide; ``ratios`` (--quick): while its
    ratio is, and the reference itself is never short (its noise is in every ratio), on a real result file."""
    from pathlib import Path

    import pyperf

    from aiterbench.analysis import analyze, cells
    from aiterbench.orchestrate.precision import short_of

    suite = pyperf.BenchmarkSuite.load(str(Path(__file__).resolve().parent / "data" / "results-py311.json"))
    benchmarks = {b.get_name(): b for b in suite.get_benchmarks()}
    rows = [r for r in analyze(cells(suite)) if (r.cell.workload, r.cell.loop) == ("none", "asyncio") and r.fit]
    group = [r.cell for r in rows]
    ratio = {r.cell.name: relative_half_width(r.vs_reference) for r in rows if r.vs_reference is not None}
    per_item = {r.cell.name: relative_half_width(r.fit.per_item) for r in rows}
    assert len(group) >= 3 and 0 < len(ratio) < len(group)
    widths = sorted(set(ratio.values()) | set(per_item.values()))
    for target in (0.0, widths[len(widths) // 2], widths[-1]):
        found = dict(short_of(target, of=of)(benchmarks, group))
        if of == "ratios":
            expected = {n for n, w in ratio.items() if w > target}
        else:
            expected = {n for n in per_item if max(per_item[n], ratio.get(n, 0.0)) > target}
        assert set(found) == expected, (target, found)
