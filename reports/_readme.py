"""The README's generated blocks: what the suite found, written from result files by the suite itself.

``report FILES --readme README.md`` rewrites each block between its markers
(``<!-- aiterbench:NAME:start -->`` and ``<!-- aiterbench:NAME:end -->``)
from the same data the report is built from, so the figures a reader sees on
the front page are the files' and a test can regenerate them and compare.
Blocks: ``results`` (instructions per item per Python and loop, the timing
ratios measured on one machine, the ``http`` finding, the why of 3.12 in
three lines) and ``why`` (the ``explain`` table of the first explain
document). A README without a block's markers is left as it is for that block.
"""

from __future__ import annotations

import re

from ..analysis import CANDIDATE_IMPL, NS, REFERENCE_IMPL, Cell, format_explanation, ratio
from ._model import Dataset, ReportError

#: The blocks, in the order they are written.
BLOCKS = ("results", "why")


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- aiterbench:{name}:start -->", f"<!-- aiterbench:{name}:end -->"


def _python(env) -> str:
    return ".".join(env.python_version.split(".")[:2])


def _interval(e, scale: float = 1.0, digits: int = 0) -> str:
    if e.low != e.low:
        return f"{e.value * scale:.{digits}f}"
    return f"{e.value * scale:.{digits}f} [{e.low * scale:.{digits}f}, {e.high * scale:.{digits}f}]"


def _machine(env) -> str:
    return f"{env.cpu} ({env.build.split(', ', 2)[-1] if env.build else 'build not recorded'})"


def _counts_table(dataset: Dataset) -> list[str]:
    groups = sorted(dataset.counts, key=lambda g: tuple(int(x) for x in g.environment.python_version.split(".")[:2]))
    if not groups:
        return []
    machines = sorted({_machine(g.environment) for g in groups})
    out = [f"**Instructions per item** (`count`: callgrind at n=1000 and 3000, deterministic for one interpreter "
           f"build and within about 1% across x86-64 machines; counted on {'; '.join(machines)}; `none` has its "
           "items ready, `sleep0` awaits `asyncio.sleep(0)` per item):", "",
           f"| Python | workload | loop | {CANDIDATE_IMPL} | {REFERENCE_IMPL} | {CANDIDATE_IMPL} / {REFERENCE_IMPL} |",
           "|---|---|---|--:|--:|--:|"]
    for g in groups:
        for workload in g.workloads:
            for loop in g.loops:
                a, b = g.get(Cell(CANDIDATE_IMPL, workload, loop)), g.get(Cell(REFERENCE_IMPL, workload, loop))
                if a is None or b is None:
                    continue
                out.append(f"| {_python(g.environment)} | {workload} | {loop} | {a.per_item:.1f} | {b.per_item:.1f} | "
                           f"{a.per_item / b.per_item:.3f} |")
    return out + [""]


def _headline(dataset: Dataset) -> list[str]:
    """One sentence per workload from the counts: which form is cheaper per item on which Python (asyncio,
    or the first loop counted), or how close the two are when no Python separates them by a tenth."""
    groups = sorted(dataset.counts, key=lambda g: tuple(int(x) for x in g.environment.python_version.split(".")[:2]))
    workloads = list(dict.fromkeys(w for g in groups for w in g.workloads))
    parts = []
    for workload in workloads:
        found = []  # (python, ratio)
        for g in groups:
            loops = [lp for lp in g.loops if lp == "asyncio"] or list(g.loops)
            for loop in loops[:1]:
                a, b = g.get(Cell(CANDIDATE_IMPL, workload, loop)), g.get(Cell(REFERENCE_IMPL, workload, loop))
                if a is not None and b is not None:
                    found.append((_python(g.environment), a.per_item / b.per_item, loop))
        if not found:
            continue
        loop = found[0][2]
        if all(abs(r - 1) < 0.1 for _, r, _ in found):
            spread = max(abs(r - 1) for _, r, _ in found)
            parts.append(f"on `{workload}` ({loop}) the two forms are within {spread:.0%} of each other on "
                         f"{', '.join(py for py, _, _ in found)}")
            continue
        gen = [(py, r) for py, r, _ in found if r < 1]
        cls = [(py, r) for py, r, _ in found if r >= 1]
        said = []
        if gen:
            said.append(f"the async generator is cheaper on {', '.join(py for py, _ in gen)} "
                        f"({', '.join(f'{r:.2f}' for _, r in gen)} of the class's instructions)")
        if cls:
            said.append(f"the class on {', '.join(py for py, _ in cls)} "
                        f"(the async generator {', '.join(f'{r:.2f}x' for _, r in cls)})")
        parts.append(f"on `{workload}` ({loop}) " + " and ".join(said))
    if not parts:
        return []
    text = "; ".join(parts)
    return [f"**In short:** per item, {text}.", ""]


