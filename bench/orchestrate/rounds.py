"""Running the matrix: pyperf worker processes, interleaved across cells in rounds.

First, one worker process per cell checks equivalence and calibrates loops per
size with pyperf. Then each round runs one worker process per *group*: the
cells compared with each other (same workload and loop), every size of each,
in an order rotated from round to round (``aiterbench.measure.worker`` in pyperf's worker
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
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Iterable, Sequence

from ..model.cells import Cell
from ..model.files import dump_suite
from .children import CHECK_TIMEOUT, CHILDREN, failure_reason, last_step, run_child


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much measuring a run does."""

    sizes: tuple[int, ...]
    rounds: int
    values: int
    warmups: int
    min_time: float
    cell_timeout: float  # seconds one worker process may take before the cell counts as hung
    #: After the rounds, keep adding rounds (whole balanced blocks per group) until this many seconds
    #: have passed since the first round began: ``ab --quick`` and ``calibrate`` buy pairs with time.
    seconds: float = 0.0
    #: Also time each cell's first item and closing it half-consumed (``run --latency``).
    latency: bool = False
    #: ((workload, sizes), ...): workloads measured at other sizes than ``sizes`` (see ``steady``).
    workload_sizes: tuple = ()
    #: Stop a group once every per-item figure and every ratio to the class form has a 95% interval no wider
    #: than this fraction of its estimate on either side (``run --precision``); 0 measures every round.
    #: ``rounds`` is then the most a group gets.
    precision: float = 0.0
    #: No group starts a balanced unit of rounds once this many seconds have passed since the rounds began; with
    #: ``precision``, none that would end after them, judged by the group's own mean round so far (0: no limit).
    #: Each group still gets one unit, and six rounds.
    max_seconds: float = 0.0
    #: What ``precision`` is asked of: ``all`` (every per-item figure and ratio) or ``ratios`` (the ratios to the
    #: class form alone: ``run --quick``).
    precision_of: str = "all"
    #: Seconds a cell's equivalence check may take before the cell counts as hung (``--check-timeout``; the
    #: per-worker ``cell_timeout`` when that is lower).
    check_timeout: float = CHECK_TIMEOUT

    @property
    def check_limit(self) -> float:
        """Seconds a cell's equivalence check may take: ``check_timeout``, never past ``cell_timeout``."""
        return min(self.check_timeout, self.cell_timeout)

    def sizes_for(self, workload: str) -> tuple[int, ...]:
        """The sizes a workload's cells are measured at."""
        return dict(self.workload_sizes).get(workload, self.sizes)

    def described(self, workloads=None) -> str:
        """``16,256,4096`` and any workload's own sizes (``; queue, stream: 256,1024,4096``), of ``workloads``
        alone when given (the ones measured)."""
        text = ",".join(map(str, self.sizes))
        by_sizes: dict = {}
        for workload, sizes in self.workload_sizes:
            if workloads is not None and workload not in workloads:
                continue
            by_sizes.setdefault(tuple(sizes), []).append(workload)
        return text + "".join(f" ({', '.join(ws)}: {','.join(map(str, sz))})" for sz, ws in by_sizes.items())

    def names(self, cell: Cell) -> list[str]:
        """The pyperf benchmarks a cell gets under this budget."""
        from ..measure.timing import LATENCY

        return [cell.bench_name(n) for n in self.sizes_for(cell.workload)] + ([cell.metric_name(m) for m in LATENCY] if self.latency else [])

    def __post_init__(self) -> None:
        for sizes in [self.sizes] + [sz for _, sz in self.workload_sizes]:
            if len(sizes) != len(set(sizes)):
                raise ValueError(f"sizes {','.join(map(str, sizes))} repeat a size")
            if len(sizes) < 2 or min(sizes) < 1:
                raise ValueError("need at least two distinct sizes >= 1")
        object.__setattr__(self, "sizes", tuple(sorted(self.sizes)))
        object.__setattr__(self, "workload_sizes", tuple((w, tuple(sorted(sz))) for w, sz in self.workload_sizes))
        if self.rounds < 2:
            raise ValueError("need at least two rounds (six for a 95% interval)")
        if self.values < 1 or self.warmups < 0:
            raise ValueError("values >= 1 and warmups >= 0")
        if not (0 < self.min_time <= 60 and 0 < self.cell_timeout <= 86400):
            raise ValueError("min_time in (0, 60] s and cell_timeout in (0, 86400] s")
        if not 0 < self.check_timeout <= 3600:
            raise ValueError("check_timeout in (0, 3600] s")
        if not 0 <= self.seconds <= 86400:
            raise ValueError("seconds in [0, 86400]")
        if not 0 <= self.precision < 1:
            raise ValueError("precision in [0, 1): a fraction of the estimate")
        if not 0 <= self.max_seconds <= 86400:
            raise ValueError("max seconds in [0, 86400]")
        if self.precision_of not in ("all", "ratios"):
            raise ValueError("precision of 'all' or 'ratios'")


