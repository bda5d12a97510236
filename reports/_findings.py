"""Headline findings, each sentence computed from the data with its interval."""

from __future__ import annotations

import dataclasses

from ..analysis import CANDIDATE_IMPL, NS, REFERENCE_IMPL, Cell, Estimate, ratio

from ._model import Dataset, Group

REFERENCE, CANDIDATE = REFERENCE_IMPL, CANDIDATE_IMPL


@dataclasses.dataclass(frozen=True)
class Finding:
    text: str  # plain text; `code` spans in backticks
    kind: str  # "ratio", "http", "loop", "linearity", "versions", "memory", "latency", "history", "counts", "signals", "why"


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


#: The library's own iteration of the ``http`` body, and an async generator that re-yields it.
HTTP_NATIVE = "aiohttp_lines"
HTTP_WRAPPED = "asyncgen_over_aiohttp_lines"


def _share(r: Estimate) -> str:
    """A wrapper / floor ratio as the share of the wrapper's per-item cost above the floor: 1 - 1/r."""
    if r.low != r.low:
        return f"{1 - 1 / r.value:+.0%}"
    return f"{1 - 1 / r.value:+.0%} [{1 - 1 / r.low:+.0%}, {1 - 1 / r.high:+.0%}]"


def _ns(e: Estimate) -> str:
    if e.low != e.low:
        return f"{e.value * NS:.0f} ns"
    return f"{e.value * NS:.0f} ns [{e.low * NS:.0f}, {e.high * NS:.0f}]"


def _fit_ratio(group: Group, impl: str, base: str, loop: str) -> Estimate | None:
    row, ref = group.row(Cell(impl, "http", loop)), group.row(Cell(base, "http", loop))
    if row is None or ref is None or row.fit is None or ref.fit is None:
        return None
    return ratio(row.fit, ref.fit)


def http_share(group: Group) -> list[Finding]:
    """Per Python and loop with ``http``: what a real stream's line costs, what the iterator's form changes in it
    (``asyncgen`` and ``class_anext`` both read with ``readline()``), and what a generator layered over aiohttp's
    own iterator adds to it (a layer, not a form)."""
    out = []
    for loop in group.loops:
        floor = group.row(Cell(HTTP_NATIVE, "http", loop))
        parts = []
        if floor is not None and floor.fit is not None:
            parts.append(f"aiohttp's own line iteration takes {_ns(floor.fit.per_item)} per line")
        form = _fit_ratio(group, CANDIDATE, REFERENCE, loop)
        if form is not None:
            parts.append(f"read with `readline()`, an async generator costs {fmt_ratio(form)} of a class iterator "
                         f"per line (the form's share of a line's cost: {_share(form)})")
        layer = _fit_ratio(group, HTTP_WRAPPED, HTTP_NATIVE, loop)
        if layer is not None:
            parts.append(f"an async generator that re-yields aiohttp's own iteration costs {fmt_ratio(layer)} of it "
                         f"(the extra layer's share: {_share(layer)})")
        if parts:
            out.append(Finding(f"Python {group.label}, over HTTP on loopback (`http`, {loop}): "
                               f"{'; '.join(parts)}.", "http"))
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


def memory(dataset: Dataset) -> list[Finding]:
    """Per environment with memory figures: what a suspended async generator pins beyond a class iterator."""
    import statistics

    out = []
    for mg in dataset.memory:
        spots = [(w, loop) for w in mg.workloads for loop in mg.loops
                 if mg.get(Cell(CANDIDATE, w, loop)) and mg.get(Cell(REFERENCE, w, loop))]
        if not spots:
            continue
        workload, loop = spots[0]
        gen, cls = mg.get(Cell(CANDIDATE, workload, loop)), mg.get(Cell(REFERENCE, workload, loop))
        g_held, c_held = statistics.median(gen.held_hooked), statistics.median(cls.held_hooked)
        text = (f"Python {mg.label}: suspended, an async generator pins {g_held - c_held:+,.0f} bytes against a class "
                f"iterator ({g_held:,.0f} B and {c_held:,.0f} B, `{workload}` on {loop}; {gen.hooks_cost:,.0f} B of the "
                "generator's are the loop's asyncgen hooks)")
        if gen.allocs_per_item and cls.allocs_per_item:
            text += (f"; while iterating, the async generator allocates {statistics.median(gen.allocs_per_item):.2f} "
                     f"blocks ({statistics.median(gen.bytes_per_item):,.0f} B) per item, the class iterator "
                     f"{statistics.median(cls.allocs_per_item):.2f} ({statistics.median(cls.bytes_per_item):,.0f} B)")
        out.append(Finding(text + ".", "memory"))
    return out


def latency(dataset: Dataset) -> list[Finding]:
    """Per environment measured with ``run --latency``: first item and close of the two forms."""
    out = []
    for group in dataset.groups:
        spots = [(w, loop) for w in group.workloads for loop in group.loops
                 if all((r := group.row(Cell(i, w, loop))) and "first_item" in r.latency for i in (CANDIDATE, REFERENCE))]
        if not spots:
            continue
        workload, loop = spots[0]
        gen, cls = group.row(Cell(CANDIDATE, workload, loop)), group.row(Cell(REFERENCE, workload, loop))

        def ns(e: Estimate) -> str:
            return f"{e.value * NS:,.0f} ns" + ("" if e.low != e.low else f" [{e.low * NS:,.0f}, {e.high * NS:,.0f}]")

        text = (f"Python {group.label}: the first item takes {ns(gen.latency['first_item'])} from an async generator "
                f"and {ns(cls.latency['first_item'])} from a class iterator (`{workload}` on {loop})")
        if "close" in gen.latency and "close" in cls.latency:
            text += (f"; closing one half-consumed takes {ns(gen.latency['close'])} and {ns(cls.latency['close'])}")
        out.append(Finding(text + ".", "latency"))
    return out


