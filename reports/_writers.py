"""The report's files: index.html (self-contained), summary.md, data.csv, one SVG and PNG per chart."""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import re

from .._version import __version__
from ..analysis import (LATENCY_HEADERS, NS, format_md, table_headers, table_notes, latency_rows, memory_table, render_table,
                         table_rows, uninterrupted, write_atomic)

from ._charts import SVG_PROLOGUE, Chart, Rendered
from ._findings import Finding
from ._model import CountGroup, Dataset, Group, ReportError
from ._why import NOTE as WHY_NOTE
from ._why import headline as why_headline
from ._why import markdown as why_markdown
from ._why import sides as why_sides
from ._why import tables as why_tables

CSV_FIELDS = (
    "python", "python_version", "implementation", "impl", "family", "workload", "loop", "loop_version", "n",
    "ns_per_item", "ci_low", "ci_high", "slope_ns", "slope_low", "slope_high", "fixed_ns", "fixed_low", "fixed_high",
    "linear", "processes", "aiterbench_version", "cpu", "host", "source", "first_item_ns", "first_item_low",
    "first_item_high", "close_ns", "close_low", "close_high",
    # The ratio to each row's reference in both signals: time (paired by round, with its interval) and
    # instructions counted by callgrind (one exact figure), with the count files they came from.
    "reference", "time_ratio", "time_ratio_low", "time_ratio_high", "instructions_per_item", "instructions_ratio",
    "count_source",
)


def _count_fields(group_counts: CountGroup | None, cell, reference: str | None) -> dict:
    """data.csv's instruction columns of ``cell`` (empty when it was not counted in its environment)."""
    count = group_counts.get(cell) if group_counts else None
    if count is None:
        return {"instructions_per_item": "", "instructions_ratio": "", "count_source": ""}
    r = group_counts.ratio(cell, reference)
    return {"instructions_per_item": f"{count.per_item:.3f}", "instructions_ratio": "" if r is None else f"{r:.5f}",
            "count_source": ";".join(os.path.basename(s) for s in group_counts.sources)}


def _num(x: float, scale: float = NS) -> str:
    return "" if x is None or math.isnan(x) else f"{x * scale:.3f}"


def data_csv(dataset: Dataset) -> str:
    """One row per environment, timed cell and size; a cell only counted in its environment has one row, n empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for group in dataset.groups:
        counts = dataset.counts_of(group.label)
        for row in sorted(group.rows, key=lambda r: r.cell):
            md = row.metadata
            both = {"reference": row.reference or "", "time_ratio": _num(row.vs_reference.value, 1) if row.vs_reference
                    else "", "time_ratio_low": _num(row.vs_reference.low, 1) if row.vs_reference else "",
                    "time_ratio_high": _num(row.vs_reference.high, 1) if row.vs_reference else "",
                    **_count_fields(counts, row.cell, row.reference)}
            for n, e in group.per_size(row.cell).items():
                fit = row.fit
                writer.writerow({
                    "python": group.label, "python_version": group.python_version, "implementation": group.implementation,
                    "impl": row.cell.impl, "family": row.family, "workload": row.cell.workload, "loop": row.cell.loop,
                    "loop_version": md.get("loop_version", ""), "n": n,
                    "ns_per_item": _num(e.value), "ci_low": _num(e.low), "ci_high": _num(e.high),
                    "slope_ns": _num(fit.per_item.value) if fit else "", "slope_low": _num(fit.per_item.low) if fit else "",
                    "slope_high": _num(fit.per_item.high) if fit else "",
                    "fixed_ns": _num(fit.fixed.value) if fit else "", "fixed_low": _num(fit.fixed.low) if fit else "",
                    "fixed_high": _num(fit.fixed.high) if fit else "",
                    "linear": "" if not fit or fit.nonlinear is None else str(not fit.nonlinear).lower(),
                    "processes": e.samples, "aiterbench_version": md.get("aiterbench_version", ""),
                    "cpu": group.cpu, "host": group.host, "source": ";".join(os.path.basename(s) for s in group.sources),
                    **{f"{m}{suffix}": _num(getattr(row.latency[m], attr)) if m in row.latency else ""
                       for m in ("first_item", "close") for suffix, attr in (("_ns", "value"), ("_low", "low"),
                                                                              ("_high", "high"))},
                    **both,
                })
        if counts is not None:
            for count in _untimed(group, counts):
                writer.writerow(_count_row(group.label, counts, count))
    for counts in dataset.counts_alone:
        for count in _by_workload(counts.counts.values()):
            writer.writerow(_count_row(counts.label, counts, count))
    return out.getvalue()


def _untimed(group: Group, counts: CountGroup) -> list:
    """The counts of cells that ``group`` did not time, sorted."""
    return _by_workload(c for cell, c in counts.counts.items() if cell not in group.data)


def _count_row(label: str, counts: CountGroup, count) -> dict:
    env, md = counts.environment, count.metadata
    reference = count.reference.impl if count.reference else None
    row = {f: "" for f in CSV_FIELDS}
    row.update({
        "python": label, "python_version": env.python_version, "implementation": env.implementation,
        "impl": count.cell.impl, "family": md.get("family", ""), "workload": count.cell.workload,
        "loop": count.cell.loop, "loop_version": md.get("loop_version", ""),
        "aiterbench_version": md.get("aiterbench_version", ""), "cpu": env.cpu, "host": env.hostname,
        "reference": reference or "", **_count_fields(counts, count.cell, reference),
    })
    return row


#: The columns a timing table gains when its environment was counted too, and the counts-only table's head.
COUNT_HEADER = "instructions/item"
COUNT_RATIO_HEADER = "instructions ratio"


def _fmt_count(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _count_note(counts: CountGroup, timed: bool = True) -> str:
    sizes = sorted({c.sizes for c in counts.counts.values()})
    to = ("the same cell as the timing ratio's" if timed else
          "each cell's class form, the cell a timing ratio would be to")
    return ("Instructions per item: counted by callgrind inside the iteration only, (I(n2) - I(n1)) / (n2 - n1) at "
            f"n = {'; '.join(f'{a}, {b}' for a, b in sizes)}, from {', '.join(os.path.basename(s) for s in counts.sources)}; "
            f"the instructions ratio is to {to}. Counts are deterministic for one "
            "interpreter build and blind to caches, branch prediction, waiting and load; timings see all four.")


def _by_workload(counts) -> list:
    """Counts in the order of ``show``'s rows: by workload and loop, then cheapest first."""
    return sorted(counts, key=lambda c: (c.cell.workload, c.cell.loop, c.per_item))


