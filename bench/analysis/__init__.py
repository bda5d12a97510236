"""The public analysis: loading result files, the per-process fit, environments, tables and verdicts.

``show``, ``compare`` and ``report`` all go through these names; the modules
behind them may change. Pure functions over loaded data: no timing, no
plotting, nothing heavy imported.

>>> from aiterbench.analysis import load_results, analyze
>>> for rs in load_results(["results/"]):              # doctest: +SKIP
...     print(rs.environment.short, len(analyze(rs.cells)))
"""

from ..model.cells import Cell
from ..model.history import HistoryError
from ..model.history import read as read_history
from ..model.identity import NOT_RECORDED, Environment, differences, labels
from ..model.identity import group as group_by_environment
from ..model.memory import Memory
from ..model.memory import from_suite as memory_of
from ..model.files import uninterrupted, write_atomic
from ..model.results import (KIND_COUNT, KIND_MEMORY, CellData, ResultError, ResultSet, cells, expand, kind_of,
                             load_results, load_suite, split)
from ..model.units import NS
from ..stats.changes import steps as history_steps
from ..stats.fit import CellFit, Estimate, difference, fit_cell, median_ci, ratio
from .count_cells import CellCount, count_cells
from .history import format_history
from .explain import (CATEGORIES as EXPLAIN_CATEGORIES, BytecodeRow, CategoryRow, Caller, ExplainError, ExplainSide,
                      Explanation, FunctionRow, format_explanation, is_explanation, load_explanation)
from .memory import format_memory, memory_table
from .table import HEADERS as TABLE_HEADERS
from .table import headers as table_headers
from .table import notes as table_notes
from .table import LATENCY_HEADERS, latency_rows
from .table import render as render_table
from .table import REFERENCE_IMPL, SYNC_IMPL, Row, analyze, format_json, format_md, format_text, table_rows

#: The impl every ratio is taken against, and the async generator the suite is about.
CANDIDATE_IMPL = "asyncgen"

__all__ = [
    "CANDIDATE_IMPL", "KIND_COUNT", "KIND_MEMORY", "NOT_RECORDED", "NS", "REFERENCE_IMPL", "SYNC_IMPL",
    "Cell", "CellData", "CellFit", "Environment", "Estimate", "ResultError", "ResultSet", "Row",
    "analyze", "cells", "difference", "differences", "expand", "fit_cell", "format_json", "format_md", "format_text",
    "group_by_environment", "Memory", "format_memory", "kind_of", "labels", "load_results", "load_suite", "median_ci",
    "memory_of", "ratio", "split", "uninterrupted", "write_atomic", "TABLE_HEADERS", "table_headers", "table_notes", "table_rows", "memory_table", "render_table",
    "CellCount", "count_cells", "EXPLAIN_CATEGORIES", "BytecodeRow", "CategoryRow", "Caller", "ExplainError", "ExplainSide", "Explanation",
    "FunctionRow", "format_explanation", "is_explanation", "load_explanation",
    "LATENCY_HEADERS", "latency_rows", "HistoryError", "format_history", "read_history", "history_steps",
]
