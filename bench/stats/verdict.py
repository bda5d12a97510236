"""Regression verdicts: NEW/BASE per cell from per-process slopes, robust to this machine's noise.

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
than the threshold is not a regression, however sure. Pure functions: no
timing in here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from typing import Sequence

from .fit import Estimate

CONFIDENCE = 0.95
DEFAULT_THRESHOLD = 0.05
#: Instruction counts do not drift with the machine's load: a tighter default.
DEFAULT_COUNT_THRESHOLD = 0.01
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
    # prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), as polynomial arithmetic on integer coefficients.
    size = m * n + 1
    poly = [1] + [0] * (size - 1)
    for i in range(1, m + 1):
        for s in range(size - 1, n + i - 1, -1):  # times (1 - q^(n+i))
            poly[s] -= poly[s - n - i]
        for s in range(i, size):  # divided by (1 - q^i)
            poly[s] += poly[s - i]
    return tuple(poly)


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


def hodges_lehmann_paired(d: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Pseudo-median of ``d`` (median of Walsh averages) with the exact signed-rank interval (NaN below 6)."""
    if not d:
        raise ValueError("no pairs")
    walsh = sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))
    mid = _median_sorted(walsh)
    k = _rank(_signed_rank_counts(len(d)), 1 - confidence)
    if k == 0:
        return Estimate(mid, math.nan, math.nan, len(d))
    return Estimate(mid, walsh[k - 1], walsh[len(walsh) - k], len(d))


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
    #: The interval's confidence: 95%, or a sequential look's own (wider) level (``sequential``).
    confidence: float = CONFIDENCE
    #: Sequential verdicts (``ab``): the interim look that decided (1, 2, ...), 0 for the final look; None otherwise.
    look: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in VERDICTS:
            raise ValueError(f"unknown verdict {self.kind!r}")
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must lie in (0, 1)")


def judge(log_ratio: Estimate, threshold: float, paired: bool, base_n: int, new_n: int,
          z: float | None = None) -> Verdict:
    """The verdict on a log ratio with its interval (see the module docstring for the rule).

    ``z``: the interval's half-width in standard errors, when it is not a 95% one (``_more`` reads it).
    """
    t = math.log1p(threshold)
    e, lo, hi = log_ratio.value, log_ratio.low, log_ratio.high
    ratio = Estimate(math.exp(e), math.exp(lo) if lo == lo else math.nan, math.exp(hi) if hi == hi else math.nan,
                     log_ratio.samples)
    if lo == lo:  # an interval exists
        if lo > 0 and e > t:
            return Verdict("regression", ratio, threshold, paired, base_n, new_n)
        if hi < 0 and e < -t:
            return Verdict("improvement", ratio, threshold, paired, base_n, new_n)
        if -t <= lo and hi <= t:
            return Verdict("unchanged", ratio, threshold, paired, base_n, new_n)
    return Verdict("inconclusive", ratio, threshold, paired, base_n, new_n, _more(log_ratio, t, paired, z or Z_INTERVAL))


#: The share of cases in which the count ``_more`` names should decide the verdict.
DECIDE_PROBABILITY = 0.80
#: Half-width of the 95% interval in standard errors (normal approximation), and the 80% quantile.
Z_INTERVAL = statistics.NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
_Z_DECIDE = statistics.NormalDist().inv_cdf(DECIDE_PROBABILITY)
#: Samples at which the first exact interval exists: 6 pairs (signed rank), 4 per side (rank sum).
FIRST_INTERVAL = {True: 6, False: 4}


def _more(e: Estimate, t: float, paired: bool = True, z: float | None = None) -> int | None:
    """Processes per side (pairs, if paired) to add so that the verdict is decided with ~80% probability.

    Normal approximation from the current interval: with n samples and
    half-width h, N samples have a half-width h sqrt(n / N), and the estimate
    then moves from today's e by a predictive standard deviation of
    (h / 1.96) sqrt((N - n) / N) (what the new samples add, and what today's
    estimate does not know of the truth). The count is the smallest N at
    which the interval is on the deciding side with 80% probability: within
    the threshold for ``unchanged``, clear of 1 and past the threshold for
    ``regression`` or ``improvement``. Aiming for the expected half-width alone
    decides only about half the time. None: no count up to a hundred times
    today's is likely to decide (an effect sitting on the threshold).
    """
    n = e.samples
    if e.low != e.low:  # no interval yet: the exact interval needs 6 pairs, or 4 per side
        return max(FIRST_INTERVAL[paired] - n, 1)
    half = max(e.value - e.low, e.high - e.value)
    if half <= 0:
        return None
    size, step = abs(e.value), half / (z or Z_INTERVAL)
    for total in range(n + 1, 100 * n + 1):
        q = math.sqrt(n / total)
        h_future, moves = half * q, _Z_DECIDE * step * math.sqrt(1 - q * q)
        if size < t:
            decided = t - size - h_future >= moves
        else:
            decided = size - max(h_future, t) >= moves
        if decided:
            return total - n
    return None


def compare_slopes(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD, sequential: int = 0,
                   final: bool = True) -> Verdict | None:
    """Verdict on two cells' per-process slopes ``{round key: seconds per item}``.

    Rounds present on both sides pair them (``ab``; a file with itself);
    without any common round the two samples are compared unpaired.
    ``sequential`` (files ``ab`` wrote: the number of their design): the pairs
    in round order through the looks of ``sequential.sequential_verdict``;
    without ``final``, None while no interim look has decided.
    """
    b = {k: v for k, v in base.items() if v > 0}
    w = {k: v for k, v in new.items() if v > 0}
    if not b or not w:
        raise ValueError("no positive per-item slope on one side")
    from .sequential import round_order, sequential_verdict

    common = sorted(set(b) & set(w), key=round_order)
    shared = [k for k in common if b[k] == w[k]]  # one process on both sides: the same measurement
    if shared:
        if len(shared) == len(common) == len(b) == len(w):  # a file compared with itself: nothing changed
            return Verdict("unchanged", Estimate(1.0, 1.0, 1.0, len(common)), threshold, True, len(b), len(w))
        raise ValueError(f"BASE and NEW share {len(shared)} worker processes (one holds the other's runs, "
                         "as after --append): compare two separate measurements")
    if common:
        logs = [math.log(w[k] / b[k]) for k in common]
        if sequential:
            return sequential_verdict(logs, threshold, len(b), len(w), final, design=int(sequential))
        return judge(hodges_lehmann_paired(logs), threshold, True, len(b), len(w))
    est = hodges_lehmann_shift([math.log(v) for v in b.values()], [math.log(v) for v in w.values()])
    return judge(est, threshold, False, len(b), len(w))


def parse_threshold(text: str) -> float:
    """``5%`` -> 0.05; ValueError with a one-line reason.

    The percent sign is required: a bare ``0.5`` could mean 0.5% or 50%, and a
    CI gate read the wrong way round is silently switched off.
    """
    raw = text.strip()
    if not raw.endswith("%"):
        raise ValueError(f"--threshold {text!r}: give a percentage with its sign, such as 5% or 0.5%")
    try:
        value = float(raw[:-1]) / 100
    except ValueError:
        raise ValueError(f"--threshold {text!r}: expected a percentage such as 5% or 0.5%") from None
    if not (0 < value < 1) or value != value:
        raise ValueError(f"--threshold {text!r}: must lie between 0% and 100%")
    return value
