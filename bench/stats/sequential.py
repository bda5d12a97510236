"""Paired verdicts that look at the data as it comes in, and stop when they know.

``ab`` measures both sides in rounds and, after every second round (sides
balanced), asks of each cell still measured whether its verdict is decided.
Looking again and again at one 95% interval would flag an A/A cell sooner or
later; the design here keeps the error rates over all looks, and, since a job
fails on any one cell's regression, over all the cells of the job:

* Looks are planned at fixed numbers of pairs, ``LOOKS``: 8, 12, 16, 24, 32,
  48, 64, ... (each 1.5x or 4/3x the one before).
* Half of each error rate is spent on these interim looks, the k-th getting
  a share 1 / (k (k + 1)) of that half (the shares never sum to one, however
  many looks there are). A cell still undecided when the budget is spent gets
  one final look at whatever number of pairs it reached, with all the error
  rate its interim looks did not use (half of it and more).
* A regression or improvement is read on the look's exact signed-rank interval
  at 1 - a for a look that spends a. The error rate it spends is 5% divided
  by the number of cells in the job, its ``family`` (Bonferroni): by the union
  bound the intervals of every look of every cell cover their true ratios
  together with probability at least 95%, whatever the dependence between
  looks and between cells that share a worker process, so an A/A job flags any
  cell at most 5% of the time. At so small a level the first looks may have
  no exact interval (it needs 2**n >= 2 / a: 12 pairs at 0.05%); such a look
  cannot flag a change and spends nothing, the shares going to the looks that
  can (``change_looks``).
* ``unchanged`` is a claim of its own, an equivalence test (two one-sided
  tests, TOST, as in bioequivalence): it is wrong only when the true change is
  at least the threshold, and then only if the interval's bound on that side
  misses it. Each bound of a two-sided interval at 1 - 2a misses with
  probability a, so a look that spends a decides ``unchanged`` on the interval
  at 1 - 2a lying within the threshold, and calling a real change of the
  threshold or more ``unchanged`` errs at most 5% per cell over all looks. It
  needs no division by the family: a job that passes while some cells truly
  changed by the threshold has called every one of them ``unchanged`` (or
  left them undecided), which happens at most as often as for any one of them.

A regression or improvement is always also one on a fixed 95% interval of the
same pairs (the wider interval contains the narrower), so stopping early never
says more than the data would at 95%.

Designs, recorded by ``ab`` as ``aiterbench_sequential`` in its files (and the
family as ``aiterbench_family``), each judged its own way: 1 read ``unchanged``
on the 1 - a interval too; 2 read it on the 1 - 2a one, all claims at 5% per
cell; 3 (now) spends 5% / family on changes, as above.

Deterministic: the looks depend only on the pairs in round order and the
family, so ``compare`` of the files ``ab`` wrote replays them and reaches the
verdict ``ab`` printed.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Sequence

from .intervals import Verdict, first_interval, judge, paired_interval, walsh_averages

#: Version of the design, recorded by ``ab`` as ``aiterbench_sequential`` in its files' metadata.
DESIGN = 3
#: Each claim's error rate over all looks together (two-sided, as a 95% interval); a change's, over the job.
ALPHA = 0.05
#: The share of an error rate spent on interim looks; the rest is the final look's.
INTERIM_SHARE = 0.5
#: The first planned look: below eight pairs the exact signed-rank interval at these levels barely exists.
FIRST_LOOK = 8


def look_pairs(k: int) -> int:
    """The number of pairs at interim look ``k`` (1-based): 8, 12, 16, 24, 32, 48, 64, 96, ..."""
    if k < 1:
        raise ValueError("looks count from 1")
    doubling, half = divmod(k - 1, 2)
    return FIRST_LOOK * 2**doubling * (3 if half else 2) // 2


def looks_until(pairs: int) -> list[int]:
    """The interim looks (their pair counts) that ``pairs`` pairs have reached."""
    out, k = [], 1
    while look_pairs(k) <= pairs:
        out.append(look_pairs(k))
        k += 1
    return out


def interim_alpha(k: int, family: int = 1) -> float:
    """The error rate the ``k``-th interim look of a claim spends, among ``family`` cells."""
    return ALPHA * INTERIM_SHARE / (k * (k + 1)) / family


def final_alpha(interim_looks: int, family: int = 1) -> float:
    """The final look's error rate after ``interim_looks`` interim looks: all they did not spend."""
    return ALPHA / family - sum(interim_alpha(k, family) for k in range(1, interim_looks + 1))


@functools.lru_cache(maxsize=None)
def change_looks(family: int, looks: int) -> tuple[float | None, ...]:
    """What a change (regression or improvement) spends at each of the first ``looks`` planned looks among
    ``family`` cells (design 3): None at a look with no exact interval at its level (it cannot flag anything),
    and the j-th look that has one spends ``interim_alpha(j, family)``."""
    out, j = [], 1
    for k in range(1, looks + 1):
        a = interim_alpha(j, family)
        if look_pairs(k) >= first_interval(1 - a):
            out.append(a)
            j += 1
        else:
            out.append(None)
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Look:
    """One look of one cell and what each claim spends there."""

    #: 1, 2, ... for interim looks, 0 for the final one.
    index: int
    pairs: int
    #: ``unchanged``'s error rate a: read on the interval at 1 - 2a (design 1: at 1 - a).
    unchanged: float
    #: A change's error rate a, read on the interval at 1 - a; None: an interim look with no exact interval at
    #: its level, which cannot flag a change and spends nothing.
    change: float | None


