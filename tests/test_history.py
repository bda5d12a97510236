"""history: runs in SQLite, change points on seeded synthetic series, duplicates and bad databases."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from pathlib import Path

import pytest

from aiterbench import main
from aiterbench.analysis.history import prepare
from aiterbench.model.history import SCHEMA, add, connect, store
from aiterbench.stats.changes import MIN_SEGMENT, change_points

from .test_cli import assert_one_error_line

pytest.importorskip("ruptures")

DATA = Path(__file__).resolve().parent / "data"
PY311, PY312 = DATA / "results-py311.json", DATA / "results-py312.json"
V2 = DATA / "format-v2.json"
#: One ``ab`` as it writes its two files: sides ``base`` and ``new``, one run id that pairs their rounds.
AB_BASE, AB_NEW = DATA / "format-v3-ab-base.json", DATA / "format-v3-ab-new.json"


def synthetic(seed: int, runs: int = 30, at: int | None = 15, step: float = 0.05, noise: float = 0.02) -> list[float]:
    """Per-run ns/item with this machine's noise: 2% Gaussian and, in 5% of runs, one-sided 10-30% slowdowns."""
    rng = random.Random(seed)
    out = []
    for i in range(runs):
        v = 75e-9 * (1 + noise * rng.gauss(0, 1))
        if rng.random() < 0.05:
            v *= 1 + rng.uniform(0.1, 0.3)
        if at is not None and i >= at:
            v *= 1 + step
        out.append(v)
    return out


def test_a_5_percent_step_in_2_percent_noise_is_found_near_where_it_was_planted():
    found = sum(any(abs(cp - 15) <= 3 for cp in change_points(synthetic(seed))) for seed in range(100))
    assert found >= 85, found  # measured: 182 of 200 with the suite's settings


def test_pure_noise_rarely_gets_a_change_point():
    flagged = sum(bool(change_points(synthetic(1000 + seed, at=None))) for seed in range(100))
    assert flagged <= 8, flagged  # measured: 7 of 200


def test_one_slow_run_is_not_a_step():
    values = [75e-9] * 8 + [100e-9] + [75e-9] * 8
    assert change_points(values) == []


def test_too_few_runs_have_no_change_points():
    assert change_points(synthetic(1, runs=2 * MIN_SEGMENT - 1, at=2, step=0.5)) == []


