"""Which of a group's figures are not yet precise enough: ``run --precision``'s stopping rule, on live data.

After a group's balanced rounds, ``run_matrix`` asks ``short_of`` which
cells of the group still have a per-item figure, or a ratio to their class
form, whose 95% interval is wider than the precision. The figures are the
ones the table will print, computed the same way (``aiterbench.analysis``).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from ..model.cells import Cell, SelectionError


def short_of(target: float, baseline: str | None = None, of: str = "all") -> Callable[[dict, Sequence[Cell]], list]:
    """A ``run_matrix`` ``short_of`` callback: (cell name, widest relative half-width) of each cell of the
    group with a figure wider than ``target``, widest first; empty when the group may stop.

    ``of``: ``all`` looks at every per-item figure and every ratio to the class form; ``ratios`` (``--quick``)
    at the ratios alone, paired by process and so narrower than either figure they divide (a cell with no
    reference, a group of one, still needs its per-item figure).
    """
    from ..stats.precision import relative_half_width

    def check(benchmarks: dict, group: Sequence[Cell]) -> list:
        import pyperf

        from ..analysis import analyze, cells

        wanted = set(group)
        mine = []
        for name, bench in benchmarks.items():
            try:
                cell = Cell.parse_any(name)[0]
            except SelectionError:
                continue
            if cell in wanted and any(run.values for run in bench.get_runs()):
                mine.append(bench)
        if not mine:
            return [(c.name, math.inf) for c in group]
        rows = {r.cell: r for r in analyze(cells(pyperf.BenchmarkSuite(mine)), baseline)}
        wide = []
        for cell in group:
            row = rows.get(cell)
            if row is None or row.fit is None:
                wide.append((cell.name, math.inf))
                continue
            if of == "ratios" and row.vs_reference is not None:
                widths = [relative_half_width(row.vs_reference)]
            elif of == "ratios" and any(rows.get(c) is not None and rows[c].reference == cell.impl for c in group):
                continue  # the reference of the others' ratios: they carry its noise
            else:
                widths = [relative_half_width(row.fit.per_item)]
                if row.vs_reference is not None:
                    widths.append(relative_half_width(row.vs_reference))
            if max(widths) > target:
                wide.append((cell.name, max(widths)))
        return sorted(wide, key=lambda nw: (-nw[1], nw[0]))

    return check


__all__ = ["short_of"]