def plan(pairs: int, design: int = DESIGN, family: int | None = None, final: bool = True) -> list[Look]:
    """The looks ``pairs`` pairs reach: the interim ones, then (``final``) the final look on all of them."""
    family = _family(design, family)
    reached = looks_until(pairs)
    if design >= 3:
        change = list(change_looks(family, len(reached)))
        rest = ALPHA / family - sum(a for a in change if a is not None)
    else:
        change, rest = [interim_alpha(k) for k in range(1, len(reached) + 1)], final_alpha(len(reached))
    out = [Look(k, n, interim_alpha(k), change[k - 1]) for k, n in enumerate(reached, start=1)]
    if final:
        out.append(Look(0, pairs, final_alpha(len(reached)), rest))  # with too few pairs its interval is NaN
    return out


def _family(design: int, family: int | None) -> int:
    if design >= 3:
        if family is None or family < 1 or family != int(family):
            raise ValueError(f"sequential design {design} judges a cell among the job's cells: "
                             f"give their number (family), not {family!r}")
        return int(family)
    if family not in (None, 1):
        raise ValueError(f"sequential design {design} judges each cell alone: it has no family")
    return 1


def sequential_verdict(logs: Sequence[float], threshold: float, base_n: int, new_n: int,
                       final: bool = True, design: int = DESIGN, family: int | None = None) -> Verdict | None:
    """The verdict on paired log ratios ``logs`` in the order they were measured.

    Replays every interim look the pairs reach and returns the first decided
    one (``Verdict.look`` its index, ``ratio.samples`` its pairs). Otherwise,
    with ``final``, the final look on all pairs (``look`` 0); without it
    (``ab`` between rounds), None: measure on. ``design``: that of the files;
    ``family`` (design 3 on): the number of cells in the job.
    """
    walsh: list[float] = []
    known = 0
    for look in plan(len(logs), design, family, final):
        if look.pairs != known:  # each look extends the Walsh averages of the one before
            walsh, known = walsh_averages(logs[:look.pairs], walsh, known), look.pairs
        verdict = _at(walsh, look, threshold, base_n, new_n, design)
        if verdict.kind != "inconclusive" or look.index == 0:
            return verdict
    return None


def _at(walsh: list[float], look: Look, threshold: float, base_n: int, new_n: int, design: int) -> Verdict:
    """One look on the sorted Walsh averages of its pairs: regression or improvement on the 1 - change interval,
    ``unchanged`` on the 1 - 2 unchanged one (design 1: 1 - unchanged), else inconclusive on the change
    interval (see the module docstring); "how many more" only at the final look, the one verdict kept."""
    n, last = look.pairs, look.index == 0
    if design < 3:  # designs 1 and 2, as their files were judged: one error rate for both claims
        wide = paired_interval(walsh, n, 1 - look.change)
        verdict = judge(wide, threshold, True, base_n, new_n, 1 - look.change, more=last and design == 1)
        if verdict.kind == "inconclusive" and design == 2:
            narrow = paired_interval(walsh, n, 1 - 2 * look.unchanged)
            verdict = judge(wide, threshold, True, base_n, new_n, 1 - look.change, narrow, 1 - 2 * look.unchanged,
                            more=last)
        return dataclasses.replace(verdict, look=look.index)
    unchanged = 1 - 2 * look.unchanged
    narrow = paired_interval(walsh, n, unchanged)
    if look.change is None:  # an interim look with no interval at a change's level: only ``unchanged`` is read
        verdict = judge(narrow, threshold, True, base_n, new_n, unchanged, more=False)
        if verdict.kind != "unchanged":
            return Verdict("inconclusive", verdict.ratio, threshold, True, base_n, new_n, None, unchanged, look.index)
        return dataclasses.replace(verdict, look=look.index)
    wide = paired_interval(walsh, n, 1 - look.change)
    verdict = judge(wide, threshold, True, base_n, new_n, 1 - look.change, narrow, unchanged, more=last)
    return dataclasses.replace(verdict, look=look.index)


def describe(design: int = DESIGN, family: int | None = None) -> str:
    """One line on the design, for tables and summaries."""
    first = ", ".join(str(look_pairs(k)) for k in range(1, 6))
    over = "all looks together"
    if design >= 3 and family and family > 1:
        over = f"all looks of all {family} cells of the job together"
    return (f"sequential: looks at {first}, ... pairs and at the end of the budget; "
            f"{1 - ALPHA:.0%} over {over}")


def round_order(key) -> tuple:
    """Sort key for ``RUN:ROUND`` round keys: by run, then by the round's number (not as text)."""
    text = str(key if not isinstance(key, tuple) else key[-1])
    run, _, rnd = text.rpartition(":")
    try:
        return (run, int(rnd), "")
    except ValueError:
        return (text, math.inf, text)
