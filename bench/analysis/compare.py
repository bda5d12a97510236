"""``compare`` and ``ab``'s verdicts: match cells by name, judge each, format for people and CI."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from ..model.cells import Cell
from ..model.identity import differences, labels
from ..model.results import KIND_COUNT, CellData, ResultSet, paired_keys
from ..model.documents import dumps
from ..model.units import NS
from ..stats import sequential
from ..stats.fit import Estimate, fit_cell
from ..stats.verdict import Verdict, compare_slopes, judge
from .table import render as render_table


@dataclasses.dataclass(frozen=True)
class CellVerdict:
    cell: Cell
    verdict: Verdict | None
    base: Estimate | None  # per-item cost (seconds, or instructions for counts)
    new: Estimate | None
    problem: str | None = None  # why there is no verdict
    #: Seconds from the first process of either file (calibration included) to the end of the last round the
    #: verdict used: the time ``ab`` took to decide this cell. None when the files carry no dates.
    seconds: float | None = None
    #: The sequential design that judged it (``ab``'s files), and the job's number of cells it shared 5% with.
    design: int | None = None
    family: int | None = None


@dataclasses.dataclass(frozen=True)
class Comparison:
    base: ResultSet
    new: ResultSet
    threshold: float
    cells: tuple[CellVerdict, ...]  # regressions first, then by effect
    only_base: tuple[Cell, ...]
    only_new: tuple[Cell, ...]
    failed: tuple[tuple[str, str, str], ...] = ()  # (cell, side, reason) from ab

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def environment_differences(self) -> list[tuple[str, str, str]]:
        return differences(self.base.environment, self.new.environment)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.cells if c.verdict and c.verdict.kind == kind)

    @property
    def regressed(self) -> bool:
        return self.count("regression") > 0

    @property
    def timed(self) -> bool:
        """Some verdict knows how long it took (paired rounds with dates)."""
        return any(cv.seconds is not None for cv in self.cells)

    @property
    def sequential(self) -> bool:
        """Judged by ``ab``'s sequential looks (files that name the design)."""
        return any(cv.verdict is not None and cv.verdict.look is not None for cv in self.cells)

    @property
    def design(self) -> tuple[int | None, int | None]:
        """(design, family) of the sequential verdicts, the highest design when files of several are compared."""
        judged = [(cv.design, cv.family) for cv in self.cells if cv.verdict is not None and cv.design]
        return max(judged, key=lambda d: (d[0], d[1] or 0), default=(None, None))


_ORDER = {"regression": 0, "inconclusive": 1, "improvement": 2, "unchanged": 3}


def _sort_key(cv: CellVerdict):
    if cv.verdict is None:
        return (4, 0.0, cv.cell)
    return (_ORDER[cv.verdict.kind], -abs(math.log(cv.verdict.ratio.value)), cv.cell)


def compare_sets(base: ResultSet, new: ResultSet, threshold: float, failed=()) -> Comparison:
    """Judge every cell measured on both sides."""
    if base.kind != new.kind:
        raise ValueError("one side holds timings and the other instruction counts: compare like with like")
    out = []
    for cell in sorted(set(base.cells) & set(new.cells)):
        out.append(judge_cell(base.cells[cell], new.cells[cell], threshold, base.kind))
    out.sort(key=_sort_key)
    return Comparison(base, new, threshold, tuple(out), tuple(sorted(set(base.cells) - set(new.cells))),
                      tuple(sorted(set(new.cells) - set(base.cells))), tuple(failed))


def _design(b: CellData, n: CellData) -> tuple[int | None, int | None]:
    """The sequential design both sides were measured under (``ab``) and, from design 3, the number of cells
    of their job (``aiterbench_family``); (None, None) for files judged at a fixed 95%."""
    designs = {cd.metadata.get("aiterbench_sequential") for cd in (b, n)}
    if len(designs) != 1 or None in designs:
        return None, None
    design = int(designs.pop())
    if design > sequential.DESIGN:
        raise ValueError(f"judged by sequential design {design}, newer than this aiterbench's "
                         f"({sequential.DESIGN}): upgrade aiterbench")
    if design < 3:
        return design, None
    families = {cd.metadata.get("aiterbench_family") for cd in (b, n)}
    if len(families) != 1 or None in families:
        raise ValueError(f"sequential design {design} without the job's number of cells on both sides "
                         "(aiterbench_family): these files cannot be judged as ab judged them")
    family = families.pop()
    if not isinstance(family, int) or family < 1:
        raise ValueError(f"aiterbench_family {family!r}: expected the job's number of cells")
    return design, family


