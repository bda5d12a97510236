"""The public analysis: loading result files, the per-process fit, environments and verdicts.

``show``, ``report`` and ``compare`` all go through these names; the modules
behind them are private and may change. Pure functions over loaded data: no
timing, no plotting, nothing heavy imported.

>>> from bench.analysis import load_results, analyze
>>> for rs in load_results(["results/"]):              # doctest: +SKIP
...     print(rs.environment.short, len(analyze(rs.cells)))
"""

from ._identity import NOT_RECORDED, Environment, differences, labels
from ._identity import group as group_by_environment
from ._history import HistoryError, format_history
from ._history import read as read_history
from ._history import steps as history_steps
from ._matrix import Cell
from ._memory import Memory, format_memory, memory_table
from ._memory import from_suite as memory_of
from ._results import (KIND_COUNT, KIND_MEMORY, CellData, ResultError, ResultSet, cells, expand, kind_of, load_results,
                       load_suite, split, write_atomic)
from ._stats import CellFit, Estimate, difference, fit_cell, median_ci, ratio
from ._table import HEADERS as TABLE_HEADERS
from ._table import LATENCY_HEADERS, latency_rows
from ._table import render as render_table
from ._table import REFERENCE_IMPL, SYNC_IMPL, Row, analyze, format_json, format_md, format_text, table_rows

#: The impl every ratio is taken against, and the async generator the suite is about.
CANDIDATE_IMPL = "asyncgen"

__all__ = [
    "CANDIDATE_IMPL", "KIND_COUNT", "KIND_MEMORY", "NOT_RECORDED", "REFERENCE_IMPL", "SYNC_IMPL",
    "Cell", "CellData", "CellFit", "Environment", "Estimate", "ResultError", "ResultSet", "Row",
    "analyze", "cells", "difference", "differences", "expand", "fit_cell", "format_json", "format_md", "format_text",
    "group_by_environment", "Memory", "format_memory", "kind_of", "labels", "load_results", "load_suite", "median_ci", "memory_of", "ratio",
    "split", "write_atomic", "TABLE_HEADERS", "table_rows", "memory_table", "render_table",
    "LATENCY_HEADERS", "latency_rows", "HistoryError", "format_history", "read_history", "history_steps",
]
