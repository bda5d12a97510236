"""The history store: runs kept in SQLite, per cell and environment.

Its change points are ``aiterbench.stats.changes``; turning result files into
runs and showing the trend, ``aiterbench.analysis.history``. The database is versioned (``meta.schema``); a newer or foreign file is refused
and never written. ``add`` is one transaction: interrupted, it leaves the
database as it was.
"""

from __future__ import annotations

import dataclasses
import datetime
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
    #: (cell name, per-item Estimate in seconds) for every cell with an estimate.
    estimates: tuple
    #: The measuring runs (``run``'s run ids) it holds: one already in the history is refused, even in a grown file.
    run_ids: tuple = ()


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
            for cell, e in run.estimates:
                conn.execute("INSERT INTO estimates VALUES (?,?,?,?,?,?)",
                             (cur.lastrowid, cell, e.value, None if math.isnan(e.low) else e.low,
                              None if math.isnan(e.high) else e.high, e.samples))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def series(conn: sqlite3.Connection, cells: Sequence[str] = ()) -> list[tuple[object, str, list[Point]]]:
    """(Environment, cell, points by date) for every cell and environment in the history."""
    from .identity import Environment

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


def read(path: str, cells: Sequence[str] = ()) -> list:
    """(Environment, cell, points) of the history at ``path`` (HistoryError if it is missing or unusable)."""
    conn = connect(path)
    try:
        return series(conn, cells)
    except sqlite3.Error as exc:
        raise HistoryError(f"--db {path}: {exc}") from None
    finally:
        conn.close()