#: The sizes of a workload with a steady regime (``impls.STEADY_FROM``: queue, stream) when the default
#: sizes start below it: from four batches up, so that the fit over sizes sees one regime.
STEADY_SIZES = (256, 1024, 4096)


def steady(sizes: Sequence[int]) -> tuple:
    """``Budget.workload_sizes`` for ``sizes``: STEADY_SIZES for each workload whose steady regime they start below."""
    from .. import impls

    return tuple((w, STEADY_SIZES) for w, start in impls.STEADY_FROM.items() if min(sizes) < start)


def below_steady(cells: Sequence[Cell], budget: Budget) -> str | None:
    """A note when some cell is measured at a size below its workload's steady regime (``--sizes`` given)."""
    from .. import impls

    low = sorted({c.workload for c in cells if min(budget.sizes_for(c.workload)) < impls.STEADY_FROM.get(c.workload, 0)})
    if not low:
        return None
    return (f"note: {', '.join(low)} below n={min(impls.STEADY_FROM[w] for w in low)} (one batch) run without "
            "back-pressure, another regime than larger n: the per-item fit mixes the two (leave out --sizes to get "
            f"{','.join(map(str, STEADY_SIZES))} for them)")


#: ``run --quick``: until every ratio to the class form is within +-5% at 95%, at most 20 rounds a group.
#: The ratios, not the per-item figures: a ratio divides two cells timed in the same processes, so a slow
#: process lands on both and cancels, where a per-item figure carries it whole (on a contended day one
#: per-item interval was +-71% while its ratio was within +-10%).
#: Two sizes, the smallest and the largest: the per-item slope is all but fixed by the largest, and with a
#: middle size every process cost half as much again and a group's orders balanced only after cells x 3
#: rounds (15 for the five cells on ``none``), so no group could stop before then. On this machine the
#: default matrix measured 196 processes in 81 s with three sizes and 15 rounds (2026-12-05, AMD EPYC).
#: Without a middle size the table cannot tell whether a cell is linear in n: ``run`` without --quick can.
#: On a contended day (processes 1.3 to 1.8 times slower at random) no group gets there within its 20
#: rounds: 50 s of rounds then bound the run (no group begins a unit its own rounds say would end later),
#: so the table still comes within about a minute, its intervals as wide as the noise made them. With the
#: old 40 s and every group short taking a round in turn, the five cells on ``none`` (a unit of ten rounds)
#: reached their first look at about 40 s and got no second unit; the rounds after every group's first
#: look now go to the least precise group, one at a time (``widest_first``).
QUICK = Budget(sizes=(16, 4096), rounds=20, values=3, warmups=1, min_time=0.005, cell_timeout=60.0,
               workload_sizes=tuple((w, (sz[0], sz[-1])) for w, sz in steady((16, 4096))), precision=0.05,
               max_seconds=50.0, precision_of="ratios")
FULL = Budget(sizes=(16, 256, 4096), rounds=20, values=3, warmups=1, min_time=0.05, cell_timeout=300.0,
              workload_sizes=steady((16, 256, 4096)))
#: ``ab --quick``: a verdict needs many more pairs than a table. This machine switches for seconds at a
#: time into a regime 1.75x slower with +-6% noise between neighbouring processes (+-2% otherwise), so
#: 16 pairs leave an A/A interval about +-4% wide; 30 s of rounds (about 60 pairs for one cell) gave
#: +-2.4% and caught 8 of 10 planted +3% regressions at a 2% threshold; 50 s (about 100 pairs) narrow
#: the interval by another fifth and still leave a pair within a minute.
#: Its workers time two sizes, the smallest and the largest: a verdict reads the per-item slope, which
#: the largest size all but fixes, and the middle one (there to show a non-linear cell in ``run``'s
#: table) cost a third of every process while narrowing no interval. With one process per loop and
#: side (``_process_groups``), the docs' 16 cells were decided in 55 s, not 85 (2026-12-03, AMD EPYC).
AB_QUICK = dataclasses.replace(QUICK, rounds=15, seconds=50.0, precision=0.0, max_seconds=0.0)  # ab stops on verdicts, not widths


