"""Headline findings, each sentence computed from the data with its interval."""

from __future__ import annotations

import dataclasses

from bench._matrix import Cell
from bench._stats import Estimate, ratio

from ._model import Dataset, Group

REFERENCE, CANDIDATE = "class_anext", "asyncgen"


@dataclasses.dataclass(frozen=True)
class Finding:
    text: str  # plain text; `code` spans in backticks
    kind: str  # "ratio", "loop", "linearity", "versions"


def fmt_ratio(e: Estimate) -> str:
    if e.low != e.low:  # NaN: a single process
        return f"{e.value:.2f}x"
    return f"{e.value:.2f}x [{e.low:.2f}, {e.high:.2f}]"


def _pair_ratio(group: Group, workload: str, loop: str) -> Estimate | None:
    a = group.row(Cell(CANDIDATE, workload, loop))
    b = group.row(Cell(REFERENCE, workload, loop))
    if a is None or b is None or a.fit is None or b.fit is None:
        return None
    return ratio(a.fit, b.fit)


def asyncgen_vs_class(group: Group) -> list[Finding]:
    out = []
    for workload in group.workloads:
        parts = []
        for loop in group.loops:
            r = _pair_ratio(group, workload, loop)
            if r is not None:
                parts.append(f"{fmt_ratio(r)} on {loop}")
        if not parts:
            continue
        what = "when items are ready (`none`)" if workload == "none" else f"under `{workload}`"
        head = parts[0]
        rest = f" ({'; '.join(parts[1:])})" if parts[1:] else ""
        out.append(Finding(
            f"Python {group.label}: {what}, an async generator takes {head} the per-item time of a class iterator{rest}.",
            "ratio"))
    return out


def speedups(group: Group, workload: str):
    """(loop, impl, speed-up over asyncio) for every other loop and impl in ``workload``."""
    out = []
    for loop in group.loops:
        if loop == "asyncio":
            continue
        for impl in group.impls:
            base, other = group.row(Cell(impl, workload, "asyncio")), group.row(Cell(impl, workload, loop))
            if base and other and base.fit and other.fit:
                r = ratio(base.fit, other.fit)
                if r is not None:
                    out.append((loop, impl, r))
    return out


def best_loop(group: Group, workload: str = "sleep0") -> list[Finding]:
    found = speedups(group, workload)
    if not found:
        return []
    loop, impl, r = max(found, key=lambda t: t[2].value)
    verb = "faster" if r.value >= 1 else "slower"
    return [Finding(
        f"Python {group.label}: for `{workload}`, the largest change from asyncio is {loop}, "
        f"{fmt_ratio(r)} {verb} per item ({impl}).", "loop")]


def nonlinear(group: Group) -> list[Finding]:
    bad = [r for r in group.rows if r.fit and r.fit.nonlinear]
    untested = [r for r in group.rows if r.fit and r.fit.nonlinear is None]
    if bad:
        listed = ", ".join(
            f"`{r.cell.name}` ({r.fit.curvature.value:+.0%} [{r.fit.curvature.low:+.0%}, {r.fit.curvature.high:+.0%}])"
            for r in bad)
        return [Finding(
            f"Python {group.label}: per-item cost changes with n in {len(bad)} of {len(group.rows)} cells "
            f"(large-n slope against small-n slope): {listed}.", "linearity")]
    if untested and len(untested) == len(group.rows):
        return [Finding(f"Python {group.label}: linearity in n is untested (fewer than three sizes).", "linearity")]
    return [Finding(f"Python {group.label}: per-item cost is linear in n in every cell.", "linearity")]


def across_versions(dataset: Dataset) -> list[Finding]:
    if len(dataset.groups) < 2:
        return []
    parts = []
    for group in dataset.groups:
        r = _pair_ratio(group, "none", "asyncio")
        if r is not None:
            parts.append((group.label, r))
    if len(parts) < 2:
        return []
    listed = ", ".join(f"{fmt_ratio(r)} on {label}" for label, r in parts)
    lo, hi = min(parts, key=lambda p: p[1].value), max(parts, key=lambda p: p[1].value)
    return [Finding(
        f"Across Python versions (items ready, asyncio), the async generator / class iterator ratio is {listed}; "
        f"lowest on {lo[0]}, highest on {hi[0]}.", "versions")]


def findings(dataset: Dataset) -> list[Finding]:
    out = across_versions(dataset)
    for group in dataset.groups:
        out += asyncgen_vs_class(group)[:1] + best_loop(group) + nonlinear(group)
    for group in dataset.groups:
        out += asyncgen_vs_class(group)[1:]
    return out
