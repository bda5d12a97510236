"""The history store: runs kept in SQLite, per cell and environment.

Its change points are ``aiterbench.stats.changes``; turning result files into
runs and showing the trend, ``aiterbench.analysis.history``. The database is
versioned (``meta.schema``); a newer or foreign file is refused and never
written, an older one is read as it is and upgraded by the next ``add``, in the
same transaction as the runs it adds. ``add`` is one transaction: interrupted,
it leaves the database as it was.

A series is one cell on one machine (host name and CPU), Python minor version
and build: a Python patch release, a new loop or aiterbench version, another
kernel or inherited environment continue it, and each point says what changed
from the point before it, so that a step at an upgrade is seen and explained.
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

#: 1 (0.2.0): estimates in seconds (in columns named ns_per_item), dates as pyperf wrote them.
#: 2: estimates in nanoseconds; dates in UTC, ISO 8601 with microseconds (they sort as text).
SCHEMA = 2
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


def schema_of(conn: sqlite3.Connection) -> int:
    return int(dict(conn.execute("SELECT key, value FROM meta").fetchall()).get("schema", "0") or 0)


def utc_time(date: str) -> str:
    """``date`` as UTC ISO 8601 with microseconds, which sorts as text.

    pyperf writes a run's ``date`` in the measuring machine's local time without
    a zone (``2026-11-25 15:04:33.052671``); it is read as this machine's local
    time. A date with a zone keeps it. Unreadable: returned as it is.
    """
    try:
        when = datetime.datetime.fromisoformat(date.strip())
    except ValueError:
        return date
    if when.tzinfo is None:
        when = when.astimezone()  # naive: local time of this machine
    return when.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds")


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring an older history to SCHEMA, inside the caller's transaction."""
    schema = schema_of(conn)
    if schema < 2:
        conn.execute("UPDATE estimates SET ns_per_item = ns_per_item * 1e9, low = low * 1e9, high = high * 1e9")
        for rid, date in conn.execute("SELECT id, date FROM runs").fetchall():
            conn.execute("UPDATE runs SET date = ? WHERE id = ?", (utc_time(date), rid))
    if schema < SCHEMA:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA),))


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
    from .files import OutputError, make_folder

    folder = os.path.dirname(os.path.abspath(path))
    try:
        make_folder(path)
    except OutputError as exc:
        raise HistoryError(f"--db {exc}") from None
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
    date: str  # UTC, ISO 8601
    revision: str | None
    value: float  # seconds per item
    low: float
    high: float
    #: What differs from the point before it in the series ("Python: 3.12.3 -> 3.12.4"); empty for the first.
    changed: tuple[str, ...] = ()
    environment: object = None


@dataclasses.dataclass(frozen=True)
class Run:
    """One environment's measurement from one result file, ready to store."""

    source: str
    environment: object
    key: str  # identifies the measurement: adding it twice is refused
    date: str
    #: (cell name, per-item Estimate in seconds) for every cell with an estimate.
    estimates: tuple
    #: The measuring runs it holds (run id, and ``/side`` for ``ab``'s files, whose two sides share one run id):
    #: one already in the history is refused, even in a grown file.
    run_ids: tuple = ()


def store(conn: sqlite3.Connection, runs: Sequence[Run], revision: str | None) -> None:
    """Add ``runs`` in one transaction: all of them, or (on any error or interruption) none."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
    conn.execute("BEGIN IMMEDIATE")
    try:
        _upgrade(conn)
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
                (run.key, utc_time(run.date) if run.date else now, now, revision, json.dumps(dataclasses.asdict(env)),
                 os.path.basename(run.source)))
            conn.executemany("INSERT INTO run_ids VALUES (?, ?)", [(cur.lastrowid, rid) for rid in run.run_ids])
            for cell, e in run.estimates:
                conn.execute("INSERT INTO estimates VALUES (?,?,?,?,?,?)",
                             (cur.lastrowid, cell, e.value * 1e9, None if math.isnan(e.low) else e.low * 1e9,
                              None if math.isnan(e.high) else e.high * 1e9, e.samples))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def series(conn: sqlite3.Connection, cells: Sequence[str] = ()) -> list[tuple[object, str, list[Point]]]:
    """(Environment of the latest point, cell, points in time order) for every series in the history.

    A series is a cell on one machine, Python minor version and build (see the
    module's docstring); its points say what changed in the rest of the
    environment. Estimates come back in seconds per item, whatever the schema.
    """
    from .identity import Environment, differences

    schema = schema_of(conn)
    scale = 1.0 if schema < 2 else 1e-9
    query = ("SELECT r.id, r.environment, e.cell, r.date, r.revision, e.ns_per_item, e.low, e.high "
             "FROM estimates e JOIN runs r ON r.id = e.run_id")
    rows = []
    for rid, env_json, cell, date, rev, value, low, high in conn.execute(query):
        if cells and cell not in cells:
            continue
        try:
            data = json.loads(env_json)
            env = Environment.from_record(data)
        except (ValueError, TypeError) as exc:
            raise HistoryError(f"run {rid}: unreadable environment ({exc})") from None
        loop = cell.rsplit("/", 1)[-1]
        # A cell's series continues across runs that differ only in loops it does not use.
        env = dataclasses.replace(env, loops=tuple(x for x in env.loops if x[0] == loop))
        rows.append((utc_time(date) if schema < 2 else date, rid, env, cell, rev, value, low, high))
    out: dict = {}
    for date, _, env, cell, rev, value, low, high in sorted(rows, key=lambda r: (r[0], r[1])):
        pts = out.setdefault((cell, env.series_key), [])
        before = pts[-1].environment if pts else None
        changed = tuple(f"{what}: {a} -> {b}" for what, a, b in differences(before, env)) if before else ()
        pts.append(Point(date, rev, value * scale, math.nan if low is None else low * scale,
                         math.nan if high is None else high * scale, changed, env))
    return [(pts[-1].environment, cell, pts) for (cell, key), pts in sorted(out.items(), key=lambda kv: kv[0])]


def read(path: str, cells: Sequence[str] = ()) -> list:
    """(Environment, cell, points) of the history at ``path`` (HistoryError if it is missing or unusable)."""
    conn = connect(path)
    try:
        return series(conn, cells)
    except sqlite3.Error as exc:
        raise HistoryError(f"--db {path}: {exc}") from None
    finally:
        conn.close()
