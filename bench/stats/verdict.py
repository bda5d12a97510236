"""Regression verdicts: NEW/BASE per cell from per-process slopes, robust to this machine's noise.

``compare_slopes`` is the entry: it pairs two cells' processes by round and
judges their log ratios at a fixed 95% (``intervals``, where the rule and the
intervals are explained), or through the sequential looks of the design the
files name (``sequential``); two separate runs are compared unpaired. Pure
functions: no timing in here.
"""

from __future__ import annotations

import dataclasses
import math

from .fit import Estimate
from .intervals import (CONFIDENCE, DECIDE_PROBABILITY, VERDICTS, Z_INTERVAL, Verdict, hodges_lehmann_paired,
                        hodges_lehmann_shift, judge)
from .sequential import round_order, sequential_verdict

__all__ = ["CONFIDENCE", "DECIDE_PROBABILITY", "DEFAULT_COUNT_THRESHOLD", "DEFAULT_THRESHOLD", "VERDICTS",
           "Z_INTERVAL", "Verdict", "compare_slopes", "hodges_lehmann_paired", "hodges_lehmann_shift", "judge",
           "parse_threshold"]

DEFAULT_THRESHOLD = 0.05
#: Instruction counts do not drift with the machine's load: a tighter default.
DEFAULT_COUNT_THRESHOLD = 0.01


def compare_slopes(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD, sequential: int = 0,
                   final: bool = True, family: int | None = None) -> Verdict | None:
    """Verdict on two cells' per-process slopes ``{round key: seconds per item}``.

    Rounds present on both sides pair them (``ab``; a file with itself);
    without any common round the two samples are compared unpaired.
    ``sequential`` (files ``ab`` wrote: the number of their design): the pairs
    in round order through the looks of ``sequential.sequential_verdict``;
    without ``final``, None while no interim look has decided. ``family``
    (design 3 on): the number of cells in the job, as the files record it.
    """
    b = {k: v for k, v in base.items() if v > 0}
    w = {k: v for k, v in new.items() if v > 0}
    if not b or not w:
        raise ValueError("no positive per-item slope on one side")
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
            verdict = sequential_verdict(logs, threshold, len(b), len(w), final, int(sequential), family)
        else:
            verdict = judge(hodges_lehmann_paired(logs), threshold, True, len(b), len(w))
        if verdict is None:
            return None
        # Rounds both sides measured whose pair a slope <= 0 left out (sizes too small for the noise), up to the
        # last pair the verdict used (an interim look's): said.
        both = set(base) & set(new)
        used = verdict.ratio.samples  # all the pairs, or an interim look's first ones
        if used < len(common):
            last = round_order(common[used - 1])
            both = {k for k in both if round_order(k) <= last}
        dropped = len(both) - used
        if not dropped:
            return verdict
        return dataclasses.replace(verdict, ratio=dataclasses.replace(verdict.ratio, dropped=dropped))
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
