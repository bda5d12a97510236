"""Headline findings, each sentence computed from the data with its interval."""

from __future__ import annotations

import dataclasses

from bench.analysis import CANDIDATE_IMPL, REFERENCE_IMPL, Cell, Estimate, ratio

from ._model import Dataset, Group

REFERENCE, CANDIDATE = REFERENCE_IMPL, CANDIDATE_IMPL


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
    """One sentence per Python: the ratio with items ready on each loop, then the other workloads."""
    loops = group.loops
    if not loops:
        return []
    first, others = loops[0], loops[1:]
    ready = _pair_ratio(group, "none", first)
    parts = []
    if ready is not None:
        also = [f"{loop}: {fmt_ratio(r)}" for loop in others if (r := _pair_ratio(group, "none", loop)) is not None]
        parts.append(f"with items ready (`none`), an async generator takes {fmt_ratio(ready)} of a class "
                     f"iterator's per-item time on {first}" + (f" ({'; '.join(also)})" if also else ""))
    rest = [f"`{w}` {fmt_ratio(r)}" for w in group.workloads if w != "none"
            if (r := _pair_ratio(group, w, first)) is not None]
    if rest:
        parts.append(f"with the other workloads on {first}: {', '.join(rest)}")
    if not parts:
        return []
    return [Finding(f"Python {group.label}: {'; '.join(parts)}.", "ratio")]


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


def best_loop(dataset: Dataset, workload: str = "sleep0") -> list[Finding]:
    """Per Python, the loop and impl with the largest speed-up over asyncio for ``workload``, in one sentence."""
    parts = []
    for group in dataset.groups:
        found = speedups(group, workload)
        if found:
            loop, impl, r = max(found, key=lambda t: t[2].value)
            parts.append(f"{loop} {fmt_ratio(r)} on {group.label} ({impl})")
    if not parts:
        return []
    return [Finding(f"For `{workload}`, the largest speed-up over asyncio (asyncio's per-item time over the loop's): "
                    f"{'; '.join(parts)}.", "loop")]


def nonlinear(dataset: Dataset) -> list[Finding]:
    """How many cells have a per-item cost that depends on n, per Python, and the strongest of them."""
    counts, worst, tested = [], None, False
    for group in dataset.groups:
        fits = [r for r in group.rows if r.fit]
        tested = tested or any(r.fit.nonlinear is not None for r in fits)
        bad = [r for r in fits if r.fit.nonlinear]
        counts.append(f"{len(bad)} of {len(fits)} cells on {group.label}")
        for r in bad:
            if worst is None or abs(r.fit.curvature.value) > abs(worst[1].fit.curvature.value):
                worst = (group, r)
    if not tested:
        return [Finding("Linearity in n is untested: fewer than three sizes were measured.", "linearity")]
    if worst is None:
        return [Finding("Per-item cost is linear in n in every cell.", "linearity")]
    group, r = worst
    c = r.fit.curvature
    return [Finding(
        f"Per-item cost changes with n in {'; '.join(counts)}; the strongest is `{r.cell.name}` on {group.label}: "
        f"{c.value:+.0%} [{c.low:+.0%}, {c.high:+.0%}] from the small-n slope to the large-n slope (see `linear` in the tables).",
        "linearity")]


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
        out += asyncgen_vs_class(group)
    return out + best_loop(dataset) + nonlinear(dataset)
