"""``ab``: both sides measured in one job, each cell until its verdict is decided, into one result file per side.

``run_ab`` times (rounds, sequential looks, files rewritten after every
round), ``run_ab_count`` counts instructions under callgrind; each returns an
``AbOutcome`` for the command to judge (``analysis.compare`` replays the files'
looks) and print. The stopping rule between rounds is ``settle``: it reads what
the rounds measured so far as the files will hold it and asks the sequential
design of ``stats`` whether each cell is decided.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

from ..analysis.compare import settled
from ..model.cells import Cell
from ..model.results import ResultError, cells as result_cells
from ..stats.sequential import DESIGN
from ..stats.sequential import describe as describe_design
from .children import CHECK_TIMEOUT
from .rounds import Budget, SaveError, below_steady, planned_rounds, run_to_files, steps
from .sides import Probe, describe


@dataclasses.dataclass(frozen=True)
class AbOutcome:
    """What an ``ab`` job did: its two files, whether they were written, and the cells that failed."""

    paths: tuple[str, ...]
    written: bool
    interrupted: bool
    #: (cell name, side or "both", reason) of every cell that failed.
    failed: tuple[tuple[str, str, str], ...] = ()
    rounds_done: int = 0
    #: A file could not be written (a full disk, a folder removed): measuring stopped there.
    error: str | None = None
    #: ``ab --count --explain``: side name -> cell -> (Count with its parsed dumps, metadata); None otherwise.
    counted: Mapping | None = dataclasses.field(default=None, compare=False, repr=False)
    probes: tuple = dataclasses.field(default=(), compare=False, repr=False)
    env: Mapping | None = dataclasses.field(default=None, compare=False, repr=False)

    def explain(self, names: Sequence[str]) -> list:
        """(cell name, Explanation) for each of the named cells counted on both sides, from this job's own runs."""
        from .explain import explain_ab

        if not self.counted:
            return []
        wanted = {Cell.parse(n)[0] for n in names}
        cells = [c for c in next(iter(self.counted.values()), {}) if c in wanted]
        return explain_ab(self.counted, self.probes, sorted(cells), self.env)


def worker_args(family: int) -> list[str]:
    """What every ``ab`` worker records: the sequential design its rounds are judged by, and the job's size."""
    return ["--sequential", str(DESIGN), "--family", str(family)]


def settle(threshold: float, family: int) -> Callable[[list, list], list[Cell]]:
    """``ab``'s question after every balanced round: which of the cells still measured are decided.

    What the rounds measured so far, read as the files will hold it, judged by
    ``compare``'s own rule without the final look (``analysis.compare.settled``),
    so that ``compare`` of the files reaches the verdict ``ab`` stopped on.
    """

    def decided(benchmarks, live) -> list[Cell]:
        import pyperf

        try:
            base, new = (result_cells(pyperf.BenchmarkSuite(list(b.values()))) if b else {} for b in benchmarks)
        except (ResultError, ValueError):
            return []  # nothing judged yet: measure on; the files are judged in full at the end
        return settled(base, new, threshold, live, family)

    return decided


def budget_text(cells: Sequence[Cell], budget: Budget) -> str:
    """The rounds (and seconds) a job may take, as ``planned_rounds`` rounds them."""
    rounds = planned_rounds(cells, budget, 2, sequential=True)
    return f"{rounds} rounds" + (f" and {budget.seconds:g} s of rounds" if budget.seconds else "")


def run_ab(probes: Sequence[Probe], cells: Sequence[Cell], budget: Budget, modules, env, paths: Sequence[str],
           threshold: float, notes: Sequence[str] = ()) -> AbOutcome:
    """Time ``cells`` on both sides in alternating rounds until each is decided or the budget is spent.

    The files are rewritten after every round; after Ctrl-C they hold the
    rounds finished. FAILED lines are the command's to print (``failed``).
    """
    from .progress import progress

    sides = [p.side for p in probes]
    bar = progress(steps(cells, budget, len(sides), sequential=True))
    low = below_steady(cells, budget)
    for note in list(notes) + ([low] if low else []):
        bar.note(note)
    bar.note(f"ab: {describe(probes)}")
    bar.note(f"measuring {len(cells)} cells on both sides into {', '.join(paths)}, each until its verdict is decided "
             f"or the budget is spent ({budget_text(cells, budget)}); {describe_design(DESIGN, len(cells))}")
    try:
        outcome, written = run_to_files(cells, budget, modules, paths, bar, sides=sides, env=env,
                                        settle=settle(threshold, len(cells)), worker_args=worker_args(len(cells)))
    except SaveError as exc:
        return AbOutcome(tuple(paths), False, False, error=str(exc))
    failed = tuple((f.cell.name, f.side or "both", f.reason) for f in outcome.failures)
    return AbOutcome(tuple(paths), written, outcome.interrupted, failed, outcome.rounds_done)


def run_ab_count(probes: Sequence[Probe], cells: Sequence[Cell], sizes: tuple[int, int], modules, env,
                 paths: Sequence[str], notes: Sequence[str] = (), explain: bool = False,
                 check_timeout: float = CHECK_TIMEOUT) -> AbOutcome:
    """``ab --count``: both sides under callgrind; the cells counted on both sides go into the two files
    (those counted before Ctrl-C too). ``explain``: the same runs keep every function's count, for
    ``AbOutcome.explain(cells)``."""
    from ..model.files import dump_suite
    from .count import run_ab_counts

    notes = list(notes) + [f"ab: {describe(probes)}",
                           f"counting {len(cells)} cells at n={sizes[0]},{sizes[1]} under callgrind on both sides "
                           f"into {', '.join(paths)}"]
    families = {i.name: i.family for p in probes for i in p.impls}
    suites, failures, interrupted, per_side = run_ab_counts(cells, [p.side for p in probes], sizes, modules, env,
                                                            notes, families, explain, check_timeout)
    failed = tuple((cell.name, side, reason) for cell, side, reason in failures)
    if not all(suites):
        return AbOutcome(tuple(paths), False, interrupted, failed)
    try:
        for suite, path in zip(suites, paths):
            dump_suite(suite, path)
    except OSError as exc:
        return AbOutcome(tuple(paths), False, interrupted, failed,
                         error=f"cannot write {exc.filename or paths[0]}: {exc.strerror or exc}")
    return AbOutcome(tuple(paths), True, interrupted, failed, counted=per_side if explain else None,
                     probes=tuple(probes), env=env)