def timing_table(group: Group, counts: CountGroup | None) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[str]]:
    """(head, body, notes) of a group's table: ``show``'s, with instructions per item beside ns per item and the
    instructions ratio beside the timing ratio when the environment was counted too (cells counted but not timed
    get rows of their own)."""
    rows = list(group.rows)
    head, body, notes = tuple(table_headers(rows)), [tuple(r) for r in table_rows(rows)], table_notes(rows)
    if counts is None:
        return head, body, notes
    at = next(i for i, h in enumerate(head) if h.startswith("ratio to"))

    def widen(line: tuple[str, ...], per_item: str, ratio: str) -> tuple[str, ...]:
        return line[:2] + (per_item,) + line[2:at + 1] + (ratio,) + line[at + 1:]

    out = []
    for row, line in zip(rows, body):
        count = counts.get(row.cell)
        out.append(widen(line, _fmt_count(count.per_item if count else None),
                         _fmt_count(counts.ratio(row.cell, row.reference), 3)))
    for count in _untimed(group, counts):
        blank = (count.cell.name, "not timed") + ("",) * (len(head) - 2)
        out.append(widen(blank, _fmt_count(count.per_item),
                         _fmt_count(counts.ratio(count.cell, count.reference.impl if count.reference else None), 3)))
    return widen(head, COUNT_HEADER, COUNT_RATIO_HEADER), out, notes + [_count_note(counts)]


def counts_table(counts: CountGroup) -> tuple[tuple[str, ...], list[tuple[str, ...]], list[str]]:
    """(head, body, notes) of an environment that was counted, not timed."""
    refs = {c.reference.impl for c in counts.counts.values() if c.reference}
    what = next(iter(refs)) if len(refs) == 1 else "its class form"
    head = ("cell", COUNT_HEADER, f"{COUNT_RATIO_HEADER} to {what}", "sizes", "instructions (counted calls)")
    body = [(c.cell.name, _fmt_count(c.per_item), _fmt_count(counts.ratio(c.cell, c.reference.impl if c.reference
                                                                          else None), 3),
             f"{c.sizes[0]},{c.sizes[1]}", f"{c.instructions[0]:,} / {c.instructions[1]:,}")
            for c in _by_workload(counts.counts.values())]
    return head, body, [_count_note(counts, timed=False)]


