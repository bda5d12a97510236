"""Files written before the move to one ``aiterbench`` namespace (0.2.0: count, memory, history) still read.

``tests/data/before-0.3/`` holds them as 0.2.0 wrote them; the timing formats 1
and 2 are in ``tests/data`` (``test_environment.py``), and format 3, ``ab``'s
files with sequential stopping, is ``tests/data/format-v3-ab-{base,new}.json``
(one tiny ``ab`` as it writes them: two sides sharing one run id).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aiterbench import main

OLD = Path(__file__).resolve().parent / "data" / "before-0.3"
PY312 = OLD.parent / "results-py312.json"
V2 = OLD.parent / "format-v2.json"
AB_BASE, AB_NEW = OLD.parent / "format-v3-ab-base.json", OLD.parent / "format-v3-ab-new.json"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_count_file_from_0_2_shows_its_instructions_per_item(capsys):
    code, out, _ = _run(capsys, "show", OLD / "count-v2.json")
    assert code == 0
    assert "asyncgen/none/asyncio                 945.4  100,300             184,490 / 373,572" in out
    assert "class_anext/none/asyncio             1588.8  100,300             247,520 / 565,272" in out
    code, out, _ = _run(capsys, "compare", OLD / "count-v2.json", OLD / "count-v2.json", "--format", "json")
    assert code == 0 and json.loads(out)["counts"]["unchanged"] == 2


def test_a_memory_file_from_0_2_shows_its_figures(capsys):
    code, out, _ = _run(capsys, "show", OLD / "memory-v2.json")
    assert code == 0
    assert "asyncgen/none/asyncio        257           378             0.08          1.0              32.0" in out
    assert "class_anext/none/asyncio    48.7          48.7             0.01          3.0               400" in out


def test_a_history_from_0_2_shows_and_takes_new_runs(tmp_path, capsys):
    pytest.importorskip("ruptures")
    db = tmp_path / "history.sqlite"
    shutil.copyfile(OLD / "history-v1.sqlite", db)
    code, out, _ = _run(capsys, "history", "show", "--db", db, "--format", "json")
    assert code == 0
    before = json.loads(out)["cells"]
    assert {c["cell"] for c in before} >= {"asyncgen/none/asyncio", "class_anext/none/asyncio"}
    code, _, err = _run(capsys, "history", "add", PY312, "--db", db, "--revision", "r2")
    assert code == 0, err
    code, out, _ = _run(capsys, "history", "show", "--db", db, "--format", "json")
    assert sum(c["runs"] for c in json.loads(out)["cells"]) > sum(c["runs"] for c in before)


def test_two_count_files_of_one_environment_pool_their_processes(tmp_path):
    """Runs without a round id are keyed by file and index: a second file adds its runs, it does not overwrite."""
    from aiterbench.model.results import load_results

    second = tmp_path / "count-again.json"
    shutil.copyfile(OLD / "count-v2.json", second)
    (alone,) = load_results([str(OLD / "count-v2.json")])
    (pooled,) = load_results([str(OLD / "count-v2.json"), str(second)])
    for cell, data in alone.cells.items():
        assert len(pooled.cells[cell].per_round) == 2 * len(data.per_round)


def test_a_gz_output_is_gzip_and_a_folder_reads_it(tmp_path, capsys):
    """pyperf reads ``.json.gz`` as gzip: a file we write under that name is gzip, and folders list it."""
    import gzip

    from aiterbench.model.files import dump_suite
    from aiterbench.model.results import expand, load_suite

    suite = load_suite(str(OLD / "count-v2.json"))
    out = tmp_path / "count.json.gz"
    dump_suite(suite, str(out))
    assert json.loads(gzip.decompress(out.read_bytes()))["benchmarks"]
    assert expand([str(tmp_path)]) == [str(out)]
    code, text, _ = _run(capsys, "show", out)
    assert code == 0 and "asyncgen/none/asyncio" in text


@pytest.mark.parametrize("argv, name", [
    (("list",), "list"),
    (("show", PY312), "timings"),
    (("show", OLD / "count-v2.json"), "count"),
    (("show", OLD / "memory-v2.json"), "memory"),
    (("compare", PY312, PY312), "compare"),
    (("compare", OLD / "count-v2.json", OLD / "count-v2.json"), "compare"),
], ids=["list", "show-timings", "show-count", "show-memory", "compare", "compare-count"])
def test_every_json_document_names_itself_and_its_version(capsys, argv, name):
    from aiterbench.model.documents import VERSIONS

    code, out, err = _run(capsys, *argv, "--format", "json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["aiterbench_document"] == name and doc["document_version"] == VERSIONS[name]
    assert "aiterbench_format" not in doc  # that key is the result files' format, in their metadata


def test_the_history_document_names_itself(tmp_path, capsys):
    pytest.importorskip("ruptures")
    db = tmp_path / "history.sqlite"
    assert _run(capsys, "history", "add", PY312, "--db", db)[0] == 0
    code, out, _ = _run(capsys, "history", "show", "--db", db, "--format", "json")
    assert code == 0 and json.loads(out)["aiterbench_document"] == "history"


def _format_of(path) -> set:
    data = json.loads(Path(path).read_text())
    return {b.get("metadata", {}).get("aiterbench_format", data["metadata"].get("aiterbench_format"))
            for b in data["benchmarks"]}


def test_ab_writes_a_format_that_0_2_refuses(tmp_path, monkeypatch):
    """ab's files stop at planned looks (aiterbench_sequential): a reader of formats 1 and 2 only (0.2.0) would
    judge them at a fixed 95%, so they carry a format it refuses instead."""
    from aiterbench.model import results
    from aiterbench.model.results import ResultError, load_suite

    from .test_ab import TINY_AB
    from .test_cli import cli

    prefix = tmp_path / "ab"
    proc = cli("ab", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "-o", str(prefix), "--format", "json", *TINY_AB)
    assert proc.returncode in (0, 1), proc.stderr  # the verdict is the machine's
    for side in ("base", "new"):
        path = tmp_path / f"ab-{side}.json"
        assert "aiterbench_sequential" in json.loads(path.read_text())["metadata"]
        assert _format_of(path) == {3}
        monkeypatch.setattr(results, "READS_FORMATS", (1, 2))  # what 0.2.0 reads
        with pytest.raises(ResultError, match="result format 3 is newer than this aiterbench reads"):
            load_suite(str(path))
        monkeypatch.undo()


def test_every_format_this_version_wrote_has_a_fixture_that_reads(capsys):
    from aiterbench import FORMAT_VERSION
    from aiterbench._version import READS_FORMATS

    assert READS_FORMATS == (1, 2, 3) and FORMAT_VERSION == 3
    assert _format_of(V2) == {2} and _format_of(AB_BASE) == _format_of(AB_NEW) == {3}
    for path in (V2, AB_BASE, AB_NEW):
        code, out, err = _run(capsys, "show", path)
        assert code == 0 and "asyncgen/none/asyncio" in out, err


def test_the_format_3_ab_pair_is_rejudged_by_its_sequential_design(capsys):
    code, out, err = _run(capsys, "compare", AB_BASE, AB_NEW, "--format", "json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert {c["cell"] for c in doc["cells"]} == {"asyncgen/none/asyncio", "class_anext/none/asyncio"}
    assert doc["sequential"] and all(c["paired"] for c in doc["cells"])


def test_append_to_a_file_of_an_older_format_is_refused_and_it_is_untouched(tmp_path, capsys):
    old = tmp_path / "old.json"
    shutil.copyfile(V2, old)
    before = old.read_bytes()
    code, _, err = _run(capsys, "run", "--append", "-o", old, "-i", "sync_iter", "-w", "none", "-l", "asyncio",
                        "--rounds", "2", "--values", "1", "--min-time", "0.002", "--sizes", "8,64")
    assert code == 2
    from .test_cli import assert_one_error_line

    assert_one_error_line(err, "--append", "result format 2", "writes 3")
    assert old.read_bytes() == before