def _cli(capsys, *argv):
    code = main(["history", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_then_show(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    code, out, _ = _cli(capsys, "add", PY311, PY312, "--db", db, "--revision", "abc123")
    assert code == 0 and "added results-py311.json" in out
    code, out, _ = _cli(capsys, "show", "asyncgen/none/asyncio", "--db", db, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["cells"]) == 2  # two environments, never pooled
    assert {c["environment"] for c in doc["cells"]} == {"3.11", "3.12"}
    assert all(c["points"][0]["revision"] == "abc123" and c["change_points"] == [] for c in doc["cells"])


def test_the_same_run_twice_is_refused_and_nothing_is_added(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    assert _cli(capsys, "add", PY311, "--db", db)[0] == 0
    code, _, err = _cli(capsys, "add", PY312, PY311, "--db", db)
    assert code == 2
    assert_one_error_line(err, "already in the history")
    assert "stamped" not in err  # nothing was added: only the error is said (the repository has a git HEAD)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1  # not even the new PY312


def test_an_interrupted_add_leaves_the_database_as_it_was(tmp_path):
    db = tmp_path / "h.sqlite"
    add(str(db), prepare([str(PY311)]), "r1")
    conn = connect(str(db))
    runs = prepare([str(PY312)])

    class Interrupted(KeyboardInterrupt):
        pass

    class Rows(tuple):
        def __iter__(self):  # Ctrl-C halfway through a run's cells
            for k, row in enumerate(tuple.__iter__(self)):
                if k == 3:
                    raise Interrupted
                yield row

    import dataclasses

    broken = [dataclasses.replace(runs[0], estimates=Rows(runs[0].estimates))]
    with pytest.raises(Interrupted):
        store(conn, broken, "r2")
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(DISTINCT run_id) FROM estimates").fetchone()[0] == 1
    conn.close()


@pytest.mark.parametrize("content, needle", [
    (b"this is not a database at all, just text" * 20, "not an aiterbench history"),
    (None, "not an aiterbench history"),  # some other program's SQLite file
    ("newer", "newer aiterbench"),
], ids=["corrupt", "foreign-sqlite", "newer-schema"])
def test_bad_databases_are_one_line_errors_and_never_written(tmp_path, capsys, content, needle):
    db = tmp_path / "h.sqlite"
    if content is None:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE notes (text TEXT)")
        conn.close()
    elif content == "newer":
        add(str(db), prepare([str(V2)]), None)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA + 1),))
        conn.close()
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    for argv in (["add", PY311, "--db", db], ["show", "--db", db]):
        code, _, err = _cli(capsys, *argv)
        assert code == 2
        assert_one_error_line(err, needle)
    assert db.read_bytes() == before


def test_bad_input_writes_no_database(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    code, _, err = _cli(capsys, "add", tmp_path / "missing.json", "--db", db)
    assert code == 2 and not db.exists()
    assert_one_error_line(err, "no such file")
    code, _, err = _cli(capsys, "show", "--db", db)
    assert code == 2 and not db.exists()
    assert_one_error_line(err, "no such history")


def test_a_cell_not_in_the_history_is_an_error(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    _cli(capsys, "add", V2, "--db", db)
    code, _, err = _cli(capsys, "show", "nope/none/asyncio", "--db", db)
    assert code == 2
    assert_one_error_line(err, "no such cell")


def _set_metadata(node, key: str, make) -> None:
    """Every ``key`` in the metadata of a pyperf JSON document, replaced by ``make(old)``."""
    if isinstance(node, dict):
        md = node.get("metadata")
        if isinstance(md, dict) and key in md:
            md[key] = make(md[key])
        for value in node.values():
            _set_metadata(value, key, make)
    elif isinstance(node, list):
        for value in node:
            _set_metadata(value, key, make)


def _planted_history(tmp_path, capsys, upgrade: str | None = None) -> Path:
    """Ten runs of one environment, revisions r1..r10, the last five 10% slower (and on Python ``upgrade``)."""
    db = tmp_path / "h.sqlite"
    rng = random.Random(7)
    for i in range(10):
        data = json.loads(V2.read_text())
        if upgrade and i >= 5:
            _set_metadata(data, "python_version", lambda v: upgrade + v[len(upgrade):])
        factor = (1.10 if i >= 5 else 1.0) * (1 + 0.005 * rng.gauss(0, 1))
        for bench in data["benchmarks"]:
            for run in bench["runs"]:
                if "values" in run:
                    run["values"] = [v * factor for v in run["values"]]
                md = run.get("metadata", {})
                if "aiterbench_run" in md:
                    md["aiterbench_run"] = f"run{i}"
                if "date" in md:
                    md["date"] = f"2026-11-{10 + i:02d}T00:00:00"
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps(data))
        assert _cli(capsys, "add", path, "--db", db, "--revision", f"r{i + 1}")[0] == 0
    return db


def test_a_planted_step_in_stored_runs_is_shown(tmp_path, capsys):
    db = _planted_history(tmp_path, capsys)
    code, out, _ = _cli(capsys, "show", "--db", db, "--format", "json")
    doc = json.loads(out)
    steps = [c["change_points"] for c in doc["cells"]]
    assert code == 0 and steps and all(len(s) == 1 and s[0]["run"] == 6 and s[0]["revision"] == "r6" for s in steps)
    assert all(math.isclose(s[0]["change"], 0.10, abs_tol=0.03) for s in steps)


def test_a_file_grown_with_append_is_refused_for_the_runs_already_stored(tmp_path, capsys):
    import pyperf

    db = tmp_path / "h.sqlite"
    assert _cli(capsys, "add", V2, "--db", db)[0] == 0
    from .test_compare import _rewrite_run_ids

    grown = pyperf.BenchmarkSuite.load(str(V2))
    extra = pyperf.BenchmarkSuite.load(str(_rewrite_run_ids(V2, tmp_path / "later.json")))
    for bench in grown.get_benchmarks():
        bench.add_runs(extra.get_benchmark(bench.get_name()))
    grown.dump(str(tmp_path / "grown.json"))
    code, _, err = _cli(capsys, "add", tmp_path / "grown.json", "--db", db)
    assert code == 2
    assert_one_error_line(err, "already in the history", "--append")


def test_an_interrupted_first_add_leaves_no_file(tmp_path, monkeypatch):
    import aiterbench.model.history as history

    db = tmp_path / "h.sqlite"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(history, "store", boom)
    with pytest.raises(KeyboardInterrupt):
        add(str(db), prepare([str(PY311)]), None)
    assert list(tmp_path.iterdir()) == []


def test_a_busy_database_is_one_line(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    add(str(db), prepare([str(PY311)]), None)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        import aiterbench.model.history as history

        original = sqlite3.connect
        history.sqlite3.connect = lambda *a, **k: original(*a, **{**k, "timeout": 0.1})
        try:
            code, _, err = _cli(capsys, "add", PY312, "--db", db)
        finally:
            history.sqlite3.connect = original
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2
    assert_one_error_line(err, "busy")


def test_a_patch_release_continues_the_series_and_its_step_is_explained(tmp_path, capsys):
    """A series is machine, Python minor and build: 3.11.7 -> 3.11.8 is one series with the upgrade marked."""
    db = _planted_history(tmp_path, capsys, upgrade="3.11.8")
    code, out, _ = _cli(capsys, "show", "--db", db, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["cells"] and all(c["runs"] == 10 for c in doc["cells"])
    for c in doc["cells"]:
        (step,) = c["change_points"]
        assert step["run"] == 6 and step["environment_changed"] == ["Python: 3.11.7 -> 3.11.8"]
        assert [bool(p["environment_changed"]) for p in c["points"]] == [False] * 5 + [True] + [False] * 4
    code, out, _ = _cli(capsys, "show", "--db", db)
    assert "at Python: 3.11.7 -> 3.11.8" in out and "Where the rest of the environment changed" in out


def test_estimates_are_stored_in_nanoseconds_as_the_column_says(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    assert _cli(capsys, "add", PY311, "--db", db)[0] == 0
    code, out, _ = _cli(capsys, "show", "asyncgen/none/asyncio", "--db", db, "--format", "json")
    (cell,) = json.loads(out)["cells"]
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT ns_per_item FROM estimates WHERE cell = 'asyncgen/none/asyncio'").fetchone()
    conn.close()
    assert 10 < stored < 10_000 and math.isclose(stored, cell["points"][0]["ns_per_item"])


def test_a_0_2_history_reads_in_nanoseconds_and_is_upgraded_by_the_next_add(tmp_path, capsys):
    import shutil

    db = tmp_path / "h.sqlite"
    shutil.copyfile(DATA / "before-0.3" / "history-v1.sqlite", db)
    code, out, _ = _cli(capsys, "show", "--db", db, "--format", "json")
    before = json.loads(out)["cells"]
    assert code == 0 and all(10 < p["ns_per_item"] < 10_000 for c in before for p in c["points"])
    assert all(p["date"].endswith("+00:00") for c in before for p in c["points"])
    assert _cli(capsys, "add", PY312, "--db", db)[0] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA)
        assert conn.execute("SELECT MIN(ns_per_item) FROM estimates").fetchone()[0] > 10
    conn.close()
    code, out, _ = _cli(capsys, "show", "--db", db, "--format", "json")
    after = {(c["cell"], c["environment"]): c for c in json.loads(out)["cells"]}
    for c in before:  # the old runs read the same after the upgrade
        same = [a for (cell, _), a in after.items() if cell == c["cell"] and a["runs"] >= c["runs"]]
        assert any(math.isclose(a["points"][0]["ns_per_item"], c["points"][0]["ns_per_item"]) for a in same)


@pytest.fixture
def utc_zone(monkeypatch):
    """This process's local time zone is UTC for the test, and what it was afterwards."""
    import time

    with monkeypatch.context() as mp:
        mp.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


def test_runs_are_ordered_by_time_whatever_the_date_format(tmp_path, capsys, utc_zone):
    """pyperf's local 'YYYY-MM-DD HH:MM:SS' and ISO dates with a zone sort by the instant they name (as text,
    '2026-11-11 23:00' sorts before '2026-11-11T09:00')."""
    from aiterbench.model.history import utc_time

    assert utc_time("2026-11-10T12:00:00+00:00") == "2026-11-10T12:00:00.000000+00:00"
    assert utc_time("2026-11-10T14:00:00+02:00") == "2026-11-10T12:00:00.000000+00:00"
    db = tmp_path / "h.sqlite"
    dates = ["2026-11-11T09:00:00+00:00", "2026-11-11 23:00:00.5", "2026-11-12T03:00:00+05:00"]
    for i, date in enumerate(dates):
        data = json.loads(V2.read_text())
        _set_metadata(data, "date", lambda _: date)
        _set_metadata(data, "aiterbench_run", lambda _: f"order{i}")
        path = tmp_path / f"d{i}.json"
        path.write_text(json.dumps(data))
        assert _cli(capsys, "add", path, "--db", db, "--revision", f"r{i}")[0] == 0
    code, out, _ = _cli(capsys, "show", "--db", db, "--format", "json")
    for c in json.loads(out)["cells"]:
        assert [p["revision"] for p in c["points"]] == ["r0", "r2", "r1"]
        assert [p["date"] for p in c["points"]] == sorted(p["date"] for p in c["points"])


def test_an_environment_field_from_a_later_version_is_read(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    assert _cli(capsys, "add", V2, "--db", db)[0] == 0
    with sqlite3.connect(db) as conn:
        (env,) = conn.execute("SELECT environment FROM runs").fetchone()
        data = json.loads(env)
        data["gpu"] = "none"
        del data["build"]
        conn.execute("UPDATE runs SET environment = ?", (json.dumps(data),))
    conn.close()
    code, out, err = _cli(capsys, "show", "--db", db)
    assert code == 0, err


def _ab_run_ids() -> set:
    return {r["metadata"]["aiterbench_run"] for path in (AB_BASE, AB_NEW)
            for b in json.loads(path.read_text())["benchmarks"] for r in b["runs"]
            if "aiterbench_run" in r.get("metadata", {})}


def _sides(capsys, db) -> dict:
    code, out, err = _cli(capsys, "show", "--db", db, "--format", "json")
    assert code == 0, err
    return {(c["cell"], c["environment"]): c["runs"] for c in json.loads(out)["cells"]}


@pytest.mark.parametrize("together", [True, False], ids=["one-add", "one-after-the-other"])
def test_both_files_of_an_ab_go_into_the_history_as_two_sides(tmp_path, capsys, together):
    """ab's two files share one run id (it pairs their rounds): each side is a run of its own in the history."""
    assert len(_ab_run_ids()) == 1  # the fixture is the case: one id on both sides
    db = tmp_path / "h.sqlite"
    if together:
        code, out, err = _cli(capsys, "add", AB_BASE, AB_NEW, "--db", db, "--revision", "pr1")
        assert code == 0, err
    else:
        assert _cli(capsys, "add", AB_BASE, "--db", db, "--revision", "pr1")[0] == 0
        code, out, err = _cli(capsys, "add", AB_NEW, "--db", db, "--revision", "pr1")
        assert code == 0, err
    assert "added format-v3-ab-new.json" in out
    assert _sides(capsys, db) == {(cell, f"3.11 · ab {side}"): 1 for side in ("base", "new")
                                  for cell in ("asyncgen/none/asyncio", "class_anext/none/asyncio")}
    for path in (AB_BASE, AB_NEW):  # each side, once stored, is refused again
        code, _, err = _cli(capsys, "add", path, "--db", db)
        assert code == 2
        assert_one_error_line(err, path.name, "already in the history")


def test_a_history_that_stored_an_ab_base_by_its_bare_run_id_takes_the_new_side(tmp_path, capsys):
    """Histories written before sides were told apart keyed ab-base's runs by the run id alone."""
    db = tmp_path / "h.sqlite"
    assert _cli(capsys, "add", AB_BASE, "--db", db)[0] == 0
    (rid,) = _ab_run_ids()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE run_ids SET rid = ?", (rid,))
    conn.close()
    assert _cli(capsys, "add", AB_NEW, "--db", db)[0] == 0
    code, _, err = _cli(capsys, "add", AB_BASE, "--db", db)
    assert code == 2 and "already in the history" in err
