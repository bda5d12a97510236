"""The verdict on one interval: exact rank intervals of a log ratio, and the rule that reads them.

The unit is the worker process: its per-item slope. Values inside one process
share that process's luck (memory layout, a neighbour's burst), so they are
not independent and never enter a test one by one. Whole processes get slowed
by 20 to 60% now and then, and only ever slowed, so means and t-tests are out.

* Paired (both sides measured in the same rounds, as ``ab`` and a file compared
  with itself are): the log ratio per round, Hodges-Lehmann (the median of the
  Walsh averages) with the exact Wilcoxon signed-rank interval. Drift between
  rounds cancels within each pair; a disturbed process is one outlier among
  the pairs, which ranks absorb.
* Unpaired (two separate runs): the two-sample Hodges-Lehmann shift of the log
  slopes (the median of all pairwise differences) with the exact Mann-Whitney
  interval. Drift between the two runs does not cancel: that is what the
  threshold, a minimum effect size, is for.

Then one verdict per cell against a threshold t, on the ratio r = NEW/BASE:
``regression`` when the interval lies above 1 and r > 1 + t; ``improvement``
when it lies below 1 and r < 1 / (1 + t); ``unchanged`` when the whole interval
lies within [1 / (1 + t), 1 + t]; ``inconclusive`` otherwise. A change smaller
than the threshold is not a regression, however sure. A sequential look
(``sequential``) reads ``unchanged`` on an interval of its own (``judge``'s
``equivalence``). Pure functions: no timing in here. The lowest module of
``stats`` but ``fit``: ``sequential`` and ``verdict`` build on it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import statistics
from typing import Sequence

from .fit import Estimate

CONFIDENCE = 0.95
VERDICTS = ("regression", "improvement", "unchanged", "inconclusive")


@functools.lru_cache(maxsize=None)
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """counts[s]: subsets of {1..n} whose sum is s (the null distribution of Wilcoxon's T+, times 2**n)."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    top = 0
    for i in range(1, n + 1):
        top += i
        for s in range(top, i - 1, -1):
            counts[s] += counts[s - i]
    return tuple(counts)


@functools.lru_cache(maxsize=None)
def _rank_sum_counts(m: int, n: int) -> tuple[int, ...]:
    """counts[u]: arrangements of m and n items with Mann-Whitney U = u (the Gaussian binomial's coefficients)."""
    # prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), as polynomial arithmetic on integer coefficients, for the
    # smaller side (the coefficients are symmetric in m and n) and up to the middle (and in u: the upper half is
    # the lower one reversed). Truncated products of power series are exact below the truncation.
    m, n = min(m, n), max(m, n)
    top = m * n
    poly = [1] + [0] * (top // 2)
    for i in range(1, m + 1):
        # times (1 - q^(n+i)): each coefficient less the one n + i below it (all read before any is changed)
        poly[n + i:] = [a - b for a, b in zip(poly[n + i:], poly)]
        # divided by (1 - q^i): a running sum along each residue class mod i
        for r in range(min(i, len(poly))):
            poly[r::i] = itertools.accumulate(poly[r::i])
    return tuple(poly + poly[:top + 1 - len(poly)][::-1])


def _rank(counts: Sequence[int], alpha: float) -> int:
    """The largest k >= 0 with P(statistic <= k - 1) <= alpha / 2; 0 when no interval reaches 1 - alpha."""
    total = sum(counts)
    cum, k = 0, 0
    for c in counts:
        if (cum + c) / total > alpha / 2:
            break
        cum += c
        k += 1
    return k


@functools.lru_cache(maxsize=None)
def _signed_rank(n: int, alpha: float) -> int:
    return _rank(_signed_rank_counts(n), alpha)


@functools.lru_cache(maxsize=None)
def first_interval(confidence: float, paired: bool = True) -> int:
    """The fewest pairs (paired) or processes per side (unpaired, equal sides) with an exact interval at
    ``confidence``: 6 pairs or 4 per side at 95%, 12 pairs at 99.95%."""
    if not 0 < confidence < 1:
        raise ValueError(f"no exact interval reaches a confidence of {confidence!r}")
    n = 1
    while _rank(_signed_rank_counts(n) if paired else _rank_sum_counts(n, n), 1 - confidence) == 0:
        n += 1
    return n


def walsh_averages(d: Sequence[float], known: Sequence[float] = (), pairs_known: int = 0) -> list[float]:
    """The sorted Walsh averages (d_i + d_j) / 2, i <= j, of paired log ratios: every paired interval reads them.

    ``known``: those of the first ``pairs_known`` pairs, sorted (a sequential look extends the one before).
    """
    if not d:
        raise ValueError("no pairs")
    new = sorted((d[i] + d[j]) / 2 for j in range(pairs_known, len(d)) for i in range(j + 1))
    if not known:
        return new
    both = [*known, *new]
    both.sort()  # two sorted runs: the sort merges them in linear time
    return both


def paired_interval(walsh: Sequence[float], pairs: int, confidence: float = CONFIDENCE) -> Estimate:
    """Hodges-Lehmann of ``pairs`` pairs from their sorted Walsh averages, with the exact signed-rank interval at
    ``confidence`` (NaN when that many pairs have none)."""
    mid = _median_sorted(walsh)
    k = _signed_rank(pairs, 1 - confidence)
    if k == 0:
        return Estimate(mid, math.nan, math.nan, pairs)
    return Estimate(mid, walsh[k - 1], walsh[len(walsh) - k], pairs)


def hodges_lehmann_paired(d: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Pseudo-median of ``d`` (median of Walsh averages) with the exact signed-rank interval (NaN below 6)."""
    return paired_interval(walsh_averages(d), len(d), confidence)


def hodges_lehmann_shift(x: Sequence[float], y: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Shift of ``y`` over ``x`` (median of all y_j - x_i) with the exact Mann-Whitney interval (NaN when too few)."""
    if not x or not y:
        raise ValueError("an empty sample")
    diffs = sorted(b - a for a in x for b in y)
    mid = _median_sorted(diffs)
    m, n = sorted((len(x), len(y)))
    k = _rank(_rank_sum_counts(m, n), 1 - confidence)
    if k == 0:
        return Estimate(mid, math.nan, math.nan, min(len(x), len(y)))
    return Estimate(mid, diffs[k - 1], diffs[len(diffs) - k], min(len(x), len(y)))


def _median_sorted(xs: Sequence[float]) -> float:
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One cell's verdict: NEW/BASE with its interval, and how many more processes would likely decide it."""

    kind: str
    ratio: Estimate  # NEW / BASE
    threshold: float
    paired: bool
    base_processes: int
    new_processes: int
    more: int | None = None  # inconclusive only: processes per side likely to decide; None: no number will
    #: The confidence of ``ratio``'s interval: 95%, or a sequential look's own (wider) level (``sequential``).
    confidence: float = CONFIDENCE
    #: Sequential verdicts (``ab``): the interim look that decided (1, 2, ...), 0 for the final look; None otherwise.
    look: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise ValueError(f"unknown verdict {self.kind!r}")
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must lie in (0, 1)")


def z_of(confidence: float) -> float:
    """The normal quantile matching a two-sided ``confidence`` (``_more``'s approximation)."""
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def _ratio(log_ratio: Estimate) -> Estimate:
    lo, hi = log_ratio.low, log_ratio.high
    return Estimate(math.exp(log_ratio.value), math.exp(lo) if lo == lo else math.nan,
                    math.exp(hi) if hi == hi else math.nan, log_ratio.samples)


def judge(log_ratio: Estimate, threshold: float, paired: bool, base_n: int, new_n: int,
          confidence: float = CONFIDENCE, equivalence: Estimate | None = None,
          equivalence_confidence: float | None = None, more: bool = True) -> Verdict:
    """The verdict on a log ratio with its interval at ``confidence`` (see the module docstring for the rule).

    ``equivalence`` (a sequential look, whose ``unchanged`` is an equivalence test of its own): the interval,
    at ``equivalence_confidence``, on which ``unchanged`` is read instead; ``regression`` and ``improvement``
    are read on ``log_ratio``'s. Each claim's "how many more" (``_more``) reads the interval it is decided on;
    without ``more`` (an interim look whose inconclusive verdict is dropped) it is left None.
    """
    t = math.log1p(threshold)
    e, lo, hi = log_ratio.value, log_ratio.low, log_ratio.high
    if lo == lo:  # an interval exists
        if lo > 0 and e > t:
            return Verdict("regression", _ratio(log_ratio), threshold, paired, base_n, new_n, confidence=confidence)
        if hi < 0 and e < -t:
            return Verdict("improvement", _ratio(log_ratio), threshold, paired, base_n, new_n, confidence=confidence)
    same, same_confidence = ((log_ratio, confidence) if equivalence is None else
                             (equivalence, equivalence_confidence or confidence))
    if same.low == same.low and -t <= same.low and same.high <= t:
        return Verdict("unchanged", _ratio(same), threshold, paired, base_n, new_n, confidence=same_confidence)
    count = _more(log_ratio, t, paired, confidence, equivalence, equivalence_confidence) if more else None
    return Verdict("inconclusive", _ratio(log_ratio), threshold, paired, base_n, new_n, count, confidence=confidence)


#: The share of cases in which the count ``_more`` names should decide the verdict.
DECIDE_PROBABILITY = 0.80
#: Half-width of the 95% interval in standard errors (normal approximation), and the 80% quantile.
Z_INTERVAL = z_of(CONFIDENCE)
_Z_DECIDE = statistics.NormalDist().inv_cdf(DECIDE_PROBABILITY)


def _more(e: Estimate, t: float, paired: bool = True, confidence: float = CONFIDENCE,
          equivalence: Estimate | None = None, equivalence_confidence: float | None = None) -> int | None:
    """Processes per side (pairs, if paired) to add so that the verdict is decided with ~80% probability.

    Normal approximation from the interval the nearer claim is decided on
    (``unchanged``: ``equivalence`` when given, else ``e``; a change: ``e``):
    with n samples and half-width h, N samples have a half-width h sqrt(n / N),
    and the estimate then moves from today's by a predictive standard deviation
    of (h / z) sqrt((N - n) / N) (what the new samples add, and what today's
    estimate does not know of the truth). The count is the smallest N at
    which the interval is on the deciding side with 80% probability: within
    the threshold for ``unchanged``, clear of 1 and past the threshold for
    ``regression`` or ``improvement``. Aiming for the expected half-width alone
    decides only about half the time. None: no count up to a hundred times
    today's is likely to decide (an effect sitting on the threshold).
    """
    n = e.samples
    if abs(e.value) < t and equivalence is not None:
        e, confidence = equivalence, equivalence_confidence or confidence
    if e.low != e.low:  # no interval yet at this level: ask for the first one
        return max(first_interval(confidence, paired) - n, 1)
    half = max(e.value - e.low, e.high - e.value)
    if half <= 0:
        return None
    size, step = abs(e.value), half / z_of(confidence)
    # The margin is at most |t - size| (a bound `moves`, growing with N, ends the search) and needs the future
    # half-width below the gap, h sqrt(n / N) <= gap (no N before that can decide: the search starts there).
    reach = t - size if size < t else size - t
    gap = reach if size < t else size
    first = n * (half / gap) ** 2 if gap > 0 else math.inf
    if first > 100 * n:
        return None
    start, last = max(n + 1, math.floor(first)), 100 * n
    if not any(_margin(q, half, size, t, step) >= 0 for q in _widest(n, start, last, t / half)):
        return None  # no count in range decides: the search below would run to its end (most of judge's time)
    for total in range(start, last + 1):
        q = math.sqrt(n / total)
        h_future, moves = half * q, _Z_DECIDE * step * math.sqrt(1 - q * q)
        if moves > reach:
            return None
        if size < t:
            decided = t - size - h_future >= moves
        else:
            decided = size - max(h_future, t) >= moves
        if decided:
            return total - n
    return None


def _margin(q: float, half: float, size: float, t: float, step: float) -> float:
    """How far a count whose half-width shrinks by ``q`` (sqrt(n / N)) is from deciding: decided when >= 0
    (``_more``'s test, as one number: t - size - h_future - moves within the threshold, size - max(h_future, t)
    - moves past it)."""
    far = half * q if size < t else max(half * q, t)
    return (t - size if size < t else size) - far - _Z_DECIDE * step * math.sqrt(1 - q * q)


def _widest(n: int, start: int, last: int, kink: float) -> tuple[float, ...]:
    """The q at which ``_margin`` is largest over totals ``start``..``last``: the ends, and the kink where
    the future half-width meets the threshold (q = t / half) when it lies between.

    As a function of q, the margin within the threshold is convex (a line minus a concave root), so its
    maximum over an interval is at an end; past the threshold it rises with q below the kink and is convex
    above it. No count decides when the margin is negative at these points.
    """
    hi, lo = math.sqrt(n / start), math.sqrt(n / last)
    return (lo, hi, kink) if lo < kink < hi else (lo, hi)
