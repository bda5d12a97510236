"""``show``: one file's tables, one per environment it holds (timings, instruction counts or memory figures)."""

from __future__ import annotations

import json
from typing import Callable, Sequence

from ..model.documents import NAME, VERSION, body
from ..model.identity import labels
from ..model.memory import from_suite as memory_of
from ..model.results import KIND_COUNT, KIND_MEMORY, ResultError, kind_of, load_results, load_suite
from .counts import format_counts
from .memory import format_memory
from .table import analyze, format_json, format_md, format_text

_TIME_FORMATS = {"text": format_text, "md": format_md, "json": format_json}


def format_file(path: str, fmt: str, baseline: str | None = None, width: int | None = None) -> str:
    """The tables of the result, count or memory file at ``path``; ResultError when it cannot be used.

    ``baseline``: the impl timing ratios are taken to (``table.reference_of``); ResultError when no cell has it.
    ``width``: a terminal's width, which a text table of timings is fitted to (``table.fit_width``).
    """
    suite = load_suite(path)
    if kind_of(suite, path) == KIND_MEMORY:
        parts = memory_of(suite, path)
        if not parts:
            raise ResultError(f"{path}: holds no measured benchmarks")
        return _per_environment([env for env, _ in parts], [m for _, m in parts], fmt,
                                lambda memories, f: format_memory(memories, f))
    sets = load_results([path])
    if baseline is not None and not any(c.impl == baseline for rs in sets for c in rs.cells):
        raise ResultError(f"--baseline {baseline}: {path} holds no cell of that impl")

    def one(rs, f: str) -> str:
        if rs.kind == KIND_COUNT:
            return format_counts(rs, f)
        if f == "text":
            return format_text(analyze(rs.cells, baseline), width)
        return _TIME_FORMATS[f](analyze(rs.cells, baseline))

    return _per_environment([s.environment for s in sets], list(sets), fmt, one)


def _per_environment(envs: Sequence, items: Sequence, fmt: str, one: Callable[[object, str], str]) -> str:
    """One table per environment, headed by its label when there are several; JSON: one document naming its
    environment, or ``{"environments": [...]}``."""
    names = labels(list(envs))
    if fmt == "json":
        docs = [(label, json.loads(one(item, "json"))) for label, item in zip(names, items)]
        # One file holds one kind of figures: one header, then the environment's fields (or a list of them).
        head = {k: docs[0][1][k] for k in (NAME, VERSION)}
        if len(docs) == 1:
            label, doc = docs[0]
            return json.dumps({**head, "environment": label, **body(doc)}, indent=2) + "\n"
        return json.dumps({**head, "environments": [{"environment": label, **body(doc)} for label, doc in docs]},
                          indent=2) + "\n"
    out = []
    for label, item in zip(names, items):
        if len(items) > 1:
            out.append(f"{'## ' if fmt == 'md' else '== '}{label}{'' if fmt == 'md' else ' =='}\n\n")
        out.append(one(item, fmt))
    return "".join(out)
