"""The report's charts: matplotlib on the Agg backend, imported only here and only when a report is made.

Every chart is a ``ChartSpec`` in ``CHARTS``: a name, a builder taking the
dataset and returning figures (or a ``NoData`` panel saying why there is
nothing to draw). A comparison view is one more spec in that table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
from typing import Callable

from ..analysis import EXPLAIN_CATEGORIES, NS, REFERENCE_IMPL, Cell, ratio

from ._model import Dataset, Group
from ._why import named

REFERENCE = REFERENCE_IMPL


@dataclasses.dataclass(frozen=True)
class Chart:
    name: str  # file stem, unique in the report
    title: str
    caption: str
    figure: object | None  # a matplotlib Figure, or None for a no-data panel
    reason: str = ""  # why there is no figure


@dataclasses.dataclass(frozen=True)
class ChartSpec:
    name: str
    build: Callable[[Dataset], list[Chart]]
    #: "time": drawn (or a no-data panel) when timings are given; "memory", "history", "why": only with such data
    needs: str = "time"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none",  # text stays text: smaller files, selectable labels
        "font.size": 9,
        "axes.titlesize": 10,
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    return plt


#: Width of the report page's figures, in inches at 100 dpi (the page is 1200 px wide less its margins).
PAGE_INCHES = 11.2


def _ink(rgba) -> str:
    """Black or white, whichever reads better on ``rgba`` (WCAG relative luminance)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast against black is (L + 0.05) / 0.05, against white 1.05 / (L + 0.05): pick the larger.
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def _colors(names) -> dict:
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _where(group: Group) -> str:
    return f"Python {group.python_version} ({group.implementation}) on {group.cpu or 'an unknown CPU'}"


def _grid(plt, rows: int, cols: int, w: float = 3.2, h: float = 2.6):
    w = min(w, PAGE_INCHES / max(cols, 1))  # never wider than the page: a shrunk figure shrinks its labels
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.5, w * cols), h * rows + 0.6), squeeze=False,
                             layout="constrained")
    return fig, axes


def _figure_legend(fig) -> None:
    """One legend under the figure for every label its panels drew, each once."""
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(5, len(labels)))


def _facets(plt, group: Group, draw) -> object:
    """A figure with one panel per loop (rows) and workload (columns); ``draw(ax, loop, workload)``
    returns False when it had nothing to draw, and the panel says "no data"."""
    fig, axes = _grid(plt, len(group.loops), len(group.workloads))
    for i, loop in enumerate(group.loops):
        for j, workload in enumerate(group.workloads):
            ax = axes[i][j]
            if not draw(ax, loop, workload, first_column=(j == 0)):
                ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            ax.set_title(f"{workload} / {loop}")
    return fig


def per_item(dataset: Dataset) -> list[Chart]:
    plt = _plt()
    charts = []
    for group in dataset.groups:
        colors = _colors(group.impls)

        def draw(ax, loop, workload, first_column, group=group, colors=colors) -> bool:
            rows = [r for r in group.rows if r.cell.loop == loop and r.cell.workload == workload and r.fit]
            rows.sort(key=lambda r: group.impls.index(r.cell.impl))
            if not rows:
                return False
            est = [r.fit.per_item for r in rows]
            vals = [e.value * NS for e in est]
            lo = [0.0 if math.isnan(e.low) else (e.value - e.low) * NS for e in est]
            hi = [0.0 if math.isnan(e.high) else (e.high - e.value) * NS for e in est]
            x = range(len(rows))
            ax.bar(x, vals, yerr=[lo, hi], capsize=3, color=[colors[r.cell.impl] for r in rows])
            ax.set_xticks(list(x), [r.cell.impl for r in rows], rotation=35, ha="right")
            if min(vals) > 0 and max(vals) / min(vals) > 20:
                ax.set_yscale("log")
                ax.minorticks_off()
            if first_column:
                ax.set_ylabel("ns per item")
            return True

        fig = _facets(plt, group, draw)
        _suptitle(fig, f"Per-item cost, Python {group.label}")
        charts.append(Chart(
            f"per_item_{_slug(group.label)}", f"Per-item cost, Python {group.label}",
            f"Slope of time against n: median over worker processes, whiskers are the 95% interval. "
            f"One panel per workload and event loop; log axis where the bars span more than 20x. {_where(group)}.",
            fig))
    return charts


