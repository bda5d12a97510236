"""Paired verdicts that look at the data as it comes in, and stop when they know.

``ab`` measures both sides in rounds and, after every second round (sides
balanced), asks of each cell still measured whether its verdict is decided.
Looking again and again at one 95% interval would flag an A/A cell sooner or
later; the design here keeps the error rate over all looks at 5%:

* Looks are planned at fixed numbers of pairs, ``LOOKS``: 8, 12, 16, 24, 32,
  48, 64, ... (each 1.5x or 4/3x the one before).
* Half of the 5% is spent on these interim looks, look k getting
  2.5% / (k (k + 1)) (their sum never reaches 2.5%, however many there are);
  the interval at look k is the exact signed-rank interval at confidence
  1 - that share, so it is wider than a 95% one.
* A cell still undecided when the budget is spent gets one final look at
  whatever number of pairs it reached, with all the error rate the interim
  looks it passed did not use (2.5% and more).

By the union bound the intervals of every look a cell gets cover the true
ratio together with probability at least 95%, whatever the dependence between
looks, so an A/A cell is flagged at most 5% of the time in all. A regression
or improvement is always also one on a fixed 95% interval of the same pairs
(the wider interval contains the narrower), so stopping early never says more
than the data would at 95%.

``unchanged`` is a claim of its own, an equivalence test (two one-sided tests,
TOST, as in bioequivalence): it is wrong only when the true change is at
least the threshold, and then only if the interval's bound on that side
misses it. Each bound of a two-sided interval at 1 - 2a misses with
probability a, so a look that spends a decides ``unchanged`` on the interval
at 1 - 2a lying within the threshold, and the chance of calling a real change
of the threshold or more ``unchanged`` stays at most 5% over all looks too.
(Design 1 asked the 1 - a interval for both claims: it decided ``unchanged``
later for no gain in either error rate. Its files are still judged its way.)

Deterministic: the looks depend only on the pairs in round order, so
``compare`` of the files ``ab`` wrote replays them and reaches the verdict
``ab`` printed. The files name the design (``DESIGN``) in their metadata.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Sequence

from .verdict import Verdict, hodges_lehmann_paired, judge

#: Version of the design below, recorded by ``ab`` as ``aiterbench_sequential`` in its files' metadata.
DESIGN = 2
#: The error rate over all looks together (two-sided, as a 95% interval).
ALPHA = 0.05
#: The share of ALPHA spent on interim looks; the rest is the final look's.
INTERIM_SHARE = 0.5
#: The first look: below eight pairs the exact signed-rank interval at these levels barely exists.
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


def interim_alpha(k: int) -> float:
    """The error rate interim look ``k`` spends."""
    return ALPHA * INTERIM_SHARE / (k * (k + 1))


def final_alpha(interim_looks: int) -> float:
    """The final look's error rate after ``interim_looks`` interim looks: all they did not spend."""
    return ALPHA - sum(interim_alpha(k) for k in range(1, interim_looks + 1))


def z_of(confidence: float) -> float:
    """The normal quantile matching a two-sided ``confidence`` (for ``_more``'s approximation)."""
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def sequential_verdict(logs: Sequence[float], threshold: float, base_n: int, new_n: int,
                       final: bool = True, design: int = DESIGN) -> Verdict | None:
    """The verdict on paired log ratios ``logs`` in the order they were measured.

    Replays every interim look the pairs reach and returns the first decided
    one (``Verdict.look`` its index, ``ratio.samples`` its pairs). Otherwise,
    with ``final``, the final look on all pairs (``look`` 0); without it
    (``ab`` between rounds), None: measure on. ``design``: that of the files
    (1 judged ``unchanged`` on the same interval as the other verdicts).
    """
    reached = looks_until(len(logs))
    for k, n in enumerate(reached, start=1):
        verdict = _at(logs[:n], interim_alpha(k), k, threshold, base_n, new_n, design)
        if verdict.kind != "inconclusive":
            return verdict
    if not final:
        return None
    return _at(list(logs), final_alpha(len(reached)), 0, threshold, base_n, new_n, design)


def _at(logs: Sequence[float], alpha: float, look: int, threshold: float, base_n: int, new_n: int,
        design: int = DESIGN) -> Verdict:
    """One look that spends ``alpha``: regression or improvement on the 1 - alpha interval, ``unchanged`` on the
    1 - 2 alpha one (design 2 on; see the module docstring), else inconclusive on the wider one."""
    verdict = _judged(logs, 1 - alpha, look, threshold, base_n, new_n)
    if verdict.kind == "inconclusive" and design >= 2:
        equivalence = _judged(logs, 1 - 2 * alpha, look, threshold, base_n, new_n)
        if equivalence.kind == "unchanged":
            return equivalence
    return verdict


def _judged(logs, confidence: float, look: int, threshold: float, base_n: int, new_n: int) -> Verdict:
    verdict = judge(hodges_lehmann_paired(logs, confidence), threshold, True, base_n, new_n, z=z_of(confidence))
    return dataclasses.replace(verdict, confidence=confidence, look=look)


def describe() -> str:
    """One line on the design, for tables and summaries."""
    first = ", ".join(str(look_pairs(k)) for k in range(1, 6))
    return (f"sequential: looks at {first}, ... pairs and at the end of the budget; "
            f"{1 - ALPHA:.0%} over all looks together")


def round_order(key) -> tuple:
    """Sort key for ``RUN:ROUND`` round keys: by run, then by the round's number (not as text)."""
    text = str(key if not isinstance(key, tuple) else key[-1])
    run, _, rnd = text.rpartition(":")
    try:
        return (run, int(rnd), "")
    except ValueError:
        return (text, math.inf, text)
