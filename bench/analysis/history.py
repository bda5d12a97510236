"""The history as the commands and the report see it: runs from result files, trends and their steps."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Sequence

from ..model.history import HistoryError, Run
from ..model.documents import dumps
from ..model.units import NS
from ..stats.changes import MIN_SEGMENT, PENALTY, steps


def run_id(rid: str, side: str) -> str:
    """What the history keys a measuring run by: its run id, and the ``ab`` side that measured it.

    Both files of one ``ab`` share its run id (``aiterbench_run`` pairs their
    rounds), yet each holds the runs of its own side: ``rid/base`` and
    ``rid/new`` are two runs. A ``run`` file has no side and keeps the bare id,
    as histories written before sides were told apart stored it.
    """
    return f"{rid}/{side}" if side else rid


def prepare(paths: Sequence[str]) -> list[Run]:
    """Read result files (or folders) into runs, before anything is opened for writing (HistoryError)."""
    from ..model.results import ResultError, expand, kind_of, load_results, load_suite
    from .table import analyze

    out = []
    try:
        for path in expand(paths):
            suite = load_suite(path)
            if kind_of(suite, path) != "time":
                raise HistoryError(f"{path}: only timing results go into the history")
            dates = sorted(str(r.get_metadata().get("date")) for b in suite.get_benchmarks() for r in b.get_runs()
                           if r.values and r.get_metadata().get("date"))
            for rs in load_results([path]):
                estimates = tuple((r.cell.name, r.fit.per_item) for r in analyze(rs.cells) if r.fit)
                if not estimates:
                    raise HistoryError(f"{path}: no cell with a per-item estimate")
                env = rs.environment
                # A round without a run id is keyed by its file: the key stays the same whatever the path.
                data = sorted((c.name, sorted((str(k).rsplit("#", 1)[-1], sorted(v.items()))
                                              for k, v in d.per_round.items())) for c, d in rs.cells.items())
                key = hashlib.sha256(json.dumps([env.key, env.loops, data], default=str).encode()).hexdigest()
                rids = tuple(sorted({run_id(str(k).split(":")[0], env.side) for d in rs.cells.values()
                                     for k in d.per_round
                                     if ":" in str(k) and not str(k).startswith(":") and "#" not in str(k)}))
                out.append(Run(path, env, key, dates[0] if dates else "", estimates, rids))
    except ResultError as exc:
        raise HistoryError(str(exc)) from None
    return out


def format_history(rows: list, fmt: str) -> str:
    """The trend per cell and environment, and its change points."""
    from ..model.identity import labels
    from .table import render as render_table

    # The loop is in the cell's name: label environments by everything else (two loop versions get numbered).
    bare = [dataclasses.replace(env, loops=()) for env, _, _ in rows]
    unique = list(dict.fromkeys(bare))
    names = dict(zip(unique, labels(unique)))
    label_of = {id(env): names[b] for (env, _, _), b in zip(rows, bare)}
    docs, body, notes = [], [], []
    for env, cell, pts in rows:
        values = [p.value for p in pts]
        found = []
        for cp, before, after in steps(values):
            p = pts[cp]
            found.append({"run": cp + 1, "date": p.date, "revision": p.revision, "before_ns": before * NS,
                          "after_ns": after * NS, "change": after / before - 1,
                          "environment_changed": list(p.changed)})
        docs.append({"cell": cell, "environment": label_of[id(env)], "runs": len(pts),
                     "points": [{"date": p.date, "revision": p.revision, "ns_per_item": p.value * NS,
                                 "low": None if math.isnan(p.low) else p.low * NS,
                                 "high": None if math.isnan(p.high) else p.high * NS,
                                 "environment_changed": list(p.changed)} for p in pts],
                     "change_points": found})
        text = "; ".join(f"run {s['run']} ({s['revision'] or s['date'][:10]}): {s['before_ns']:.1f} -> "
                         f"{s['after_ns']:.1f} ns ({s['change']:+.1%})"
                         + (f", at {', '.join(s['environment_changed'])}" if s["environment_changed"] else "")
                         for s in found)
        body.append((cell, label_of[id(env)], str(len(pts)), f"{values[-1] * NS:.1f}",
                     text or ("none" if len(pts) >= 2 * MIN_SEGMENT else f"needs {2 * MIN_SEGMENT} runs")))
        notes += [f"{cell} ({label_of[id(env)]}), run {i + 1}: {', '.join(p.changed)}"
                  for i, p in enumerate(pts) if p.changed]
    if fmt == "json":
        return dumps("history", {"cells": docs})
    head = ("cell", "environment", "runs", "latest ns/item", "change points (a step that persists)")
    foot = (f"Change points: ruptures PELT, L1 cost on log ns/item, at least {MIN_SEGMENT} runs a side, penalty "
            f"{PENALTY:g} x noise x ln(runs); medians before and after. A series is one machine, Python minor "
            "version and build; runs in time order (UTC).\n")
    if notes:
        foot += "Where the rest of the environment changed:\n" + "".join(f"  {n}\n" for n in notes)
    return render_table(head, body, fmt, left=2) + ("\n" if fmt == "md" else "") + foot
