"""``calibrate``'s report: the A/A ratio per cell, what ``ab`` decides here with its own design, a threshold to set."""

from __future__ import annotations

from .table import render


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:g}%"


def format_calibration(c) -> str:
    """The report of an ``aiterbench.orchestrate.calibrate.Calibration``."""
    lines = [f"A/A on this machine with ab's own design (its two sizes, one process per loop and side, sequential "
             f"looks, the error rate shared by the job's {c.family} cells): {c.rounds} rounds in {c.seconds:.0f} s; "
             f"'ab --quick' gets about {c.quick_pairs} pairs per cell at this pace, so each cell's pairs were "
             "replayed in windows of that many.", ""]
    head = ("cell", "A/A NEW/BASE [95% CI]", "pairs", "windows", "unchanged from", "pairs to unchanged",
            "detects", "pairs to detect")
    body = [(k.cell.name, f"{k.aa.value:.4f} [{k.aa.low:.4f}, {k.aa.high:.4f}]", str(k.pairs), str(k.windows),
             _percent(k.unchanged_from), str(k.pairs_to_unchanged or "-"), "+" + _percent(k.detects)
             if k.detects is not None else "-", str(k.pairs_to_detect or "-")) for k in c.cells]
    lines += render(head, body, "text").splitlines()
    lines.append("")
    for f in c.failures:
        lines.append(f"FAILED {f.cell.name}: {f.reason}")
    short = [k for k in c.cells if k.pairs < c.quick_pairs]
    if short:
        lines.append(f"Only {min(k.pairs for k in short)} pairs were measured where 'ab --quick' gets about "
                     f"{c.quick_pairs}: each cell was replayed on fewer pairs than ab would have, so the figures "
                     "below are pessimistic; give calibrate a longer --budget (120 s or more).")
    if not c.cells:
        lines.append("No cell measured enough A/A pairs (six) to say anything.")
    elif c.suggested is None:
        lines.append("No threshold up to 25% lets 'ab --quick' call every A/A cell unchanged here: the machine is "
                     "too noisy for these cells in ab's time; give ab more time (--seconds), calibrate a longer "
                     "--budget, or judge instruction counts (ab --count).")
    else:
        lines.append(f"Suggested: 'ab --quick --threshold {c.suggested * 100:g}%' for a job of these {c.family} "
                     "cells here: the smallest threshold at which ab's own looks called every A/A window of every "
                     "cell unchanged. 'detects' is the smallest change every window flagged as a regression at that "
                     "threshold (A/A pairs times 1 + change, replayed through the same looks).")
    return "\n".join(lines) + "\n"