def _timing_md(group: Group, counts: CountGroup | None) -> str:
    """The group's markdown table and the notes under it, as ``show --format md`` writes them."""
    rows = list(group.rows)
    full = format_md(rows)
    if counts is None:
        return full
    # format_md is the plain table followed by its footer: keep the footer, widen the table.
    plain = render_table(table_headers(rows), table_rows(rows), "md")
    footer = full[len(plain):] if full.startswith(plain) else "\n" + full
    head, body, _ = timing_table(group, counts)
    return render_table(head, body, "md") + "\n" + _count_note(counts) + "\n" + footer


MEMORY_FIELDS = ("python", "python_version", "implementation", "impl", "workload", "loop", "loop_version", "live",
                 "held_bytes", "held_with_hooks_bytes", "peak_bytes", "allocations_per_item", "bytes_allocated_per_item",
                 "processes", "cpu", "host", "source")


def memory_csv(dataset: Dataset) -> str:
    """One row per environment and cell of the memory figures (medians over processes)."""
    import statistics

    out = io.StringIO()
    writer = csv.DictWriter(out, MEMORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for m in dataset.memory:
        env = m.environment
        for mem in m.memories:
            writer.writerow({
                "python": m.label, "python_version": env.python_version, "implementation": env.implementation,
                "impl": mem.cell.impl, "workload": mem.cell.workload, "loop": mem.cell.loop,
                "loop_version": dict(env.loops).get(mem.cell.loop, env.python_version if mem.cell.loop == "asyncio" else ""),
                "live": mem.live, "held_bytes": f"{statistics.median(mem.held):.1f}",
                "held_with_hooks_bytes": f"{statistics.median(mem.held_hooked):.1f}",
                "peak_bytes": f"{statistics.median(mem.peak):.0f}",
                "allocations_per_item": f"{statistics.median(mem.allocs_per_item):.3f}" if mem.allocs_per_item else "",
                "bytes_allocated_per_item": f"{statistics.median(mem.bytes_per_item):.1f}" if mem.bytes_per_item else "",
                "processes": len(mem.held), "cpu": env.cpu, "host": env.hostname,
                "source": ";".join(os.path.basename(s) for s in m.sources),
            })
    return out.getvalue()


def summary_md(dataset: Dataset, findings: list[Finding], charts: list[Chart]) -> str:
    lines = ["# aiterbench report", ""]
    lines += [f"- {f.text}" for f in findings] or ["- No finding: the inputs hold no comparable cells."]
    lines.append("")
    if dataset.why:
        lines += ["## Why", ""] + [why_markdown(w) for w in dataset.why]
    for group in dataset.groups:
        counts = dataset.counts_of(group.label)
        counted = (f"; {len(counts.counts)} cells counted, from {', '.join(os.path.basename(s) for s in counts.sources)}"
                   if counts else "")
        lines += [f"## Python {group.label}", "", f"{group.python_version} ({group.implementation}) on {group.cpu or 'unknown CPU'}; "
                  f"{len(group.rows)} cells from {', '.join(os.path.basename(s) for s in group.sources)}{counted}.", ""]
        lines += [_timing_md(group, counts).rstrip(), ""]
    for c in dataset.counts_alone:
        head, body, notes = counts_table(c)
        lines += [f"## Instruction counts, Python {c.label}", "", f"{_where(c.environment)}; {len(c.counts)} cells "
                  f"counted (not timed), from {', '.join(os.path.basename(s) for s in c.sources)}.", ""]
        lines += [render_table(head, body, "md").rstrip(), ""] + [n for note in notes for n in (note, "")]
    for m in dataset.memory:
        head, body, foot = memory_table(list(m.memories))
        lines += [f"## Memory, Python {m.label}", "", f"{m.environment.python_version} ({m.environment.implementation}) "
                  f"on {m.environment.cpu or 'unknown CPU'}; {len(m.memories)} cells from "
                  f"{', '.join(os.path.basename(s) for s in m.sources)}.", ""]
        lines += [render_table(head, body, "md").rstrip(), "", foot.rstrip(), ""]
    for h in dataset.history:
        lines += [f"## History, Python {h.label}", "", f"{_where(h.environment)}; from {os.path.basename(h.source)}.", "",
                  render_table(HISTORY_HEADERS, _history_rows(h), "md").rstrip(), ""]
    missing = [c for c in charts if c.reason]
    if missing:
        lines += ["## Charts without data", ""] + [f"- {c.title}: {c.reason}." for c in missing] + [""]
    lines += [f"Made by aiterbench {__version__}.", ""]
    return "\n".join(lines)


def _inline_code(text: str):
    """Escape ``text`` for HTML and turn `backtick spans` into <code> elements."""
    from markupsafe import Markup, escape

    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .meta{color:#666;font-size:.9rem}
ul.findings li{margin:.35rem 0} code{background:#f2f2f2;padding:0 .2em;border-radius:3px}
figure{margin:1.5rem 0;border:1px solid #ddd;border-radius:6px;padding:.8rem;overflow-x:auto}
figure svg{max-width:100%;height:auto} figcaption{color:#444;font-size:.9rem;margin-top:.5rem}
.nodata{background:#fafafa;color:#555;padding:2rem;text-align:center;border:1px dashed #bbb;border-radius:6px}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0 1.5rem} th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:right}
td:first-child,th:first-child{text-align:left;font-family:ui-monospace,monospace} td.text,th.text{text-align:left}
"""
#: Charts shown in the memory section rather than with the timings.
MEMORY_CHARTS = ("memory_",)
#: Charts shown in the history section.
HISTORY_CHARTS = ("history_",)
#: Charts shown in the Why section, one per explain document (``why_1``, ...).
WHY_CHARTS = ("why_",)


def _template():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["inline_code"] = _inline_code
    return env.get_template("index.html.j2")


HISTORY_HEADERS = ("cell", "runs", "latest ns/item", "change points (a step that persists)")


def _history_rows(h) -> list[tuple[str, ...]]:
    from ..analysis import history_steps

    rows = []
    for cell, points in h.series:
        found = "; ".join(f"run {cp + 1}{f' ({points[cp].revision})' if points[cp].revision else ''}: {b * NS:.1f} -> "
                          f"{a * NS:.1f} ns ({a / b - 1:+.1%})" for cp, b, a in history_steps([p.value for p in points]))
        rows.append((cell, str(len(points)), f"{points[-1].value * NS:.1f}", found or "none"))
    return rows


def _where(env) -> str:
    return f"{env.python_version} ({env.implementation}) on {env.cpu or 'unknown CPU'}"


def index_html(dataset: Dataset, findings: list[Finding], rendered: list[tuple[Chart, str]]) -> str:
    """The page, from ``templates/index.html.j2``: every table built from the data, every value escaped."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    timing = [(c, svg) for c, svg in rendered if not c.name.startswith(MEMORY_CHARTS + HISTORY_CHARTS + WHY_CHARTS)]
    by_name = {c.name: (c, svg) for c, svg in rendered}
    why = [{"title": w.explanation.title, "headline": why_headline(w.explanation), "sides": why_sides(w.explanation),
            "source": os.path.basename(w.source), "note": WHY_NOTE, "chart": by_name.get(f"why_{k}"),
            "tables": [{"caption": t.caption, "head": t.head, "rows": t.body, "text": t.text}
                       for t in why_tables(w.explanation)]}
           for k, w in enumerate(dataset.why, 1)]
    memory_charts = [(c, svg) for c, svg in rendered if c.name.startswith(MEMORY_CHARTS)]
    history_charts = [(c, svg) for c, svg in rendered if c.name.startswith(HISTORY_CHARTS)]
    history = [{"title": f"Python {h.label}", "where": _where(h.environment), "source": h.source,
                "head": HISTORY_HEADERS, "rows": _history_rows(h)} for h in dataset.history]
    groups = []
    for g in dataset.groups:
        counts = dataset.counts_of(g.label)
        head, body, notes = timing_table(g, counts)
        groups.append({"label": g.label, "where": _where(g.environment),
                       "sources": list(g.sources) + (list(counts.sources) if counts else []),
                       "head": head, "rows": body, "notes": notes,
                       "latency_head": LATENCY_HEADERS, "latency": latency_rows(list(g.rows))})
    counted = []
    for c in dataset.counts_alone:
        head, body, notes = counts_table(c)
        counted.append({"title": f"Python {c.label}", "where": _where(c.environment), "sources": list(c.sources),
                        "head": head, "rows": body, "notes": notes})
    memory = []
    for m in dataset.memory:
        head, body, note = memory_table(list(m.memories))
        memory.append({"title": f"Python {m.label}", "where": _where(m.environment), "note": note.strip(),
                       "sources": list(m.sources), "head": head, "rows": body})
    labels = list(dict.fromkeys([g.label for g in dataset.groups] + [c.label for c in dataset.counts]
                                + [m.label for m in dataset.memory]))
    return _template().render(
        css=CSS, now=now, version=__version__, environments=labels, cell_count=dataset.cell_count,
        counted_cells=dataset.counted_cells,
        memory_cells=sum(len(m.memories) for m in dataset.memory), findings=[f.text for f in findings],
        charts=timing, memory=memory, memory_charts=memory_charts, groups=groups, history=history,
        history_charts=history_charts, counted=counted, why=why,
    ) + "\n"


def write_report(dataset: Dataset, findings: list[Finding], rendered: list[Rendered], outdir: str) -> list[str]:
    """Write every file; returns their paths. A failure leaves ``outdir`` as it was.

    Every text is rendered first, then every file is written into a staging
    folder inside ``outdir`` (a full disk fails there), and only then are they
    renamed into place, the manifest last, with Ctrl-C held until the renames
    are done: the folder is the old report or the new one, never half of each.
    """
    import shutil
    import tempfile

    files: list[tuple[str, str | bytes]] = []
    for r in rendered:
        if r.svg:
            files.append((f"{r.chart.name}.svg", SVG_PROLOGUE + r.svg))
            files.append((f"{r.chart.name}.png", r.png))
    pairs = [(r.chart, r.svg) for r in rendered]
    files += [("index.html", index_html(dataset, findings, pairs)),
              ("summary.md", summary_md(dataset, findings, [r.chart for r in rendered])),
              ("data.csv", data_csv(dataset))]
    if dataset.memory:
        files.append(("memory.csv", memory_csv(dataset)))
    manifest = json.dumps(sorted(name for name, _ in files), indent=1) + "\n"
    made = not os.path.isdir(outdir)
    os.makedirs(outdir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".aiterbench-report-", dir=outdir)
    try:
        for name, data in files + [(MANIFEST, manifest)]:
            write_atomic(os.path.join(staging, name), data)
        with uninterrupted():
            for name, _ in files:
                os.replace(os.path.join(staging, name), os.path.join(outdir, name))
            _remove_stale(outdir, [name for name, _ in files])  # reads the previous manifest
            os.replace(os.path.join(staging, MANIFEST), os.path.join(outdir, MANIFEST))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if made:
            shutil.rmtree(outdir, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [os.path.join(outdir, name) for name, _ in files]


#: The files the last report wrote into its folder: only those are ever removed by the next one. It is also
#: how a folder is known to be a report's: one that holds nothing but the files its manifest names.
MANIFEST = ".aiterbench-report.json"


def check_folder(outdir: str, force: bool = False) -> None:
    """Refuse (ReportError, one line) to write into a folder that holds anything but an earlier report.

    A report replaces its own files and removes charts it no longer draws, so
    only a missing or empty folder, or one that holds an earlier report (its
    manifest and the files it names, and leftovers of an interrupted write,
    ``.aiterbench-*``), is written without ``force``, as every command asks
    before it replaces a file. With ``force`` the report goes in beside the
    folder's other files: a file of one of the report's own names (``index.html``,
    ``summary.md``, ...) is replaced, as ``--force`` replaces a file in every
    command; the others are never touched.
    """
    if not os.path.exists(outdir):
        return
    if not os.path.isdir(outdir):
        raise ReportError(f"-o {outdir}: is a file, expected a folder for the report")
    if force:
        return
    try:
        names = os.listdir(outdir)
        ours = {MANIFEST}
        if MANIFEST in names:
            with open(os.path.join(outdir, MANIFEST), encoding="utf-8") as f:
                listed = json.load(f)
            ours |= {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    except (OSError, ValueError) as exc:
        raise ReportError(f"-o {outdir}: cannot tell whether it holds an earlier report ({exc}); "
                          "pass --force to write into it") from None
    strangers = sorted(n for n in names if n not in ours and not n.startswith(".aiterbench-"))
    if strangers:
        more = f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
        raise ReportError(f"-o {outdir}: holds files that are not an earlier report ({', '.join(strangers[:3])}"
                          f"{more}); pass --force to write the report beside them, or name another folder")


def _remove_stale(outdir: str, written: list[str]) -> None:
    """Remove charts an earlier report wrote here that this one does not (say, a Python no longer given)."""
    try:
        with open(os.path.join(outdir, MANIFEST), encoding="utf-8") as f:
            previous = json.load(f)
    except (OSError, ValueError):
        return
    keep = {os.path.basename(p) for p in written}
    for name in previous if isinstance(previous, list) else []:
        if (isinstance(name, str) and name == os.path.basename(name) and (name.endswith((".svg", ".png")) or
                                                                          name == "memory.csv") and name not in keep):
            try:
                os.unlink(os.path.join(outdir, name))
            except OSError:
                pass

