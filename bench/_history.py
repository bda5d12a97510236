"""``history``: runs kept in SQLite, per cell and environment, with change points.

A step that persists, not one noisy run: change points come from ruptures'
PELT search with an L1 (median) cost on log per-item estimates, at least
three runs on each side of a change, and a penalty of 2 x the noise x ln(runs),
the noise estimated robustly from successive differences. Chosen over MongoDB's
E-Divisive by a measured comparison on synthetic series of 30 runs with this
machine's noise (2% Gaussian and 5% of runs 10-30% slower), 200 seeds each:
a planted 5% step was found within 3 runs in 182/200 series (E-Divisive at
p = 0.01: 135/200), and pure noise gave a change point in 7/200 series (6/200).

The database is versioned (``meta.schema``); a newer or foreign file is refused
and never written. ``add`` is one transaction: interrupted, it leaves the
database as it was.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import sqlite3
import subprocess
from typing import Sequence

SCHEMA = 1
APP = "aiterbench-history"
DEFAULT_DB = os.path.join("results", "history.sqlite")
HISTORY_EXTRA = "pip install 'aiterbench[history]'"
#: Runs on each side of a change point: one slow run is not a step.
MIN_SEGMENT = 3
PENALTY = 2.0

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    run_key TEXT NOT NULL UNIQUE,
    date TEXT NOT NULL,
    added TEXT NOT NULL,
    revision TEXT,
    environment TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE run_ids (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    rid TEXT NOT NULL UNIQUE
);
CREATE TABLE estimates (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    cell TEXT NOT NULL,
    ns_per_item REAL NOT NULL,
    low REAL,
    high REAL,
    processes INTEGER NOT NULL,
    PRIMARY KEY (run_id, cell)
);
"""


class HistoryError(ValueError):
    """Bad input or an unusable database: one line, exit 2."""