@dataclasses.dataclass(frozen=True)
class Side:
    """Where a worker runs: an interpreter, and a source folder put first on ``sys.path`` for impls and plug-ins.

    ``name`` is empty for a plain ``run``; ``ab`` has a ``base`` and a ``new`` side.
    The harness itself always comes from the installed suite (``aiterbench.measure.boot``).
    """

    name: str = ""
    python: str = sys.executable
    path: str | None = None

    def __str__(self) -> str:
        return self.name or "run"


@dataclasses.dataclass(frozen=True)
class Failure:
    cell: Cell
    reason: str
    side: str = ""  # the ab side whose worker failed; empty for a plain run


@dataclasses.dataclass
class Outcome:
    benchmarks: list  # per side: bench name -> pyperf.Benchmark
    failures: list
    rounds_done: int
    interrupted: bool = False
    #: Cells whose verdict was decided before the budget was spent (``settle``), and after how many rounds.
    settled: dict = dataclasses.field(default_factory=dict)
    #: ``budget.precision``: per group (a tuple of its cells), when it stopped and whether it got there.
    stops: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Stop:
    """When a group stopped measuring under ``budget.precision``."""

    rounds: int
    seconds: float  # since the rounds began (after checking and calibrating) to the end of its last round
    precise: bool  # every figure within the precision; else the budget ended first
    widest: float  # the widest figure's relative half-width at the stop (inf: no interval yet)
    short: tuple = ()  # (name, relative half-width) of the figures still too wide, widest first
    interrupted: bool = False  # Ctrl-C stopped it before it got there or its budget ended

    def metadata(self, target: float, of: str = "all") -> dict:
        """What each of the group's runs records (pyperf metadata, so ``show`` and ``report`` can say it)."""
        md = {"aiterbench_precision": target, "aiterbench_precision_of": of,
              "aiterbench_precise": "yes" if self.precise else "no",
              "aiterbench_stop_rounds": self.rounds, "aiterbench_stop_seconds": round(self.seconds, 3)}
        if self.interrupted:
            md["aiterbench_interrupted"] = "yes"
        if self.widest != float("inf"):
            md["aiterbench_widest"] = round(self.widest, 5)
        return md


class _CellFailed(Exception):
    pass


def balance_unit(group_size: int, sizes: int = 1, sides: int = 1) -> int:
    """Rounds in which every cell of a group, every size and every side take every place equally often.

    The three orders are digits of one mixed-radix count of the rounds (sides
    fastest, then cells, then sizes: ``side_order`` and ``measuring_order`` of
    the round's ``slot``), so each is balanced independently of the others,
    and any even number of rounds of ``ab`` has each side first equally often.
    """
    return max(group_size, 1) * max(sizes, 1) * max(sides, 1)