def history(dataset: Dataset) -> list[Finding]:
    """One sentence per change point in a history: where a cell's level moved, and by how much."""
    from ..analysis import history_steps

    out = []
    for hg in dataset.history:
        for cell, points in hg.series:
            for cp, before, after in history_steps([p.value for p in points]):
                p = points[cp]
                at = f"run {cp + 1} of {len(points)}" + (f" (revision {p.revision})" if p.revision else "")
                if getattr(p, "changed", ()):
                    at += f", where {', '.join(p.changed)}"
                out.append(Finding(f"History, Python {hg.label}: `{cell}` steps from {before * NS:.1f} to "
                                   f"{after * NS:.1f} ns per item ({after / before - 1:+.1%}) at {at}, {p.date[:10]}.",
                                   "history"))
    return out


def counted(dataset: Dataset) -> list[Finding]:
    """Per counted environment: the async generator's instructions per item against the class iterator's, the
    answer that does not depend on the machine's load (items ready first, then the other workloads)."""
    out = []
    for cg in dataset.counts:
        parts = []
        for workload in sorted(cg.workloads, key=lambda w: w != "none"):
            for loop in cg.loops:
                gen, cls = cg.get(Cell(CANDIDATE, workload, loop)), cg.get(Cell(REFERENCE, workload, loop))
                r = cg.ratio(Cell(CANDIDATE, workload, loop), REFERENCE)
                if gen is None or cls is None or r is None:
                    continue
                where = "with items ready (`none`)" if workload == "none" else f"`{workload}`"
                parts.append(f"{where} on {loop}, {gen.per_item:,.0f} against {cls.per_item:,.0f} ({r:.3f}x)")
        if parts:
            out.append(Finding(f"Python {cg.label}, instructions counted by callgrind (a count, not a "
                               f"time: the machine's load does not move it): an async generator's item executes, against a class "
                               f"iterator's, {'; '.join(parts)}.", "counts"))
    return out


def _ratio3(e: Estimate) -> str:
    return f"{e.value:.3f}x [{e.low:.3f}, {e.high:.3f}]"


def signals(dataset: Dataset) -> list[Finding]:
    """Per environment both timed and counted: where the instructions ratio lies outside the timing ratio's 95%
    interval (same cell, same reference), or that it never does."""
    out = []
    for group in dataset.groups:
        counts = dataset.counts_of(group.label)
        if counts is None:
            continue
        both, apart = 0, []
        for row in group.rows:
            r, q = row.vs_reference, counts.ratio(row.cell, row.reference)
            if r is None or q is None or r.low != r.low:  # no ratio in one signal, or a single process: no interval
                continue
            both += 1
            if not r.low <= q <= r.high:
                apart.append(f"`{row.cell.name}` over `{row.reference}` takes {_ratio3(r)} in time and {q:.3f}x in "
                             "instructions")
        if not both:
            continue
        if apart:
            out.append(Finding(
                f"Python {group.label}: time and instructions disagree on {len(apart)} of {both} "
                f"ratio{'s' if both > 1 else ''} measured in both (the instructions ratio lies outside the timing ratio's 95% interval): {'; '.join(apart)}. Time "
                "is ns per item measured on this machine, instructions are counted by callgrind: timing sees caches, "
                "branch prediction, waiting and load, counts do not.", "signals"))
        else:
            out.append(Finding(
                f"Python {group.label}: time and instructions agree on {'all ' if both > 1 else ''}{both} "
                f"ratio{'s' if both > 1 else ''} measured in both (each "
                "instructions ratio, counted by callgrind, lies inside the timing ratio's 95% interval).", "signals"))
    return out


def why(dataset: Dataset) -> list[Finding]:
    """Per explain document: the difference per item and the three functions that pay most of it."""
    out = []
    for w in dataset.why:
        e = w.explanation
        largest = [r for r in e.functions if r.difference][:3]
        parts = ", ".join(f"`{r.function}` {r.difference:+,.1f} ({r.category})" for r in largest)
        rel = f" ({100 * e.difference / e.base.per_item:+.0f}%)" if e.base.per_item else ""
        out.append(Finding(f"Why {e.title}: {e.difference:+,.1f} instructions per item{rel}, counted by callgrind"
                           + (f"; the largest differences: {parts} (see Why)." if parts else "; no function differs."),
                           "why"))
    return out


def findings(dataset: Dataset) -> list[Finding]:
    out = across_versions(dataset)
    for group in dataset.groups:
        out += asyncgen_vs_class(group) + http_share(group)
    if dataset.groups:
        out += best_loop(dataset) + nonlinear(dataset)
    return out + counted(dataset) + signals(dataset) + why(dataset) + latency(dataset) + memory(dataset) + history(dataset)