def judge_cell(b: CellData, n: CellData, threshold: float, kind: str = "time", final: bool = True,
               family: int | None = None) -> CellVerdict:
    """One cell's verdict; ``final=False`` (``ab`` between rounds): a CellVerdict without a verdict while
    its sequential looks have not decided. ``family`` (``ab`` between rounds): the job's number of cells,
    which the files must record too (else what ``ab`` decides and ``compare`` replays could differ)."""
    try:
        fb, fn = fit_cell(b.per_round), fit_cell(n.per_round)
    except ValueError as exc:
        return CellVerdict(b.cell, None, None, None, f"no fit: {exc}")
    design = recorded = None
    try:
        if kind == KIND_COUNT:  # deterministic: the ratio is exact
            if not (fb.per_item.value > 0 and fn.per_item.value > 0):
                raise ValueError("instructions per item are not positive on both sides")
            e = math.log(fn.per_item.value / fb.per_item.value)
            verdict = judge(Estimate(e, e, e, 1), threshold, False, 1, 1)
        else:
            bs, ns = paired_keys(fb.slopes, "base"), paired_keys(fn.slopes, "new")
            design, recorded = _design(b, n)
            if family is not None and design and design >= 3 and recorded != family:
                raise ValueError(f"the files record a job of {recorded} cells, judged as one of {family}")
            verdict = compare_slopes(bs, ns, threshold, sequential=design or 0, final=final, family=recorded)
    except ValueError as exc:
        return CellVerdict(b.cell, None, fb.per_item, fn.per_item, str(exc))
    if verdict is None:
        return CellVerdict(b.cell, None, fb.per_item, fn.per_item, "undecided", design=design, family=recorded)
    return CellVerdict(b.cell, verdict, fb.per_item, fn.per_item, seconds=_seconds(b, n, verdict, fb.slopes, fn.slopes),
                       design=design, family=recorded)


def _seconds(b: CellData, n: CellData, verdict: Verdict, bs, ns) -> float | None:
    """Time to verdict: from the first process of either side to the last round the verdict used."""
    starts = [t for t in (b.started, n.started) if t is not None]
    if not starts or not verdict.paired:
        return None
    pairs = {k for k, v in bs.items() if v > 0} & {k for k, v in ns.items() if v > 0} & set(b.dates) & set(n.dates)
    used = sorted(pairs, key=sequential.round_order)[:verdict.ratio.samples]
    if not used:
        return None
    return max(b.dates[used[-1]], n.dates[used[-1]]) - min(starts)


def settled(base: dict, new: dict, threshold: float, live, family: int) -> list[Cell]:
    """The cells of ``live`` whose sequential verdict is decided on what ``base`` and ``new`` hold so far
    ({cell: CellData}, as ``aiterbench.model.results.cells`` reads them): ``ab`` gives them no more rounds.
    ``family``: the number of cells in the job (all it measures, decided or not), as its workers record it."""
    out = []
    for cell in live:
        if cell in base and cell in new and judge_cell(base[cell], new[cell], threshold, final=False,
                                                       family=family).verdict:
            out.append(cell)
    return out


def _pct(x: float) -> str:
    return f"{(x - 1) * 100:+.1f}%"


def _ratio(v: Verdict) -> str:
    r = v.ratio
    if r.low != r.low:
        return f"{r.value:.3f} ({_pct(r.value)})"
    if r.low == r.high:
        return f"{r.value:.4f} ({_pct(r.value)})"
    return f"{r.value:.3f} [{r.low:.3f}, {r.high:.3f}] ({_pct(r.value)})"


def _verdict_text(cv: CellVerdict) -> str:
    if cv.verdict is None:
        return f"- ({cv.problem})"
    v = cv.verdict
    if v.kind != "inconclusive":
        return v.kind
    if v.more is None:
        return "inconclusive (at the threshold)"
    return f"inconclusive (~{v.more} more {'process' if v.more == 1 else 'processes'}{' per side' if not v.paired else ''})"


def _cost(e: Estimate | None, kind: str) -> str:
    if e is None:
        return "-"
    return f"{e.value:.1f}" if kind == KIND_COUNT else f"{e.value * NS:.2f}"


def _header(c: Comparison) -> list[str]:
    unit = "instructions/item" if c.kind == KIND_COUNT else "ns/item"
    interval = "NEW/BASE [look's interval]" if c.sequential else "NEW/BASE [95% CI]"
    head = ["cell", "verdict", interval, f"base {unit}", f"new {unit}", "processes"]
    return head + (["time to verdict"] if c.timed else [])


