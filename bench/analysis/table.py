"""From measured cells to the table ``show`` prints: fits, ratios and overheads."""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

from ..model.cells import Cell
from ..model.results import CellData
from ..model.documents import dumps
from ..model.units import NS
from ..stats.fit import CellFit, Estimate, difference, fit_cell, median_ci, ratio

REFERENCE_IMPL = "class_anext"
SYNC_IMPL = "sync_iter"
#: The module prefix of the built-in impls: they count as one module when a row's reference is chosen.
_BUILTIN_MODULE = "aiterbench.impls"
#: Built-in workloads whose items a producer on the same loop makes inside the timed (and counted) region.
PRODUCED = {"queue": "the producer task", "stream": "the writer task", "http": "the aiohttp server's handler"}


@dataclasses.dataclass(frozen=True)
class Row:
    cell: Cell
    family: str
    fit: CellFit | None
    problem: str | None  # why there is no fit
    vs_reference: Estimate | None  # per-item ratio to ``reference``, same workload and loop
    fastest: str | None
    over_fastest: Estimate | None  # seconds per item above the fastest async impl
    over_sync: Estimate | None  # seconds per item above sync_iter
    metadata: Mapping[str, object]
    #: ``run --latency``: "first_item" and "close", seconds, median over processes with its interval.
    latency: Mapping[str, Estimate] = dataclasses.field(default_factory=dict)
    #: The impl ``vs_reference`` is a ratio to (``reference_of``), None when there is none in the group.
    reference: str | None = None


def _module_of(data: CellData) -> str:
    """The impl's module as its result recorded it; the built-in modules count as one (and older files, which
    did not record it, held built-in references only)."""
    module = str(data.metadata.get("impl_module") or _BUILTIN_MODULE)
    return _BUILTIN_MODULE if module == _BUILTIN_MODULE or module.startswith(_BUILTIN_MODULE + ".") else module


def reference_of(cell: Cell, cells: Mapping[Cell, CellData], baseline: str | None = None) -> Cell | None:
    """The cell ``cell``'s ratio is to, in its workload and loop: ``baseline`` when one is named; else the
    class_anext-family impl of the same module (a plug-in's own class form, so that a library author's two
    forms get their ratio), else the built-in ``class_anext``. None when the group holds none of these."""
    group = [c for c in cells if c.workload == cell.workload and c.loop == cell.loop]
    if baseline is not None:
        return next((c for c in group if c.impl == baseline), None)
    builtin = Cell(REFERENCE_IMPL, cell.workload, cell.loop)
    module = _module_of(cells[cell])
    if module == _BUILTIN_MODULE:
        return builtin if builtin in cells else None
    own = [c for c in group if _module_of(cells[c]) == module and cells[c].metadata.get("family") == REFERENCE_IMPL]
    if len(own) == 1 and own[0] != cell:
        return own[0]
    # None of its own, or it is its module's class form (then it is compared with the built-in one); two class
    # forms in one module are ambiguous: no ratio rather than a guess (``--baseline`` names one).
    return builtin if builtin in cells and len(own) <= 1 else None


def analyze(cells: Mapping[Cell, CellData], baseline: str | None = None) -> list[Row]:
    """One row per cell: its fit, its ratio to its reference (``reference_of``), its overheads."""
    fits: dict[Cell, CellFit] = {}
    problems: dict[Cell, str] = {}
    for cell, data in cells.items():
        try:
            fits[cell] = fit_cell(data.per_round)
        except ValueError as exc:
            problems[cell] = str(exc)
    rows = []
    for cell, data in cells.items():
        fit = fits.get(cell)
        group = {c: f for c, f in fits.items() if c.workload == cell.workload and c.loop == cell.loop}
        # The floor is its own column (vs sync_iter); "fastest" is the best async form.
        async_group = [c for c in group if cells[c].metadata.get("family") != "sync"]
        fastest = min(async_group, key=lambda c: group[c].per_item.value) if async_group else None
        ref_cell = reference_of(cell, cells, baseline)
        ref = group.get(ref_cell) if ref_cell is not None else None
        sync = group.get(Cell(SYNC_IMPL, cell.workload, cell.loop))
        rows.append(
            Row(
                cell=cell,
                family=str(data.metadata.get("family", "")),
                fit=fit,
                problem=problems.get(cell),
                vs_reference=ratio(fit, ref) if fit and ref and ref is not fit else None,
                fastest=fastest.impl if fastest else None,
                over_fastest=difference(fit, group[fastest]) if fit and fastest and fastest != cell and cell in async_group else None,
                over_sync=difference(fit, sync) if fit and sync and sync is not fit else None,
                metadata=data.metadata,
                latency={m: median_ci(list(v.values())) for m, v in sorted(data.extra.items()) if v},
                reference=ref_cell.impl if ref_cell is not None and ref_cell != cell else None,
            )
        )
    rows.sort(key=lambda r: (r.cell.workload, r.cell.loop, r.fit.per_item.value if r.fit else math.inf))
    return rows