def connect(path: str) -> sqlite3.Connection:
    """Open the existing history at ``path``; refuse a missing, foreign, corrupt or newer file (HistoryError)."""
    if os.path.isdir(path):
        raise HistoryError(f"--db {path}: is a directory")
    if not os.path.exists(path):
        raise HistoryError(f"--db {path}: no such history (make one with 'aiterbench history add')")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        conn.execute("PRAGMA foreign_keys = ON")
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise HistoryError(f"--db {path}: busy (another aiterbench is writing it); try again") from None
        raise HistoryError(f"--db {path}: not an aiterbench history ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"--db {path}: not an aiterbench history ({exc})") from None
    if rows.get("app") != APP:
        conn.close()
        raise HistoryError(f"--db {path}: not an aiterbench history")
    schema = int(rows.get("schema", "0") or 0)
    if schema > SCHEMA:
        conn.close()
        raise HistoryError(f"--db {path}: written by a newer aiterbench (schema {schema}, this one reads {SCHEMA}); "
                           "upgrade aiterbench")
    try:
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise HistoryError(f"--db {path}: damaged ({exc})") from None
    return conn


def add(path: str, runs: Sequence["Run"], revision: str | None) -> None:
    """Add ``runs`` to the history at ``path``, creating it: all of them, or (failure, Ctrl-C) nothing.

    A new history is built in a temporary file beside it and renamed into place;
    an existing one takes the runs in one transaction.
    """
    import tempfile

    if os.path.exists(path):
        conn = connect(path)
        try:
            store(conn, runs, revision)
        except sqlite3.Error as exc:
            raise HistoryError(f"--db {path}: {exc}") from None
        finally:
            conn.close()
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise HistoryError(f"--db {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".aiterbench-history-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.executescript(f"BEGIN;{_TABLES}INSERT INTO meta VALUES ('app', '{APP}'), ('schema', '{SCHEMA}');"
                               "COMMIT;")
            store(conn, runs, revision)
        finally:
            conn.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def git_revision(cwd: str = ".") -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


@dataclasses.dataclass(frozen=True)
class Point:
    date: str
    revision: str | None
    value: float  # seconds per item
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class Run:
    """One environment's measurement from one result file, ready to store."""

    source: str
    environment: object
    key: str  # identifies the measurement: adding it twice is refused
    date: str
    rows: tuple
    #: The measuring runs (``run``'s run ids) it holds: one already in the history is refused, even in a grown file.
    run_ids: tuple = ()


def prepare(paths: Sequence[str]) -> list[Run]:
    """Read result files (or folders) into runs, before anything is opened for writing (HistoryError)."""
    from .analysis import ResultError, analyze, expand, kind_of, load_results, load_suite

    out = []
    try:
        for path in expand(paths):
            suite = load_suite(path)
            if kind_of(suite, path) != "time":
                raise HistoryError(f"{path}: only timing results go into the history")
            dates = sorted(str(r.get_metadata().get("date")) for b in suite.get_benchmarks() for r in b.get_runs()
                           if r.values and r.get_metadata().get("date"))
            for rs in load_results([path]):
                rows = tuple(r for r in analyze(rs.cells) if r.fit)
                if not rows:
                    raise HistoryError(f"{path}: no cell with a per-item estimate")
                env = rs.environment
                data = sorted((c.name, sorted((str(k), sorted(v.items())) for k, v in d.per_round.items()))
                              for c, d in rs.cells.items())
                key = hashlib.sha256(json.dumps([env.key, env.loops, data], default=str).encode()).hexdigest()
                rids = tuple(sorted({str(k).split(":")[0] for d in rs.cells.values() for k in d.per_round
                                     if ":" in str(k) and not str(k).startswith(":")}))
                out.append(Run(path, env, key, dates[0] if dates else "", rows, rids))
    except ResultError as exc:
        raise HistoryError(str(exc)) from None
    return out


def store(conn: sqlite3.Connection, runs: Sequence[Run], revision: str | None) -> None:
    """Add ``runs`` in one transaction: all of them, or (on any error or interruption) none."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for run in runs:
            if conn.execute("SELECT 1 FROM runs WHERE run_key = ?", (run.key,)).fetchone():
                raise HistoryError(f"{run.source}: this run is already in the history")
            for rid in run.run_ids:
                if conn.execute("SELECT 1 FROM run_ids WHERE rid = ?", (rid,)).fetchone():
                    raise HistoryError(f"{run.source}: its run {rid} is already in the history (a file grown with "
                                       "--append since it was added?)")
            env = run.environment
            cur = conn.execute(
                "INSERT INTO runs (run_key, date, added, revision, environment, source) VALUES (?,?,?,?,?,?)",
                (run.key, run.date or now, now, revision, json.dumps(dataclasses.asdict(env)),
                 os.path.basename(run.source)))
            conn.executemany("INSERT INTO run_ids VALUES (?, ?)", [(cur.lastrowid, rid) for rid in run.run_ids])
            for r in run.rows:
                e = r.fit.per_item
                conn.execute("INSERT INTO estimates VALUES (?,?,?,?,?,?)",
                             (cur.lastrowid, r.cell.name, e.value, None if math.isnan(e.low) else e.low,
                              None if math.isnan(e.high) else e.high, e.samples))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def series(conn: sqlite3.Connection, cells: Sequence[str] = ()) -> list[tuple[object, str, list[Point]]]:
    """(Environment, cell, points by date) for every cell and environment in the history."""
    from .analysis import Environment

    out: dict = {}
    envs: dict = {}
    query = ("SELECT r.environment, e.cell, r.date, r.revision, e.ns_per_item, e.low, e.high "
             "FROM estimates e JOIN runs r ON r.id = e.run_id ORDER BY r.date, r.id")
    for env_json, cell, date, rev, value, low, high in conn.execute(query):
        if cells and cell not in cells:
            continue
        data = json.loads(env_json)
        loop = cell.rsplit("/", 1)[-1]
        # A cell's series continues across runs that differ only in loops it does not use.
        data["loops"] = tuple(tuple(x) for x in data.get("loops", ()) if x[0] == loop)
        env = Environment(**data)
        env_key = json.dumps([env.key, env.loops])
        envs.setdefault(env_key, env)
        out.setdefault((env_key, cell), []).append(
            Point(date, rev, value, math.nan if low is None else low, math.nan if high is None else high))
    return [(envs[k], cell, pts) for (k, cell), pts in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def change_points(values: Sequence[float]) -> list[int]:
    """Indices where a new level starts (a step that persists), on log values; [] below 2 x MIN_SEGMENT runs."""
    if len(values) < 2 * MIN_SEGMENT or min(values) <= 0:
        return []
    import numpy as np
    import ruptures

    x = np.log(np.asarray(values, dtype=float))
    d = np.diff(x)
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2)
    if sigma == 0:
        sigma = 1e-6
    algo = ruptures.Pelt(model="l1", min_size=MIN_SEGMENT, jump=1).fit(x.reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=PENALTY * sigma * math.log(len(x)))[:-1]]


def read(path: str, cells: Sequence[str] = ()) -> list:
    """(Environment, cell, points) of the history at ``path`` (HistoryError if it is missing or unusable)."""
    conn = connect(path)
    try:
        return series(conn, cells)
    except sqlite3.Error as exc:
        raise HistoryError(f"--db {path}: {exc}") from None
    finally:
        conn.close()


def steps(values: Sequence[float]) -> list[tuple[int, float, float]]:
    """(index where the new level starts, median before, median after) for every change point."""
    import statistics

    cps = change_points(values)
    bounds = [0, *cps, len(values)]
    return [(cp, statistics.median(values[bounds[i]:cp]), statistics.median(values[cp:bounds[i + 2]]))
            for i, cp in enumerate(cps)]


def format_history(rows: list, fmt: str) -> str:
    """The trend per cell and environment, and its change points."""
    from .analysis import labels, render_table

    # The loop is in the cell's name: label environments by everything else (two loop versions get numbered).
    names = labels([dataclasses.replace(env, loops=()) for env in {id(env): env for env, _, _ in rows}.values()])
    label_of = {}
    for env, _, _ in rows:
        if id(env) not in label_of:
            label_of[id(env)] = names[len(label_of)]
    docs, body = [], []
    for env, cell, pts in rows:
        values = [p.value for p in pts]
        found = []
        for cp, before, after in steps(values):
            p = pts[cp]
            found.append({"run": cp + 1, "date": p.date, "revision": p.revision, "before_ns": before * 1e9,
                          "after_ns": after * 1e9, "change": after / before - 1})
        docs.append({"cell": cell, "environment": label_of[id(env)], "runs": len(pts),
                     "points": [{"date": p.date, "revision": p.revision, "ns_per_item": p.value * 1e9,
                                 "low": None if math.isnan(p.low) else p.low * 1e9,
                                 "high": None if math.isnan(p.high) else p.high * 1e9} for p in pts],
                     "change_points": found})
        text = "; ".join(f"run {s['run']} ({s['revision'] or s['date'][:10]}): {s['before_ns']:.1f} -> "
                         f"{s['after_ns']:.1f} ns ({s['change']:+.1%})" for s in found)
        body.append((cell, label_of[id(env)], str(len(pts)), f"{values[-1] * 1e9:.1f}",
                     text or ("none" if len(pts) >= 2 * MIN_SEGMENT else f"needs {2 * MIN_SEGMENT} runs")))
    if fmt == "json":
        return json.dumps({"cells": docs}, indent=2) + "\n"
    head = ("cell", "environment", "runs", "latest ns/item", "change points (a step that persists)")
    foot = (f"Change points: ruptures PELT, L1 cost on log ns/item, at least {MIN_SEGMENT} runs a side, penalty "
            f"{PENALTY:g} x noise x ln(runs); medians before and after.\n")
    return render_table(head, body, fmt, left=2) + ("\n" if fmt == "md" else "") + foot
