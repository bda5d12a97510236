"""Reports from aiterbench result files: a self-contained HTML page, a markdown summary, CSV and charts.

Imports matplotlib (lazily, inside the chart code): never imported by a measuring process.
"""

from __future__ import annotations

from ._model import Dataset, ReportError, load
from ._writers import check_folder

__all__ = ["Dataset", "ReportError", "build", "check_folder", "load", "write_explain_chart"]


def build(paths, outdir: str, history: str | None = None) -> list[str]:
    """Read ``paths`` (and a history database) and write the report into ``outdir``; returns the files written."""
    from ._charts import render_all
    from ._findings import findings
    from ._writers import write_report

    dataset = load(paths, history)
    return write_report(dataset, findings(dataset), render_all(dataset), outdir)


def write_explain_chart(explanation, path_stem: str, top: int = 15) -> list[str]:
    """Write ``path_stem.svg`` and ``path_stem.png``: the ``top`` largest differences by function of an
    ``explain`` Explanation (and one bar for the others) as a diverging bar chart coloured by category; returns
    the two paths. OSError when they cannot be written."""
    import os

    from ._charts import explain_chart, write_chart

    return write_chart(explain_chart(explanation, top, name=os.path.basename(path_stem) or "explain"), path_stem)