def _pm(e: Estimate | None, scale: float = NS, digits: int = 1) -> str:
    """``value [low, high]``: the intervals are order statistics, so not symmetric."""
    if e is None:
        return "-"
    v = e.value * scale
    if math.isnan(e.low):
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{e.low * scale:.{digits}f}, {e.high * scale:.{digits}f}]"


def _ratio(e: Estimate | None) -> str:
    if e is None:
        return "-"
    dropped = f" ({e.dropped} of {e.samples + e.dropped} pairs dropped)" if e.dropped else ""
    if math.isnan(e.low):
        return f"{e.value:.3f}{dropped}"
    return f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]{dropped}"


def _linear(fit: CellFit | None) -> str:
    if fit is None or fit.nonlinear is None:
        return "?"
    return f"NO ({fit.curvature.value:+.0%})" if fit.nonlinear else "yes"


HEADERS = ("cell", "ns/item [95% CI]", "fixed ns", "linear", f"ratio to {REFERENCE_IMPL}", "+ns vs fastest async", f"+ns vs {SYNC_IMPL}")


def headers(rows: Sequence[Row]) -> tuple[str, ...]:
    """``HEADERS``, with the ratio column named for what its ratios are to (one impl, or each row's class form)."""
    refs = {r.reference for r in rows if r.reference is not None}
    if not refs or refs == {REFERENCE_IMPL}:
        return HEADERS
    what = next(iter(refs)) if len(refs) == 1 else "its class form"
    return HEADERS[:4] + (f"ratio to {what}",) + HEADERS[5:]


def _references_note(rows: Sequence[Row]) -> str:
    """Which reference each module's rows have, when the ratio column's header cannot say it in one name."""
    by_ref: dict[str, list[str]] = {}
    for r in rows:
        if r.reference is not None:
            by_ref.setdefault(r.reference, []).append(r.cell.impl)
    if len(by_ref) < 2:
        return ""
    parts = [f"{', '.join(dict.fromkeys(impls))} to {ref}" for ref, impls in sorted(by_ref.items())]
    return f"Ratios (each impl to the class form of its own module): {'; '.join(parts)}.\n"


def _producers_note(rows: Sequence[Row]) -> str:
    """The workloads whose producer's work is inside the timed region (README, How it measures)."""
    shown = [w for w in PRODUCED if any(r.cell.workload == w for r in rows)]
    if not shown:
        return ""
    who = "; ".join(f"{w}: {PRODUCED[w]}" for w in shown)
    return (f"In {', '.join(shown)} a producer on the same loop runs inside the timed region ({who}): their ns/item "
            "is the producer's and the iterator's together; the ratios between forms stay fair.\n")


def _cells(row: Row) -> tuple[str, ...]:
    if row.fit is None:
        return (row.cell.name, f"no fit: {row.problem}", "", "", "", "", "")
    return (
        row.cell.name,
        _pm(row.fit.per_item, digits=2 if row.fit.per_item.value * NS < 100 else 1),
        _pm(row.fit.fixed, digits=0),
        _linear(row.fit),
        _ratio(row.vs_reference),
        _pm(row.over_fastest),
        _pm(row.over_sync),
    )


