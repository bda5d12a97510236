"""``calibrate``'s report: the A/A ratio per cell, what ``ab`` detects here, and a threshold to set."""

from __future__ import annotations

from .table import render


def _percent(x: float) -> str:
    return f"{x * 100:.1f}%"


def format_calibration(c) -> str:
    """The report of an ``aiterbench.orchestrate.calibrate.Calibration``."""
    lines = [f"A/A on this machine: {c.rounds} rounds in {c.seconds:.0f} s; 'ab --quick' measures "
             f"about {c.cells[0].quick_pairs if c.cells else c.quick_rounds} pairs per cell "
             "at this pace.", ""]
    head = ("cell", "A/A NEW/BASE [95% CI]", "pairs", "detects here", "detects with --quick", "--threshold floor (--quick)")
    body = [(k.cell.name, f"{k.aa.value:.4f} [{k.aa.low:.4f}, {k.aa.high:.4f}]", str(k.pairs),
             _percent(k.detects(k.se)), _percent(k.detects(k.se_quick)), _percent(k.floor_quick)) for k in c.cells]
    lines += render(head, body, "text").splitlines()
    lines.append("")
    for f in c.failures:
        lines.append(f"FAILED {f.cell.name}: {f.reason}")
    if c.suggested is None:
        lines.append("No cell measured enough A/A pairs (six) to say anything.")
    else:
        lines.append(f"Suggested: 'ab --quick --threshold {c.suggested * 100:.1f}%' here. Below a cell's floor, "
                     "'unchanged' is out of reach (the interval is wider than the threshold), so a cell that did "
                     "not change stays 'inconclusive'; 'detects' is the smallest change flagged 95% of the time "
                     "at that floor (normal approximation from the A/A spread).")
    return "\n".join(lines) + "\n"