def ratio_heatmap(dataset: Dataset) -> list[Chart]:
    plt = _plt()
    from matplotlib.colors import TwoSlopeNorm

    impls = []
    for g in dataset.groups:
        impls += [i for i in g.impls if i != REFERENCE and i not in impls]
    lines = [(g, loop) for g in dataset.groups for loop in g.loops]
    workloads = []
    for g in dataset.groups:
        workloads += [w for w in g.workloads if w not in workloads]
    cells = {}
    for impl in impls:
        for k, (g, loop) in enumerate(lines):
            for j, w in enumerate(workloads):
                a, b = g.row(Cell(impl, w, loop)), g.row(Cell(REFERENCE, w, loop))
                if a and b and a.fit and b.fit:
                    r = ratio(a.fit, b.fit)
                    if r is not None:
                        cells[impl, k, j] = r
    if not cells:
        return [Chart("ratio_heatmap", f"Ratio to {REFERENCE}", "", None,
                      f"no cell has a {REFERENCE} counterpart in the same workload and loop, so there is no ratio to draw")]
    shown = [i for i in impls if any(key[0] == i for key in cells)]
    # Panels wrap so that the figure is no wider than the page: shrunk to fit, its numbers would be unreadable.
    # The first column carries the row labels, wrapped, and is given their width (0.085 in a character).
    panel_w = 1.45 * len(workloads) + 1.6
    # At most 30 characters a line, fewer when one panel and its labels would be wider than the page.
    width = max(12, min(30, int((PAGE_INCHES - panel_w) / 0.085)))
    labels = [_wrap(f"py{g.label} {loop}", width) for g, loop in lines]
    label_w = 0.085 * max(len(line) for text in labels for line in text.split("\n"))
    line_h = 0.17 * max(text.count("\n") + 1 for text in labels)
    panel_h = max(0.62, line_h + 0.1) * len(lines) + 1.3
    cols = max(1, min(len(shown), int((PAGE_INCHES - label_w) // panel_w)))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, squeeze=False, layout="constrained",
                             figsize=(max(4.5, panel_w * cols + label_w), panel_h * rows + 0.4))
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    for col, impl in enumerate(shown):
        ax = axes[col // cols][col % cols]
        logs = [[math.log2(cells[impl, k, j].value) if (impl, k, j) in cells else float("nan")
                 for j in range(len(workloads))] for k in range(len(lines))]
        # Colour by log2(ratio), symmetric around 0 (ratio 1): 0.5x and 2x are equally strong.
        # Each panel has its own scale, so a 10x baseline does not wash out a 1.3x difference.
        span = max([abs(v) for row in logs for v in row if v == v] + [0.1])
        image = ax.imshow(logs, cmap="RdBu_r", norm=TwoSlopeNorm(vmin=-span, vcenter=0.0, vmax=span), aspect="auto")
        for k in range(len(lines)):
            for j in range(len(workloads)):
                r = cells.get((impl, k, j))
                text = "-" if r is None else (f"{r.value:.2f}" if math.isnan(r.low) else f"{r.value:.2f}\n[{r.low:.2f}, {r.high:.2f}]")
                shade = image.cmap(image.norm(logs[k][j])) if r is not None else (1, 1, 1, 1)
                ax.text(j, k, text, ha="center", va="center", fontsize=9, color=_ink(shade))
        ax.set_xticks(range(len(workloads)), workloads)
        ax.set_yticks(range(len(lines)), labels if col % cols == 0 else [])
        ax.set_title(f"{impl} / {REFERENCE}")
        ax.grid(False)
        bar = fig.colorbar(image, ax=ax, shrink=0.9)
        ticks = [t for t in (-3, -2, -1, -0.5, 0, 0.5, 1, 2, 3) if abs(t) <= span]
        bar.set_ticks(ticks, labels=[f"{2 ** t:.2g}x" for t in ticks])
        bar.set_label("per-item cost ratio")
    return [Chart(
        "ratio_heatmap", f"Per-item cost relative to {REFERENCE}",
        f"Each impl's per-item cost over {REFERENCE}'s in the same workload, loop and Python: median of the ratios "
        f"paired by round, 95% interval in brackets. Blue is cheaper, red dearer, white equal; colours are on a log "
        f"scale of their own in each panel. "
        f"Pythons: {', '.join(g.python_version for g in dataset.groups)}.", fig)]


def scaling(dataset: Dataset) -> list[Chart]:
    plt = _plt()
    charts = []
    for group in dataset.groups:
        colors = _colors(group.impls)

        def draw(ax, loop, workload, first_column, group=group, colors=colors) -> bool:
            drawn = False
            for impl in group.impls:
                cell = Cell(impl, workload, loop)
                row = group.row(cell)
                if row is None or row.fit is None:
                    continue
                drawn = True
                per_size = group.per_size(cell)
                ns = list(per_size)
                mid = [per_size[n].value * n * 1e6 for n in ns]
                lo = [0.0 if math.isnan(per_size[n].low) else (per_size[n].value - per_size[n].low) * n * 1e6 for n in ns]
                hi = [0.0 if math.isnan(per_size[n].high) else (per_size[n].high - per_size[n].value) * n * 1e6 for n in ns]
                ax.errorbar(ns, mid, yerr=[lo, hi], fmt="o", markersize=3, capsize=2, color=colors[impl])
                fit = [(row.fit.fixed.value + n * row.fit.per_item.value) * 1e6 for n in ns]
                ax.plot(ns, fit, color=colors[impl], label=impl, linewidth=1)
            if drawn:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.minorticks_off()  # decades are enough, and minor log ticks cost most of the drawing
                ax.set_xlabel("n (items)")
                if first_column:
                    ax.set_ylabel("time per iteration (µs)")
            return drawn

        fig = _facets(plt, group, draw)
        _figure_legend(fig)
        _suptitle(fig, f"Scaling with n, Python {group.label}")
        charts.append(Chart(
            f"scaling_{_slug(group.label)}", f"Scaling with n, Python {group.label}",
            "Time for one whole iteration against n, log-log: dots are the median over worker processes with their "
            "95% interval, lines the fitted fixed + n x per-item model; dots off the line mean per-item cost depends "
            f"on n. {_where(group)}.",
            fig))
    return charts


def noise(dataset: Dataset) -> list[Chart]:
    plt = _plt()
    charts = []
    for group in dataset.groups:
        names, series = [], []
        for row in group.rows:
            data = group.data[row.cell].per_round
            if not data:
                continue
            top = max(n for by_n in data.values() for n in by_n)
            vals = [by_n[top] for by_n in data.values() if top in by_n]
            if len(vals) < 2:
                continue
            mid = sorted(vals)[len(vals) // 2]
            names.append(f"{row.cell.name} @n={top}")
            series.append([100 * (v / mid - 1) for v in vals])
        if not series:
            charts.append(Chart(f"noise_{_slug(group.label)}", f"Noise, Python {group.label}", "", None,
                                "fewer than two worker processes per cell: nothing to spread"))
            continue
        fig, ax = plt.subplots(figsize=(8.5, 0.3 * len(series) + 1.4), layout="constrained")
        for k, vals in enumerate(series):
            jitter = [k + 0.25 * ((i * 0.618) % 1 - 0.5) for i in range(len(vals))]
            ax.scatter(vals, jitter, s=10, alpha=0.7)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(names)), names, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlabel("per-item value of each worker process, % from the cell's median")
        ax.set_title(_wrap(f"Noise between worker processes, Python {group.label}", 70))
        charts.append(Chart(
            f"noise_{_slug(group.label)}", f"Noise, Python {group.label}",
            "One dot per worker process at the largest n: how far its per-item value lies from the cell's median. "
            f"Dots far to the right are processes slowed by interference; the medians and intervals resist them. {_where(group)}.",
            fig))
    return charts


def loops_speedup(dataset: Dataset) -> list[Chart]:
    plt = _plt()
    from ._findings import speedups

    charts = []
    for group in dataset.groups:
        others = [loop for loop in group.loops if loop != "asyncio"]
        found = {w: speedups(group, w) for w in group.workloads}
        if not others or "asyncio" not in group.loops or not any(found.values()):
            charts.append(Chart(f"loops_{_slug(group.label)}", f"Event loops, Python {group.label}", "", None,
                                "needs asyncio and another loop measured in the same run"))
            continue
        fig, axes = plt.subplots(1, len(others), figsize=(max(4.5, 4.2 * len(others)), 3.4), squeeze=False, layout="constrained")
        colors = _colors(group.impls)
        for col, loop in enumerate(others):
            ax = axes[0][col]
            impls = [i for i in group.impls if any(l == loop and im == i for w in found for l, im, _ in found[w])]
            width = 0.8 / max(1, len(impls))
            for k, impl in enumerate(impls):
                xs, vals, lo, hi = [], [], [], []
                for j, w in enumerate(group.workloads):
                    for l, im, r in found[w]:
                        if l == loop and im == impl:
                            xs.append(j + (k - (len(impls) - 1) / 2) * width)
                            vals.append(r.value)
                            lo.append(0 if math.isnan(r.low) else r.value - r.low)
                            hi.append(0 if math.isnan(r.high) else r.high - r.value)
                ax.bar(xs, vals, width=width, yerr=[lo, hi], capsize=2, color=colors[impl], label=impl)
            ax.axhline(1.0, color="black", linewidth=0.8)
            ax.set_xticks(range(len(group.workloads)), group.workloads)
            ax.set_ylabel("speed-up over asyncio (x)")
            ax.set_title(f"{loop} vs asyncio")
            ax.legend(fontsize=9)
        _suptitle(fig, f"Event loops, Python {group.label}")
        charts.append(Chart(
            f"loops_{_slug(group.label)}", f"Event loops, Python {group.label}",
            "asyncio's per-item cost over each other loop's, same impl and workload, paired by round: above 1 the "
            f"other loop is faster. Whiskers are 95% intervals. {_where(group)}.", fig))
    return charts


def memory_held(dataset: Dataset) -> list[Chart]:
    """Per environment: bytes a suspended iterator holds, alone and with the loop's asyncgen hooks on top."""
    import statistics

    plt = _plt()
    charts = []
    for mg in dataset.memory:
        colors = _colors(mg.impls)
        fig, axes = _grid(plt, len(mg.loops), len(mg.workloads))
        for i, loop in enumerate(mg.loops):
            for j, workload in enumerate(mg.workloads):
                ax = axes[i][j]
                ms = [m for impl in mg.impls if (m := mg.get(Cell(impl, workload, loop))) is not None]
                if not ms:
                    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                    ax.set_axis_off()
                    continue
                x = list(range(len(ms)))
                alone = [statistics.median(m.held) for m in ms]
                hooks = [max(0.0, statistics.median(m.held_hooked) - a) for m, a in zip(ms, alone)]
                ax.bar(x, alone, color=[colors[m.cell.impl] for m in ms])
                ax.bar(x, hooks, bottom=alone, color="white", edgecolor="#444", hatch="///", linewidth=0.6,
                       label="added by the loop's asyncgen hooks")
                ax.set_xticks(x, [m.cell.impl for m in ms], rotation=35, ha="right")
                ax.set_title(f"{workload} / {loop}")
                if j == 0:
                    ax.set_ylabel("bytes per suspended iterator")
        _figure_legend(fig)
        _suptitle(fig, f"Memory held while suspended, Python {mg.label}")
        env = mg.environment
        charts.append(Chart(
            f"memory_held_{_slug(mg.label)}", f"Memory held while suspended, Python {mg.label}",
            f"Bytes one live, suspended iterator holds (tracemalloc, mean over {mg.memories[0].live:,} alive at once, "
            "median over processes); the hatched part is what the event loop's asyncgen hooks add per async "
            f"generator. Python {env.python_version} ({env.implementation}) on {env.cpu or 'an unknown CPU'}.", fig))
    return charts


def history_trends(dataset: Dataset) -> list[Chart]:
    """Per environment in a history: one panel per cell, its runs in order, change points marked."""
    from ..analysis import history_steps

    plt = _plt()
    charts = []
    used: set = set()
    for hg in dataset.history:
        name = f"history_{_slug(hg.label)}"
        while name in used:  # two histories of one label (loop versions only apart): each keeps its chart
            name += "_2"
        used.add(name)
        cols = min(3, len(hg.series))
        rows = -(-len(hg.series) // cols)
        fig, axes = _grid(plt, rows, cols, w=3.7, h=2.5)
        for ax in axes.flat[len(hg.series):]:
            ax.set_axis_off()
        for k, (cell, points) in enumerate(hg.series):
            ax = axes[k // cols][k % cols]
            xs = list(range(1, len(points) + 1))
            vals = [p.value * NS for p in points]
            lo = [0.0 if math.isnan(p.low) else (p.value - p.low) * NS for p in points]
            hi = [0.0 if math.isnan(p.high) else (p.high - p.value) * NS for p in points]
            ax.errorbar(xs, vals, yerr=[lo, hi], fmt="o-", markersize=3, capsize=2, linewidth=0.8)
            for cp, before, after in history_steps([p.value for p in points]):
                ax.axvline(cp + 0.5, color="#b2182b", linestyle="--", linewidth=1.2)
                ax.text(cp + 0.6, max(vals), f"{after / before - 1:+.1%}", color="#b2182b", fontsize=9, va="top")
            ax.set_title(cell)
            ax.set_xlabel("run")
            if k % cols == 0:
                ax.set_ylabel("ns per item")
        _suptitle(fig, f"History, Python {hg.label}")
        charts.append(Chart(
            name, f"History, Python {hg.label}",
            "Each cell's per-item cost run by run (in date order), with its 95% interval; dashed red lines mark "
            "change points, steps that persist (ruptures PELT on log ns/item, three runs a side), with the change "
            f"between the medians on either side. From {hg.source}.", fig))
    return charts


#: One colour per explain category, in its display order, the same in every chart (tab10; "other" grey).
CATEGORY_COLORS = dict(zip(EXPLAIN_CATEGORIES, ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                                 "#7f7f7f")))


def explain_chart(explanation, top: int = 15, name: str = "explain") -> Chart:
    """The largest differences by function of an ``explain`` document as a diverging horizontal bar chart: NEW - BASE
    instructions per item, positive to the right, coloured by category, the "other (N functions)" row included
    (hatched), so that the bars add up to the difference."""
    plt = _plt()
    from matplotlib.patches import Patch

    e = explanation
    rows = e.top(top)
    labels = [r.function if r.function.startswith("other (") else f"{r.function} ({r.object})" for r in rows]
    values = [r.difference for r in rows]
    fig, ax = plt.subplots(figsize=(min(PAGE_INCHES, 9.0), 0.3 * len(rows) + 2.0), layout="constrained")
    y = list(range(len(rows)))
    bars = ax.barh(y, values, color=[CATEGORY_COLORS.get(r.category, "#7f7f7f") for r in rows], height=0.7)
    for bar, r in zip(bars, rows):
        if r.function.startswith("other ("):
            bar.set_hatch("///")
            bar.set_edgecolor("white")
    lo, hi = min(values + [0.0]), max(values + [0.0])
    span = (hi - lo) or 1.0
    for k, v in enumerate(values):
        ax.text(v + (0.01 * span if v >= 0 else -0.01 * span), k, f"{v:+,.1f}", va="center",
                ha="left" if v >= 0 else "right", fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    # Room for the numbers at the bars' ends, on the side(s) where bars are.
    ax.set_xlim(lo - (0.16 if lo < 0 else 0.02) * span, hi + (0.16 if hi > 0 else 0.02) * span)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()  # the largest difference on top
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("instructions per item, NEW - BASE")
    ax.set_title(f"{named(e.base, 'BASE')} {e.base.per_item:,.1f}, {named(e.new, 'NEW')} {e.new.per_item:,.1f} "
                 f"instructions per item ({e.difference:+,.1f})", fontsize=9)
    fig.suptitle(f"Why: {e.title}")
    shown = [c for c in EXPLAIN_CATEGORIES if any(r.category == c for r in rows)]
    fig.legend([Patch(color=CATEGORY_COLORS[c]) for c in shown], shown, loc="outside lower center",
               ncol=min(4, len(shown)), fontsize=8)
    return Chart(
        name, f"Why: {e.title}",
        f"Self instructions per item of the {len(rows) - (1 if len(rows) > top else 0)} functions whose counts differ "
        "most, NEW - BASE, coloured by category; the hatched bar is every other function together, so the bars add "
        f"up to the difference ({e.difference:+,.1f}). Counted by callgrind at n = {e.sizes[0]}, {e.sizes[1]}.", fig)


def why_charts(dataset: Dataset) -> list[Chart]:
    """One explain chart per explain document among the inputs (``why_1``, ``why_2``... in their order)."""
    return [explain_chart(w.explanation, name=f"why_{k}") for k, w in enumerate(dataset.why, 1)]


def _wrap(label: str, width: int) -> str:
    """An environment's label in lines of at most ``width`` characters, broken at its " · " separators: two
    environments that differ in several respects have labels of a hundred characters or more, which a title
    or an axis would cut off, leaving rows that cannot be told apart."""
    lines: list[str] = []
    parts = []
    for part in label.split(" · "):  # a part longer than a line (a platform string) breaks after its hyphens
        while len(part) > width and "-" in part[1:width]:
            cut = part.rindex("-", 1, width) + 1
            parts.append(part[:cut])
            part = part[cut:]
        parts.append(part)
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def _suptitle(fig, text: str) -> None:
    """A figure's title, wrapped to the figure's width (about nine characters an inch at its size)."""
    fig.suptitle(_wrap(text, max(30, int(fig.get_figwidth() * 9))))


def _slug(label: str) -> str:
    return "py" + "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")


CHARTS = (
    ChartSpec("per_item", per_item),
    ChartSpec("ratio_heatmap", ratio_heatmap),
    ChartSpec("scaling", scaling),
    ChartSpec("noise", noise),
    ChartSpec("loops", loops_speedup),
    ChartSpec("memory_held", memory_held, needs="memory"),
    ChartSpec("history", history_trends, needs="history"),
    ChartSpec("why", why_charts, needs="why"),
)


@dataclasses.dataclass(frozen=True)
class Rendered:
    chart: Chart  # with figure=None: figures stay in the process that drew them
    svg: str  # "" for a no-data panel
    png: bytes


#: In a pool's worker: set when the command was interrupted, so that the charts still queued are not drawn.
_STOPPED = None


def _stopped_by(event) -> None:
    """A pool worker's initializer: the event that says the command was interrupted."""
    global _STOPPED
    _STOPPED = event
    import sys

    if sys.platform == "win32":  # a console's Ctrl-C reaches every process attached to it; no mask there
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _render_spec(index: int, dataset: Dataset) -> list[Rendered]:
    if _STOPPED is not None and _STOPPED.is_set():
        return []  # interrupted: the parent wants no more charts, only the workers gone
    out = []
    if CHARTS[index].needs == "time" and not dataset.groups:
        return out  # memory figures alone: no timing chart, not even an empty one
    for chart in CHARTS[index].build(dataset):
        svg, png = render(chart) if chart.figure is not None else ("", b"")
        out.append(Rendered(dataclasses.replace(chart, figure=None), svg, png))
    return out


def render_all(dataset: Dataset, jobs: int | None = None) -> list[Rendered]:
    """Build and render every chart; specs are drawn in parallel worker processes (drawing is CPU-bound)."""
    import concurrent.futures
    import multiprocessing
    import os

    jobs = min(len(CHARTS), jobs or os.cpu_count() or 1)
    if jobs < 2:
        return [r for i in range(len(CHARTS)) for r in _render_spec(i, dataset)]
    # forkserver/spawn, not fork: forking a process with threads (a test runner, a browser driver) can deadlock.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    # The pool is made first: its queues start multiprocessing's resource tracker, which unblocks SIGINT in the
    # thread that started it.
    context = multiprocessing.get_context(method)
    stopped = context.Event()
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_stopped_by,
                                                  initargs=(stopped,))
    try:
        with _ctrl_c_held():
            # The slowest specs first, so that the two workers finish together. Each submit starts a worker.
            order = sorted(range(len(CHARTS)), key=lambda i: CHARTS[i].name not in ("scaling", "per_item"))
            futures = {i: pool.submit(_render_spec, i, dataset) for i in order}
        return [r for i in range(len(CHARTS)) for r in futures[i].result()]
    finally:
        # Interrupted (or a chart failed): the charts not started are dropped, those already handed to a worker
        # return at once, and the workers finish the one each may be drawing and exit. A Ctrl-C meanwhile (a
        # second one, or one as the last chart came in) waits until they have: the workers, deaf to it, would
        # otherwise wait for work for ever, and keep the forkserver and the resource tracker alive.
        from ..analysis import uninterrupted

        with uninterrupted():
            stopped.set()
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _ctrl_c_held():
    """Ctrl-C while the pool's processes start is raised once they have (as KeyboardInterrupt, on the way out).

    Ctrl-C on a terminal reaches the whole process group. The processes started here start with SIGINT blocked
    (a blocked signal stays blocked across fork and exec), so that neither a forkserver still importing nor a
    worker waiting for work prints a traceback, or dies and leaves the pool waiting for it. This process holds
    it (``uninterrupted``): a mask alone would not do, as another thread (numpy's BLAS threads) can take the
    signal, and an interrupt inside ``submit`` leaves a worker the pool does not know of.
    """
    import signal

    from ..analysis import uninterrupted

    mask = getattr(signal, "pthread_sigmask", None)  # POSIX; Windows has no masks (its workers ignore SIGINT)
    with uninterrupted():
        blocked = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask else None
        try:
            yield
        finally:
            if mask:
                mask(signal.SIG_SETMASK, blocked)


def write_chart(chart: Chart, path_stem: str) -> list[str]:
    """Write ``path_stem.svg`` and ``path_stem.png`` of a chart (atomically, as the report writes its own)."""
    from ..analysis import write_atomic

    svg, png = render(chart)
    write_atomic(path_stem + ".svg", SVG_PROLOGUE + svg)
    write_atomic(path_stem + ".png", png)
    return [path_stem + ".svg", path_stem + ".png"]


#: What ``render`` strips from matplotlib's SVG, for a file of its own.
SVG_PROLOGUE = '<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'


def render(chart: Chart) -> tuple[str, bytes]:
    """(SVG text without the XML prologue, PNG bytes) of a chart's figure."""
    plt = _plt()
    plt.rcParams["svg.hashsalt"] = chart.name  # ids unique across the SVGs inlined in one page
    svg = io.StringIO()
    chart.figure.savefig(svg, format="svg", metadata={"Date": None})  # same data, same bytes
    chart.figure.set_layout_engine("none")  # laid out by the first save: do not solve it again
    png = io.BytesIO()
    chart.figure.savefig(png, format="png", dpi=100)
    plt.close(chart.figure)
    text = svg.getvalue()
    start = text.find("<svg")
    return text[start:], png.getvalue()