def balanced_rounds(rounds: int, group_size: int, sizes: int = 1, sides: int = 1) -> int:
    """``rounds`` rounded up to a whole number of balance units (``balance_unit``)."""
    m = balance_unit(group_size, sizes, sides)
    return -(-rounds // m) * m


def side_order(rnd: int, sides: int) -> list[int]:
    """The sides in the order round ``rnd`` measures them: the fastest digit, so base and new take turns."""
    order = list(range(sides))
    return order if rnd % 2 == 0 else order[::-1]


def slot(rnd: int, sides: int) -> int:
    """The index that rotates round ``rnd``'s cell and size orders: the digits above the side's."""
    return rnd // max(sides, 1)


def _worker_cmd(side: Side, cells: Sequence[Cell], budget: Budget, modules: Sequence[str], out: str,
                extra: Sequence[str], calibrate: bool = False) -> list:
    from .workers import command

    # Calibration only needs the loop count: one value past min_time, no warmup.
    values, warmups = (1, 0) if calibrate else (budget.values, budget.warmups)
    args = ["--sizes", ",".join(map(str, budget.sizes_for(cells[0].workload))), "--values", str(values),
            "--warmups", str(warmups), "--min-time", repr(budget.min_time), "-o", out,
            "--check-timeout", repr(budget.check_limit)]
    for cell in cells:
        args += ["--cell", cell.name]
    if side.name:
        args += ["--side", side.name]
    if budget.latency and not calibrate:  # latency figures have a fixed loop count: nothing to calibrate
        args.append("--latency")
    return command("--worker", args + list(extra), modules, side.path, side.python)


def _spawn(side: Side, cells: Sequence[Cell], budget: Budget, modules, tmpdir: str, extra: Sequence[str], env):
    import pyperf

    out = os.path.join(tmpdir, f"w{time.monotonic_ns()}.json")
    calibrate = "--calibrate-loops" in extra
    cmd = _worker_cmd(side, cells, budget, modules, out, extra, calibrate=calibrate)
    limit = budget.cell_timeout * len(cells)
    try:
        proc = run_child(cmd, limit, env, gentle=True)  # gentle: Ctrl-C lets pyperf stop the worker cleanly
    except subprocess.TimeoutExpired as exc:
        CHILDREN.check()
        raise _CellFailed(f"hung: no result within {limit:g} s (per-cell time limit){last_step(exc.stderr)}") from None
    CHILDREN.check()  # Ctrl-C while the worker ran: stop, do not blame the cell
    if proc.returncode == -signal.SIGINT or "Benchmark worker interrupted: exit" in (proc.stderr or ""):
        raise KeyboardInterrupt  # Ctrl-C reached the worker alone (signalled directly): stop all the same
    if proc.returncode != 0 or not os.path.exists(out):
        raise _CellFailed(failure_reason(proc, budget.check_limit if calibrate else None, "timing"))
    try:
        return pyperf.BenchmarkSuite.load(out)
    finally:
        os.unlink(out)


def run_matrix(
    cells: Sequence[Cell],
    budget: Budget,
    modules: Sequence[str] = (),
    on_step: Callable[[str, Cell | None], None] = lambda what, cell: None,
    on_round: Callable[[list], None] = lambda benchmarks: None,
    sides: Sequence[Side] = (Side(),),
    env: dict | None = None,
    settle: Callable[[list, list], Iterable[Cell]] | None = None,
    worker_args: Sequence[str] = (),
    short_of: Callable[[dict, list], list] | None = None,
) -> Outcome:
    """Measure ``cells`` on every side; ``on_step`` is told before each worker, ``on_round`` after each round.

    First one process per group and side checks and calibrates (a group
    whose process fails is done again cell by cell, to find the culprit).
    With two sides (``ab``), each round measures a group on both, in
    alternating order (base then new, then new then base), so that drift lands
    on both; the base side's calibrated loop counts serve both sides, so the
    two time the same batches. Each group makes a multiple of its balance
    unit of rounds (``balanced_rounds``); with ``budget.seconds`` it goes on in
    whole units until that much time has passed since the rounds began.

    ``settle`` (``ab``'s sequential verdicts): after every round that leaves
    the sides balanced, it gets the benchmarks and the cells still measured,
    and names those whose verdict is decided; they get no more rounds. A group
    stops when none of its cells is left, or at the first balanced round once
    the budget (rounds and seconds) is spent; the run stops when every group has.
    ``worker_args`` go to every worker.

    ``short_of`` (``budget.precision``): at each of a group's balanced round
    counts from ``MIN_ROUNDS`` on, it gets the first side's benchmarks and the
    group's cells and names the figures whose interval is still wider than
    the precision; a group with none stops there. Past its first look a group
    waits its turn (``widest_first``), and ``budget.max_seconds`` lets no group
    begin a unit its own rounds say would end after it. Each group's ``Stop``
    is in ``outcome.stops`` and in its runs' metadata.
    """
    from ..stats.precision import MIN_ROUNDS

    import uuid

    run_id = uuid.uuid4().hex[:12]
    outcome = Outcome(benchmarks=[{} for _ in sides], failures=[], rounds_done=0)
    size_loops: dict[str, int] = {}  # benchmark name -> loops, from the first side's calibration
    live = list(cells)

    def add(k: int, suite) -> None:
        for bench in suite.get_benchmarks():
            name = bench.get_name()
            if name in outcome.benchmarks[k]:
                outcome.benchmarks[k][name].add_runs(bench)
            else:
                outcome.benchmarks[k][name] = bench

    def fail(cell: Cell, reason: str, side: Side) -> None:
        outcome.failures.append(Failure(cell, reason, side.name))
        live.remove(cell)
        for benchmarks in outcome.benchmarks:  # a failed cell leaves nothing half-measured behind
            for name in budget.names(cell):
                benchmarks.pop(name, None)

    def calibrate(k: int, group: list[Cell]) -> None:
        group = [c for c in group if c in live]
        if not group:
            return
        on_step("check+calibrate", group[0])
        try:
            suites = [_spawn(sides[k], group, budget, modules, tmpdir, ["--calibrate-loops", *worker_args], env)]
        except _CellFailed as exc:
            if len(group) == 1:
                fail(group[0], str(exc), sides[k])
                return
            suites = []
            for cell in group:  # find the culprit; the others are checked and calibrated alone
                try:
                    suites.append(_spawn(sides[k], [cell], budget, modules, tmpdir,
                                         ["--calibrate-loops", *worker_args], env))
                except _CellFailed as exc:
                    fail(cell, str(exc), sides[k])
        for suite in suites:
            if k == 0:
                for bench in suite.get_benchmarks():
                    size_loops[bench.get_name()] = bench.get_runs()[-1].get_metadata()["calibrate_loops"]
            add(k, suite)

    def measure(k: int, group: list[Cell], rnd: int) -> None:
        group = [c for c in group if c in live]
        if not group:
            return
        extra = ["--loops", "1", "--size-loops", json.dumps({name: size_loops[name] for c in group
                                                             for name in budget.names(c) if name in size_loops}),
                 "--round", str(rnd), "--slot", str(slot(rnd, len(sides))), "--run-id", run_id, *worker_args]
        try:
            add(k, _spawn(sides[k], group, budget, modules, tmpdir, extra, env))
        except _CellFailed as exc:
            if len(group) == 1:
                fail(group[0], str(exc), sides[k])
                return
            for cell in group:  # find the culprit; the others keep this round
                measure(k, [cell], rnd)

    # Sequential (ab): a process measures every cell of its loop and sizes, whatever the workload. Pairs are
    # per cell across the sides, so no order between workloads needs balancing, and each process saved is
    # a start-up (a quarter of a second here) saved on every side of every round.
    stop = None  # set once the rounds begin (Ctrl-C during calibration has no group to stop)
    with tempfile.TemporaryDirectory(prefix="aiterbench-") as tmpdir, CHILDREN.watching():
        try:
            for group in _process_groups(live, budget, settle is not None):
                for k in range(len(sides)):
                    calibrate(k, group)
            groups = _process_groups(live, budget, settle is not None)
            sizes = [len(budget.sizes_for(g[0].workload)) for g in groups]
            if settle is None:
                units = [balance_unit(len(g), sz, len(sides)) for g, sz in zip(groups, sizes)]
            else:  # sequential: the sides balance every second round, and that is where a group may stop
                units = [len(sides)] * len(groups)
            planned = [_rounds_of(g, budget, len(sides), settle is not None) for g in groups]
            running = [True] * len(groups)
            done = [0] * len(groups)  # rounds each group has measured
            looked = [-1] * len(groups)  # the round count of each group's last look (short_of)
            spent = [0.0] * len(groups)  # seconds each group's rounds took
            began = time.monotonic()
            ended = [began] * len(groups)  # when each group's last round ended: a waiting group's stop is then
            until = began + budget.seconds
            short: dict[int, list] = {}  # group index -> its figures still too wide, at its last look
            total = max(planned, default=0)  # the progress line's count of rounds in lock-step

            def stop(i: int, rnd: int, precise: bool, wide: list, interrupted: bool = False) -> None:
                if short_of is not None:
                    measured = [c for c in groups[i] if c in live]
                    at = Stop(rnd, ended[i] - began, precise, wide[0][1] if wide else 0.0, tuple(wide), interrupted)
                    outcome.stops[tuple(measured)] = at
                    for benchmarks in outcome.benchmarks:
                        for cell in measured:
                            for name in budget.names(cell):
                                if name in benchmarks:
                                    benchmarks[name].update_metadata(at.metadata(budget.precision,
                                                                                 budget.precision_of))
                running[i] = False  # last: a Ctrl-C inside leaves the group to the interrupted ones, whole

            for turn in itertools.count():
                for i, group in enumerate(groups):
                    rnd = done[i]
                    if not running[i] or rnd % units[i]:
                        continue
                    measured = [c for c in group if c in live]
                    if not measured:
                        running[i] = False  # every cell decided (or failed)
                        continue
                    if short_of is not None and rnd >= MIN_ROUNDS and looked[i] != rnd:
                        looked[i] = rnd
                        short[i] = short_of(outcome.benchmarks[0], measured)
                        if not short[i]:
                            stop(i, rnd, True, [])  # precise: no more rounds for this group
                            continue
                    # max_seconds: under a precision (one group at a time past its first look) no group starts a
                    # balanced unit that its own rounds so far say would end after it, so a slow host stops it
                    # sooner; in lock-step, where a unit's time is every group's, none starts one after it.
                    now = time.monotonic()
                    late = bool(budget.max_seconds) and rnd >= MIN_ROUNDS and (
                        now + spent[i] / rnd * units[i] > began + budget.max_seconds if short_of is not None
                        else now - began >= budget.max_seconds)
                    if late or (rnd >= planned[i] and time.monotonic() >= until):
                        # the budget is spent: rounds and time
                        stop(i, rnd, False, short.get(i) or [(c.name, float("inf")) for c in measured])
                going = [i for i, on in enumerate(running) if on]
                if short_of is not None:
                    going = widest_first(going, done, units, looked, short)
                if not going:
                    break
                wide = sorted({name for i, on in enumerate(running) if on for name, _ in short.get(i, [])})
                behind = f" ({len(wide)} short of ±{budget.precision * 100:g}%: {', '.join(wide[:3])}" \
                         f"{', ...' if len(wide) > 3 else ''})" if wide else ""
                for i in going if turn % 2 == 0 else going[::-1]:
                    rnd, t0 = done[i], time.monotonic()
                    for k in side_order(rnd, len(sides)):
                        on_step(f"round {rnd + 1}/{max(planned[i] if short_of is not None else total, rnd + 1)}"
                                f"{behind}", groups[i][0])
                        measure(k, groups[i], rnd)
                    ended[i] = time.monotonic()
                    spent[i] += ended[i] - t0
                    done[i] += 1
                outcome.rounds_done = max(done)
                on_round(outcome.benchmarks)
                if settle is not None and (turn + 1) % len(sides) == 0:
                    for cell in list(settle(outcome.benchmarks, list(live))):
                        if cell in live:
                            live.remove(cell)
                            outcome.settled[cell] = turn + 1
            if outcome.stops and outcome.rounds_done:
                on_round(outcome.benchmarks)  # the last groups' stops, recorded after their last round was saved
        except KeyboardInterrupt:
            outcome.interrupted = True
            if short_of is not None and stop is not None:
                _interrupted(running, done, groups, live, outcome, short_of, stop)
    return outcome


def _interrupted(running, done, groups, live, outcome, short_of, stop) -> None:
    """After Ctrl-C, each group still measuring records where it stood: its figures' widths looked at again on
    the rounds it kept (an interval needs MIN_ROUNDS), as interrupted. A second Ctrl-C leaves the groups not yet
    recorded out of the precision line, as an interrupted run left all of them before."""
    from ..stats.precision import MIN_ROUNDS

    try:
        for i, on in enumerate(running):
            if not on:
                continue
            measured = [c for c in groups[i] if c in live]
            wide = short_of(outcome.benchmarks[0], measured) if done[i] >= MIN_ROUNDS else \
                [(c.name, math.inf) for c in measured]
            stop(i, done[i], not wide, wide, interrupted=True)
    except KeyboardInterrupt:
        pass


def widest_first(going: Sequence[int], done: Sequence[int], units: Sequence[int], looked: Sequence[int],
                 short: dict) -> list[int]:
    """The groups that measure the next round under ``run --precision``: every group until its first look, and
    each through a balanced unit it has begun; once all of them wait at a look, short of the precision, the
    one whose widest figure is widest (no interval at all counts widest; then the fewest rounds, then the
    first), alone, for its next unit. Every group's rounds and ``max_seconds`` bound what one group can take.

    The time left goes where the table is least precise, one group at a time, rather than to every group
    still short in turn: a group of five cells (a unit of ten rounds) is not left at its first look while
    groups nearly there take the budget a round each.
    """
    busy = [i for i in going if looked[i] < 0 or done[i] % units[i]]
    if busy or not going:
        return busy
    return [max(going, key=lambda i: (short[i][0][1] if short.get(i) else math.inf, -done[i], -i))]


def _groups(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Cells compared with each other (same workload and loop), in first-seen order."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.workload, cell.loop), []).append(cell)
    return list(groups.values())


def _process_groups(cells: Sequence[Cell], budget: Budget, sequential: bool = True) -> list[list[Cell]]:
    """The cells each worker process measures: sequential (``ab``), every cell of one loop and sizes; else
    ``_groups``, whose orders are balanced against each other. First-seen order."""
    if not sequential:
        return _groups(cells)
    groups: dict = {}
    for cell in cells:
        groups.setdefault((cell.loop, budget.sizes_for(cell.workload)), []).append(cell)
    return list(groups.values())


def _rounds_of(group: Sequence[Cell], budget: Budget, sides: int, sequential: bool) -> int:
    """The rounds ``budget.rounds`` gives a group, rounded up (the one place that rounds them): whole balance
    units (``balanced_rounds``), or for ``ab``'s sequential rounds whole sets of sides (at most: decided cells
    stop sooner)."""
    if sequential:
        return -(-budget.rounds // max(sides, 1)) * max(sides, 1)
    return balanced_rounds(budget.rounds, len(group), len(budget.sizes_for(group[0].workload)), sides)


def planned_rounds(cells: Sequence[Cell], budget: Budget, sides: int = 1, sequential: bool = False) -> int:
    """The rounds a run makes: ``budget.rounds`` rounded up for a balanced order (see balanced_rounds)."""
    groups = _process_groups(cells, budget, sequential)
    return max((_rounds_of(g, budget, sides, sequential) for g in groups), default=0)


def steps(cells: Sequence[Cell], budget: Budget, sides: int = 1, sequential: bool = False) -> int:
    """How many worker processes a run starts when nothing fails (for the progress bar)."""
    groups = _process_groups(cells, budget, sequential)
    return sides * (len(groups) + sum(_rounds_of(g, budget, sides, sequential) for g in groups))


def save(benchmarks: dict, path: str, base=None) -> bool:
    """Write the measured benchmarks (merged into ``base``, a loaded suite, if given) atomically.

    Returns False, writing nothing, when nothing but calibration was measured.
    """
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
        return False  # calibration only (interrupted early): never replace a file with nothing measured
    suite = pyperf.BenchmarkSuite([merged[name] for name in sorted(merged)])
    dump_suite(suite, path)
    return True


class SaveError(Exception):
    """A result file could not be written after a round; the last good one is kept."""


def run_to_files(cells: Sequence[Cell], budget: Budget, modules, paths: Sequence[str], bar,
                 sides: Sequence[Side] = (Side(),), env: dict | None = None, bases=None,
                 settle=None, worker_args: Sequence[str] = (), short_of=None) -> tuple[Outcome, bool]:
    """``run_matrix`` with one result file per side, rewritten atomically after every round.

    After Ctrl-C the rounds finished (and what the last one measured) are
    saved once more. ``bases`` are loaded suites to merge into (``--append``).
    Returns the outcome and whether every file was written at least once.
    SaveError when a file cannot be written (a full disk, a folder removed):
    measuring stops, and every file is as the last round that could be saved left it.
    """
    bases = list(bases or [None] * len(paths))
    written = False

    def on_round(benchmarks) -> None:
        nonlocal written
        ok = []
        for b, path, base in zip(benchmarks, paths, bases):
            try:
                ok.append(save(b, path, base))
            except OSError as exc:
                kept = f"; {path} holds the last round written" if written and os.path.exists(path) else ""
                raise SaveError(f"{path}: cannot write the results ({exc.strerror or exc}){kept}") from None
        written = written or all(ok)

    try:
        outcome = run_matrix(cells, budget, modules, on_step=bar.step, on_round=on_round, sides=sides, env=env,
                             settle=settle, worker_args=worker_args, short_of=short_of)
    finally:
        bar.close()
    if outcome.interrupted and outcome.rounds_done:
        for b, path, base in zip(outcome.benchmarks, paths, bases):
            save(b, path, base)
    return outcome, written
