"""The per-item cost model: T(n) = fixed + n * per_item, fitted per process.

Every worker process (one per cell and round) measures all sizes of its cell,
so each process gives its own slope and intercept. Across processes the
estimate is the median with a distribution-free 95% interval from order
statistics: on a shared machine, interference only ever slows a process down,
and a mean lets one disturbed process move the answer by several percent (seen
here: five processes of one cell at 115, 115, 118, 139 and 163 ns/item).
Ratios between cells are paired by round (processes measured next to each
other in time), which cancels the machine's drift. Pure functions over plain
numbers: no timing in here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from typing import Mapping, Sequence

CONFIDENCE = 0.95
#: A cell is flagged non-linear when its per-item cost between the two largest
#: sizes differs from that between the two smallest by more than this fraction
#: (and the difference is outside its 95% interval).
NONLINEAR_THRESHOLD = 0.10


def binomial_half_cdf(k: int, count: int) -> float:
    """P(Binomial(count, 1/2) <= k), exactly."""
    return sum(math.comb(count, i) for i in range(k + 1)) / 2**count


@functools.lru_cache(maxsize=None)  # a pure function of the count, asked for every cell and look
def order_statistic_ranks(count: int) -> tuple[int, int]:
    """0-based ranks (lo, hi) of the sorted samples that bound the median with >= 95% confidence.

    Below 6 samples no pair reaches 95%; the full range is returned (93.75% for 5).
    """
    # [x(lo), x(count-1-lo)] misses the median with probability 2 * P(Binomial(count, 1/2) <= lo).
    alpha = (1 - CONFIDENCE) / 2
    lo = 0
    while lo + 1 < count - 2 - lo and binomial_half_cdf(lo + 1, count) <= alpha:
        lo += 1
    return lo, count - 1 - lo


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A value with its 95% confidence interval (low/high are NaN when it cannot be computed)."""

    value: float
    low: float
    high: float
    samples: int
    #: Samples left out before estimating (a ratio's pairs with a slope that is not positive).
    dropped: int = 0

    def __post_init__(self) -> None:
        if not (math.isnan(self.low) or self.low <= self.value <= self.high):
            raise ValueError(f"interval [{self.low}, {self.high}] does not hold {self.value}")

    def excludes(self, x: float) -> bool:
        return not math.isnan(self.low) and (x < self.low or x > self.high)


#: Below this many samples no pair of order statistics bounds the median with 95% confidence.
MIN_SAMPLES_FOR_INTERVAL = 6


def median_ci(xs: Sequence[float]) -> Estimate:
    """Median with a distribution-free 95% interval from order statistics (NaN below 6 samples)."""
    if not xs:
        raise ValueError("no samples")
    xs = sorted(xs)
    m = statistics.median(xs)
    if len(xs) < MIN_SAMPLES_FOR_INTERVAL:
        return Estimate(m, math.nan, math.nan, len(xs))
    lo, hi = order_statistic_ranks(len(xs))
    return Estimate(m, xs[lo], xs[hi], len(xs))


def ratio_ci(xs: Sequence[float], ys: Sequence[float]) -> Estimate:
    """Median ratio x/y over paired samples, with the order-statistic interval of the ratios."""
    pairs = list(zip(xs, ys))
    logs = [math.log(x / y) for x, y in pairs if x > 0 and y > 0]
    if not logs:
        raise ValueError("no positive pairs")
    e = median_ci(logs)
    dropped = len(pairs) - len(logs)  # a slope <= 0 has no logarithm: said, not hidden
    if math.isnan(e.low):
        return Estimate(math.exp(e.value), math.nan, math.nan, e.samples, dropped)
    return Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), e.samples, dropped)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares intercept and slope of ys against xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("need two distinct sizes to fit a slope")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


@dataclasses.dataclass(frozen=True)
class CellFit:
    """The fitted model of one cell: per-item and fixed cost in seconds, with intervals."""

    sizes: tuple[int, ...]
    per_item: Estimate
    fixed: Estimate
    curvature: Estimate | None  # relative change of per-item cost from small to large n
    slopes: Mapping[object, float]  # per-round slope, for pairing with other cells

    @property
    def nonlinear(self) -> bool | None:
        """True when per-item cost depends on n; None when it cannot be told."""
        if self.curvature is None or math.isnan(self.curvature.low):
            return None  # fewer than 3 sizes, or too few processes for an interval
        return abs(self.curvature.value) > NONLINEAR_THRESHOLD and self.curvature.excludes(0.0)


def fit_cell(per_round: Mapping[object, Mapping[int, float]]) -> CellFit:
    """Fit T(n) = fixed + n * per_item from ``{round: {n: seconds per item}}``.

    Each round is fitted on the sizes it measured (runs appended with other
    sizes still count); a round with fewer than two sizes is left out.
    """
    all_sizes = sorted({n for by_n in per_round.values() for n in by_n})
    if len(all_sizes) < 2:
        raise ValueError("need at least two sizes")
    fixeds, slopes, curves = [], {}, []
    for rnd, by_n in sorted(per_round.items(), key=lambda kv: str(kv[0])):
        sizes = sorted(by_n)
        if len(sizes) < 2:
            continue
        totals = [by_n[n] * n for n in sizes]
        # Per-item values v(n) = per_item + fixed / n: fitting v against 1/n weighs
        # every size by its relative noise, so the small sizes pin the fixed cost
        # and the large ones the slope (a fit of totals against n would let the
        # largest size's noise swamp the intercept).
        b, a = fit_line([1.0 / n for n in sizes], [by_n[n] for n in sizes])
        fixeds.append(a)
        slopes[rnd] = b
        if len(sizes) >= 3 and b > 0:
            lo = (totals[1] - totals[0]) / (sizes[1] - sizes[0])
            hi = (totals[-1] - totals[-2]) / (sizes[-1] - sizes[-2])
            curves.append((hi - lo) / b)
    if not slopes:
        raise ValueError("no round measured every size")
    return CellFit(
        sizes=tuple(all_sizes),
        per_item=median_ci(list(slopes.values())),
        fixed=median_ci(fixeds),
        curvature=median_ci(curves) if curves else None,
        slopes=slopes,
    )


def paired(a: CellFit, b: CellFit) -> tuple[list[float], list[float]]:
    """The two cells' per-round slopes for the rounds both measured."""
    common = sorted(set(a.slopes) & set(b.slopes), key=str)
    return [a.slopes[r] for r in common], [b.slopes[r] for r in common]


def ratio(a: CellFit, b: CellFit) -> Estimate | None:
    """Per-item cost of a over b, paired by round; None without common rounds with positive slopes."""
    xs, ys = paired(a, b)
    try:
        return ratio_ci(xs, ys)
    except ValueError:  # no pair left: every common round had a slope <= 0 (noise at tiny sizes)
        return None


def difference(a: CellFit, b: CellFit) -> Estimate | None:
    """Per-item cost of a minus b (seconds), paired by round; None without common rounds."""
    xs, ys = paired(a, b)
    return median_ci([x - y for x, y in zip(xs, ys)]) if xs else None