def _look(v: Verdict) -> str:
    if v.look is None:
        return ""
    return " at the end" if v.look == 0 else f" at look {v.look}"


def _dropped(v: Verdict) -> str:
    """The pairs a per-item slope <= 0 left out of a paired verdict (as ``run``'s table says of its ratios)."""
    return f", {v.ratio.dropped} dropped (a slope <= 0)" if v.ratio.dropped else ""


def _row(cv: CellVerdict, c: Comparison) -> list[str]:
    v = cv.verdict
    procs = "-" if v is None else (f"{v.ratio.samples} pairs{_look(v)}{_dropped(v)}" if v.paired else
                                   f"{v.base_processes} / {v.new_processes}")
    row = [cv.cell.name, _verdict_text(cv), _ratio(v) if v else "-", _cost(cv.base, c.kind), _cost(cv.new, c.kind),
           procs]
    if c.timed:
        row.append("-" if cv.seconds is None else f"{cv.seconds:.1f} s")
    return row


def _threshold_pct(x: float) -> str:
    """A threshold as a percentage: one decimal, as before, unless that rounds it (0.05% is not 0.1%)."""
    one = f"{x:.1%}"
    return one if abs(float(one[:-1]) / 100 - x) < 1e-12 else f"{x * 100:.3g}%"


def summary(c: Comparison) -> str:
    counts = ", ".join(f"{c.count(k)} {k}" for k in ("regression", "improvement", "unchanged", "inconclusive"))
    how = "instruction counts (exact)" if c.kind == KIND_COUNT else (
        "paired by round" if any(cv.verdict and cv.verdict.paired for cv in c.cells) else "unpaired (separate runs)")
    if c.sequential:
        how += f", {sequential.describe(*c.design)}"
    return f"threshold {_threshold_pct(c.threshold)}, {how}: {counts}"


def undecided(c: Comparison) -> str | None:
    """What was not decided, and why, in one sentence; None when every cell has a verdict other than inconclusive."""
    open_ = [cv for cv in c.cells if cv.verdict and cv.verdict.kind == "inconclusive"]
    if not open_:
        return None
    widths = []
    for cv in open_:
        r = cv.verdict.ratio
        if r.low == r.low and r.value > 0:
            widths.append(max(r.high / r.value - 1, 1 - r.low / r.value))
    total = sum(1 for cv in c.cells if cv.verdict)
    head = f"{len(open_)} of {total} cells undecided"
    if widths:
        lo, hi = min(widths), max(widths)
        span = f"±{lo:.1%}" if round(lo, 3) == round(hi, 3) else f"±{lo:.1%} to {hi:.1%}"
        why = (f"intervals {span}, wider than the {_threshold_pct(c.threshold)} threshold" if lo > c.threshold / 2 else
               f"intervals {span}, straddling the {_threshold_pct(c.threshold)} threshold")
    else:
        why = "too few processes for an interval"
    hint = "more processes (a larger budget) or a quieter runner" if c.kind == KIND_COUNT else (
        "use --count, a larger budget or a quieter runner")
    return f"{head}: {why}; {hint}"


def _notes(c: Comparison) -> list[str]:
    out = []
    if c.only_base:
        out.append("only in BASE (not compared): " + ", ".join(x.name for x in c.only_base))
    if c.only_new:
        out.append("only in NEW (not compared): " + ", ".join(x.name for x in c.only_new))
    for cell, side, reason in c.failed:
        out.append(f"FAILED on {side}: {cell}: {reason}")
    return out


def format_text(c: Comparison) -> str:
    lines = [f"BASE: {', '.join(c.base.sources)}", f"NEW:  {', '.join(c.new.sources)}"]
    diffs = c.environment_differences
    if diffs:
        lines.append("environments differ:")
        lines += [f"  {what}: {a} -> {b}" for what, a, b in diffs]
    lines.append(summary(c))
    if undecided(c):
        lines.append(undecided(c))
    lines += render_table(_header(c), [_row(cv, c) for cv in c.cells], "text", left=2).splitlines()
    lines += _notes(c)
    return "\n".join(lines) + "\n"


