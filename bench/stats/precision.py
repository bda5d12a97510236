"""Precision: how wide an interval is, relative to its estimate, and when a run may stop measuring.

``run --precision PCT`` measures each group of cells until every per-item
figure and every ratio to the class form has a 95% interval no wider than
PCT of its estimate on either side, or until the budget ends. It stops on the
interval's width, never on the estimate, and only at a round count where the
group's orders are balanced; tests/test_precision.py shows by simulation,
with this machine's noise, that the intervals reported after such a stop
still cover at their level.
"""

from __future__ import annotations

import math
from .fit import MIN_SAMPLES_FOR_INTERVAL, Estimate

#: The fewest rounds a group may stop after: below six, no interval reaches 95%.
MIN_ROUNDS = MIN_SAMPLES_FOR_INTERVAL


def relative_half_width(e: Estimate | None) -> float:
    """The interval's larger half, as a fraction of the estimate: [95, 110] around 100 is 0.10.

    Infinite when there is no interval (too few samples) or the estimate is not positive.
    """
    if e is None or math.isnan(e.low) or not e.value > 0:
        return math.inf
    return max(e.high - e.value, e.value - e.low) / e.value


def parse_precision(text: str) -> float:
    """``--precision`` as a fraction: '5' and '5%' are 0.05; ValueError (one line) outside (0, 100)."""
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"--precision {text!r}: expected a percentage such as 5 or 2.5") from None
    if not 0 < value < 100 or math.isnan(value):
        raise ValueError(f"--precision {text!r}: expected a percentage above 0 and below 100")
    return value / 100


__all__ = ["MIN_ROUNDS", "parse_precision", "relative_half_width"]
