"""Reports from aiterbench result files: a self-contained HTML page, a markdown summary, CSV and charts.

Imports matplotlib (lazily, inside the chart code): never imported by a measuring process.
"""

from __future__ import annotations

from ._model import Dataset, ReportError, load
from ._writers import check_folder

__all__ = ["Dataset", "ReportError", "build", "check_folder", "load", "readme_blocks", "write_explain_chart"]


def build(paths, outdir: str, history: str | None = None, readme: str | None = None) -> list[str]:
    """Read ``paths`` (and a history database) and write the report into ``outdir``; returns the files written.

    ``readme``: also rewrite that README's generated blocks (``<!-- aiterbench:NAME:start/end -->``) from the
    same data; ReportError, before anything is written, when it cannot be read or has no block's markers.
    """
    from ._charts import render_all
    from ._findings import findings
    from ._readme import blocks, rewrite
    from ._writers import write_report

    dataset = load(paths, history)
    text = _read_readme(readme) if readme else None
    new = rewrite(text, blocks(dataset)) if text is not None else None
    written = write_report(dataset, findings(dataset), render_all(dataset), outdir)
    if new is not None and new != text:
        from ..analysis import write_atomic

        write_atomic(readme, new)
        written.append(readme)
    return written


def _read_readme(path: str) -> str:
    from ._readme import BLOCKS

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"--readme {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if not any(f"<!-- aiterbench:{name}:start -->" in text for name in BLOCKS):
        raise ReportError(f"--readme {path}: has none of the generated blocks' markers "
                          f"({', '.join(f'<!-- aiterbench:{n}:start -->' for n in BLOCKS)} and their ends)")
    return text


def readme_blocks(paths) -> dict[str, str]:
    """The README's generated blocks from ``paths``, as ``build(..., readme=...)`` writes them: name -> markdown."""
    from ._readme import blocks

    return blocks(load(paths))


def write_explain_chart(explanation, path_stem: str, top: int = 15) -> list[str]:
    """Write ``path_stem.svg`` and ``path_stem.png``: the ``top`` largest differences by function of an
    ``explain`` Explanation (and one bar for the others) as a diverging bar chart coloured by category; returns
    the two paths. OSError when they cannot be written."""
    import os

    from ._charts import explain_chart, write_chart

    return write_chart(explain_chart(explanation, top, name=os.path.basename(path_stem) or "explain"), path_stem)