def format_md(c: Comparison) -> str:
    regressed = c.count("regression")
    title = f"{regressed} regression{'s' if regressed != 1 else ''}" if regressed else "no regression"
    open_ = c.count("inconclusive")
    if open_:
        title += f" found, {open_} of {sum(1 for cv in c.cells if cv.verdict)} cells undecided"
    lines = [f"### aiterbench: {title}", ""]
    diffs = c.environment_differences
    if diffs:
        lines += ["Environments differ:", ""] + [f"- {what}: `{a}` → `{b}`" for what, a, b in diffs] + [""]
    lines += [summary(c) + ".", ""]
    if undecided(c):
        lines += [f"**{undecided(c)}.**", ""]
    icons = {"regression": "❌ ", "improvement": "✅ ", "unchanged": "", "inconclusive": "❔ "}
    rows = []
    for cv in c.cells:
        row = _row(cv, c)
        row[0] = f"`{row[0]}`"
        if cv.verdict:
            row[1] = icons[cv.verdict.kind] + row[1]
        rows.append(row)
    lines += render_table(_header(c), rows, "md", left=2).splitlines()
    notes = _notes(c)
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    design, family = c.design
    together = (f"all looks of all {family} cells of the job" if design and design >= 3 and family and family > 1
                else "all looks")
    which = (f"the interval of the look that decided (wider than a 95% one, so that {together} together hold 95%)"
             if c.sequential else "the 95% interval")
    lines += ["", f"A verdict is on NEW/BASE per item: `regression` means {which} lies above 1 and the "
              f"estimate exceeds 1 + {_threshold_pct(c.threshold)}; `unchanged` means the whole interval lies within the threshold."]
    return "\n".join(lines) + "\n"


def _est(e: Estimate | None, scale: float = 1.0):
    if e is None:
        return None
    nan = e.low != e.low
    return {"value": e.value * scale, "low": None if nan else e.low * scale, "high": None if nan else e.high * scale}


def format_json(c: Comparison) -> str:
    scale = 1.0 if c.kind == KIND_COUNT else NS
    unit = "instructions" if c.kind == KIND_COUNT else "ns"
    data = {
        "kind": c.kind,
        "threshold": c.threshold,
        "base": {"sources": list(c.base.sources), "environment": c.base.environment.fields()},
        "new": {"sources": list(c.new.sources), "environment": c.new.environment.fields()},
        "environment_differences": [{"what": w, "base": a, "new": b} for w, a, b in c.environment_differences],
        "counts": {k: c.count(k) for k in ("regression", "improvement", "unchanged", "inconclusive")},
        "regressed": c.regressed,
        "undecided": undecided(c),
        "sequential": c.design[0] if c.sequential else None,
        "family": c.design[1] if c.sequential else None,
        "cells": [
            {
                "cell": cv.cell.name,
                "verdict": cv.verdict.kind if cv.verdict else None,
                "ratio": _est(cv.verdict.ratio) if cv.verdict else None,
                "paired": cv.verdict.paired if cv.verdict else None,
                "base_processes": cv.verdict.base_processes if cv.verdict else None,
                "new_processes": cv.verdict.new_processes if cv.verdict else None,
                "more_processes": cv.verdict.more if cv.verdict else None,
                "pairs": cv.verdict.ratio.samples if cv.verdict and cv.verdict.paired else None,
                "pairs_dropped": cv.verdict.ratio.dropped if cv.verdict and cv.verdict.paired else None,
                "confidence": cv.verdict.confidence if cv.verdict else None,
                "look": cv.verdict.look if cv.verdict else None,
                "seconds_to_verdict": cv.seconds,
                f"base_{unit}_per_item": _est(cv.base, scale),
                f"new_{unit}_per_item": _est(cv.new, scale),
                "problem": cv.problem,
            }
            for cv in c.cells
        ],
        "only_in_base": [x.name for x in c.only_base],
        "only_in_new": [x.name for x in c.only_new],
        "failed": [{"cell": cell, "side": side, "reason": reason} for cell, side, reason in c.failed],
    }
    return dumps("compare", data, ensure_ascii=False)


FORMATS = {"text": format_text, "md": format_md, "json": format_json}


def render(c: Comparison, fmt: str) -> str:
    return FORMATS[fmt](c)


def one_environment(sets: Sequence[ResultSet], what: str) -> ResultSet:
    """The single environment of one side of a comparison; ValueError when there are several or none."""
    if not sets:
        raise ValueError(f"{what}: holds no measured cells")
    if len(sets) > 1:
        raise ValueError(f"{what}: holds results from {len(sets)} environments ({'; '.join(labels([s.environment for s in sets]))}): "
                         "compare one environment per side")
    return sets[0]