def _timing_table(dataset: Dataset) -> list[str]:
    rows, machines = [], set()
    for g in sorted(dataset.groups, key=lambda g: tuple(int(x) for x in g.python_version.split(".")[:2])):
        for workload in [w for w in g.workloads if w != "http"]:
            for loop in g.loops:
                a, b = g.row(Cell(CANDIDATE_IMPL, workload, loop)), g.row(Cell(REFERENCE_IMPL, workload, loop))
                if a is None or b is None or a.fit is None or b.fit is None:
                    continue
                machines.add(f"{g.environment.cpu}, host {g.environment.hostname}")
                rows.append(f"| {_python(g.environment)} | {workload} | {loop} | {_interval(a.fit.per_item, NS)} | "
                            f"{_interval(b.fit.per_item, NS)} | {_interval(ratio(a.fit, b.fit), digits=3)} |")
    if not rows:
        return []
    return [f"**Time per item on one machine** (`run --quick` on {'; '.join(sorted(machines))}: ns per item "
            "and the ratio, each with its 95% interval; a ratio is measured side by side in one run, and another "
            "CPU gives another ratio for the same counts):", "",
            f"| Python | workload | loop | {CANDIDATE_IMPL} ns | {REFERENCE_IMPL} ns | "
            f"{CANDIDATE_IMPL} / {REFERENCE_IMPL} |", "|---|---|---|--:|--:|--:|", *rows, ""]


def _http(dataset: Dataset) -> list[str]:
    from ._findings import http_share

    found = [f.text for g in dataset.groups for f in http_share(g)]
    if not found:
        return []
    return ["**Over HTTP** (`http`: lines streamed by an aiohttp server on loopback, in the timed region too):", ""] + \
        [f"- {text}" for text in found] + [""]


def _why_lines(dataset: Dataset) -> list[str]:
    if not dataset.why:
        return []
    e = dataset.why[0].explanation
    cats = sorted((c for c in e.categories if c.difference), key=lambda c: -abs(c.difference))
    rows = [r for r in e.functions[:4] if r.difference]
    return [f"**Why** ({e.title}, `explain`):", "",
            f"- {e.new.label} counts {e.difference:+,.1f} instructions per item against {e.base.label} "
            f"({e.base.per_item:,.1f} to {e.new.per_item:,.1f}, x{e.ratio:.3f}).",
            "- By category: " + ", ".join(f"{c.category} {c.difference:+,.1f}" for c in cats) + ".",
            "- Largest functions: " + ", ".join(f"`{r.function}` {r.difference:+,.1f}" for r in rows)
            + " (the table: \"Why is it slower?\").", ""]


def blocks(dataset: Dataset) -> dict[str, str]:
    """Each block's generated markdown from a report's dataset (the same data its pages show)."""
    results = _headline(dataset) + _counts_table(dataset) + _timing_table(dataset) + _http(dataset) + _why_lines(dataset)
    why = ""
    if dataset.why:
        e = dataset.why[0].explanation
        why = "```text\n" + format_explanation(e, "text", 12).rstrip("\n") + "\n```\n"
    return {"results": "\n".join(results).rstrip("\n") + "\n" if results else "", "why": why}


def rewrite(text: str, generated: dict[str, str]) -> str:
    """``text`` (a README) with each block's markers' contents replaced; ReportError when markers are unpaired."""
    for name in BLOCKS:
        start, end = _markers(name)
        if text.count(start) != text.count(end) or text.count(start) > 1:
            raise ReportError(f"README: the markers {start} and {end} must appear once each, or not at all")
        if start not in text:
            continue
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{generated.get(name, '')}{end}{tail}"
    return text


def block_of(text: str, name: str) -> str | None:
    """What a README holds between a block's markers, or None without them."""
    start, end = _markers(name)
    m = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, re.S)
    return m.group(1) if m else None


__all__ = ["BLOCKS", "block_of", "blocks", "rewrite"]