def table_rows(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """The table's cells as text, one tuple per row, under ``HEADERS`` (for pages built from data)."""
    return [_cells(r) for r in rows]


def render(head: Sequence[str], body: Sequence[Sequence[str]], fmt: str, left: int = 1) -> str:
    """A text table (the first ``left`` columns left-aligned, a rule under the head) or a markdown one."""
    if fmt == "md":
        out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * left + ["--:"] * (len(head) - left)) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in body]
        return "\n".join(out) + "\n"
    table = [tuple(head)] + [tuple(line) for line in body]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    out = []
    for k, line in enumerate(table):
        out.append("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


LATENCY_HEADERS = ("cell", "first item ns [95% CI]", "close ns [95% CI]")


def latency_rows(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """The latency table's cells as text (cells measured with ``run --latency`` only)."""
    return [(r.cell.name, _pm(r.latency.get("first_item")), _pm(r.latency.get("close"))) for r in rows if r.latency]


def _latency(rows: Sequence[Row], fmt: str) -> str:
    body = latency_rows(rows)
    if not body:
        return ""
    foot = ("first item: creating the iterator and receiving its first item; close: closing a half-consumed "
            "iterator and dropping it; median over worker processes, distribution-free 95% interval.\n")
    return "\n" + render(LATENCY_HEADERS, body, fmt) + ("\n" if fmt == "md" else "") + foot


#: The columns a narrow terminal loses first, in order (the cell, its ns/item and its ratio always stay).
NARROW_DROPS = ("linear", f"+ns vs {SYNC_IMPL}", "fixed ns", "+ns vs fastest async")


def fit_width(head: Sequence[str], body: Sequence[Sequence[str]], width: int) -> tuple[tuple, list, list[str]]:
    """The columns of a text table that fit in ``width`` characters: a column no row can fill ("linear" is "?"
    everywhere with two sizes, "-" everywhere in another) goes first, then ``NARROW_DROPS`` in order, until it
    fits. Returns the head, the body and the names of the columns left out."""
    head, body = tuple(head), [tuple(line) for line in body]

    def wide() -> int:
        return len(render(head, body, "text").splitlines()[0]) if body else 0

    def drop(name: str) -> None:
        nonlocal head, body
        i = head.index(name)
        head, body = head[:i] + head[i + 1:], [line[:i] + line[i + 1:] for line in body]

    dropped = []
    for name in list(head[1:]):
        if body and all(line[head.index(name)] in ("?", "-", "") for line in body) and wide() > width:
            drop(name)
            dropped.append(name)
    for name in NARROW_DROPS:
        if wide() <= width:
            break
        if name in head:
            drop(name)
            dropped.append(name)
    return head, body, dropped


def format_text(rows: Sequence[Row], width: int | None = None) -> str:
    """The table as text; with ``width`` (a terminal's), columns are left out until it fits (``fit_width``)
    and a line says which (``--wide`` prints them all)."""
    head, body = headers(rows), [_cells(r) for r in rows]
    left_out = ""
    if width is not None:
        head, body, dropped = fit_width(head, body, width)
        if dropped:
            left_out = f"({', '.join(dropped)}: left out to fit {width} columns; --wide shows every column)\n"
    return render(head, body, "text") + left_out + _footer(rows) + _precision_note(rows) + _latency(rows, "text")


def format_md(rows: Sequence[Row]) -> str:
    return (render(headers(rows), [_cells(r) for r in rows], "md") + "\n" + _footer(rows) + _precision_note(rows)
            + _latency(rows, "md"))


def precision_of(row: Row) -> dict | None:
    """How the run that measured ``row`` stopped under ``--precision``: target, reached, rounds, seconds and the
    widest figure's relative half-width then; None when it ran a fixed number of rounds."""
    md = row.metadata
    if "aiterbench_precision" not in md:
        return None
    return {"target": float(md["aiterbench_precision"]), "of": str(md.get("aiterbench_precision_of", "all")),
            "reached": md.get("aiterbench_precise") == "yes",
            "rounds": int(md.get("aiterbench_stop_rounds", 0)), "seconds": float(md.get("aiterbench_stop_seconds", 0.0)),
            "widest": float(md["aiterbench_widest"]) if "aiterbench_widest" in md else None,
            "interrupted": md.get("aiterbench_interrupted") == "yes"}


def _precision_note(rows: Sequence[Row]) -> str:
    """One line: which groups reached the precision, after how many rounds and seconds, and which did not."""
    groups: dict = {}
    for r in rows:
        p = precision_of(r)
        if p is not None:
            groups.setdefault(f"{r.cell.workload}/{r.cell.loop}", p)
    if not groups:
        return ""
    targets = sorted({p["target"] for p in groups.values()})
    reached = [f"{g} {p['rounds']} rounds, {p['seconds']:.0f} s" for g, p in groups.items()
               if p["reached"] and not p["interrupted"]]

    def wide(g: str, p: dict) -> str:
        if p["reached"]:  # interrupted at a count where every figure was within it
            return f"{g} (within it after {p['rounds']} rounds)"
        return (f"{g} (widest ±{p['widest']:.1%} after {p['rounds']} rounds)" if p["widest"] is not None
                else f"{g} (no interval after {p['rounds']} rounds)")

    short = [wide(g, p) for g, p in groups.items() if not p["reached"] and not p["interrupted"]]
    cut = [wide(g, p) for g, p in groups.items() if p["interrupted"]]
    of = {p["of"] for p in groups.values()}
    on = " on the ratios" if of == {"ratios"} else " on every figure" if of == {"all"} else ""
    text = f"Precision ±{'/'.join(f'{t * 100:g}%' for t in targets)} at 95%{on}: "
    text += f"reached by {'every group' if not short and not cut else f'{len(reached)} of {len(groups)} groups'}"
    text += f" ({'; '.join(reached)})" if reached else ""
    text += f"; not within the budget: {'; '.join(short)}" if short else ""
    text += f"; interrupted before it: {'; '.join(cut)}" if cut else ""
    return text + ".\n"


def notes(rows: Sequence[Row]) -> list[str]:
    """The table's notes that say what a figure includes: each row's reference, and the producers' share."""
    return [n.strip() for n in (_references_note(rows), _producers_note(rows)) if n]


def _footer(rows: Sequence[Row]) -> str:
    rounds = sorted({r.fit.per_item.samples for r in rows if r.fit})
    md = rows[0].metadata if rows else {}
    where = ", ".join(
        str(x) for x in (md.get("python_implementation"), md.get("python_version"), md.get("cpu_model_name")) if x
    )
    loops = sorted({f"{r.cell.loop} {r.metadata.get('loop_version', '?')}" for r in rows})
    by_sizes: dict = {}
    for r in rows:
        if r.fit:
            by_sizes.setdefault(tuple(r.fit.sizes), []).append(r.cell.workload)
    sizes = "; ".join(", ".join(map(str, sz)) + ("" if len(by_sizes) == 1 else f" for {', '.join(dict.fromkeys(ws))}")
                      for sz, ws in by_sizes.items()) or "?"
    return (
        f"Per-item cost is the slope of time against n (sizes {sizes}),"
        f" median over {', '.join(map(str, rounds)) or '?'} processes with a distribution-free 95% interval; ratios and overheads are paired by round"
        f"{' (a ratio drops the pairs in which a slope is not positive, and says how many)' if any(r.vs_reference and r.vs_reference.dropped for r in rows) else ''}.\n"
        f"Measured on {where or 'unknown'}; loops: {', '.join(loops)}.\n"
        + _references_note(rows) + _producers_note(rows)
    )


def _est(e: Estimate | None, scale: float = 1.0):
    if e is None:
        return None
    nan = math.isnan(e.low)
    return {"value": e.value * scale, "low": None if nan else e.low * scale, "high": None if nan else e.high * scale,
            "samples": e.samples, "dropped": e.dropped}


def format_json(rows: Sequence[Row]) -> str:
    out = []
    for r in rows:
        out.append(
            {
                "cell": r.cell.name,
                "impl": r.cell.impl,
                "family": r.family,
                "workload": r.cell.workload,
                "loop": r.cell.loop,
                "sizes": list(r.fit.sizes) if r.fit else None,
                "ns_per_item": _est(r.fit.per_item, NS) if r.fit else None,
                "fixed_ns": _est(r.fit.fixed, NS) if r.fit else None,
                "linear": None if not r.fit or r.fit.nonlinear is None else not r.fit.nonlinear,
                "curvature": _est(r.fit.curvature) if r.fit else None,
                # Kept for readers of earlier documents: the ratio to the built-in class_anext only.
                "ratio_to_" + REFERENCE_IMPL: _est(r.vs_reference) if r.reference == REFERENCE_IMPL else None,
                "reference": r.reference,
                "ratio_to_reference": _est(r.vs_reference),
                "fastest": r.fastest,
                "over_fastest_ns": _est(r.over_fastest, NS),
                "over_" + SYNC_IMPL + "_ns": _est(r.over_sync, NS),
                "first_item_ns": _est(r.latency.get("first_item"), NS),
                "close_ns": _est(r.latency.get("close"), NS),
                "problem": r.problem,
                "precision": precision_of(r),
                "metadata": {k: r.metadata.get(k) for k in ("loop_module", "loop_version", "python_implementation", "python_version", "aiterbench_version")},
            }
        )
    return dumps("timings", {"cells": out})
