"""profile: calls and time per item of one cell's steady state; nothing stored as a timing result."""

from __future__ import annotations

import importlib.util
import json

import pytest

from aiterbench import main

from .test_cli import assert_one_error_line, cli


def _profile(*argv):
    proc = cli("profile", *argv, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_anext_of_a_class_iterator_is_called_once_per_item():
    doc = _profile("class_anext/none/asyncio", "-n", "2000", "--repeat", "5", "--top", "50")
    assert doc["items"] == 10_000 and doc["tool"] == "cprofile"
    assert doc["aiterbench_document"] == "profile" and doc["document_version"] == 1
    anext = [f for f in doc["functions"] if f["function"].endswith("(__anext__)")]
    assert len(anext) == 1
    # n + 1 calls per iterator: the last one raises StopAsyncIteration.
    assert anext[0]["calls_per_item"] == pytest.approx((2000 + 1) / 2000)
    assert all(f["self_ns_per_item"] >= 0 for f in doc["functions"])


def test_the_profile_leaves_out_the_set_up(tmp_path):
    doc = _profile("asyncgen/stream/asyncio", "-n", "500", "--repeat", "3", "--top", "200")
    names = " ".join(f["function"] for f in doc["functions"])
    assert "socketpair" not in names and "open_connection" not in names and "new_event_loop" not in names


def test_cprofile_data_is_written_for_pstats(tmp_path):
    import pstats

    out = tmp_path / "p.prof"
    proc = cli("profile", "asyncgen/none/asyncio", "-n", "1000", "--repeat", "2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "calls/item" in proc.stdout and "asyncgen/none/asyncio" in proc.stdout
    assert pstats.Stats(str(out)).total_calls > 0


@pytest.mark.skipif(importlib.util.find_spec("pyinstrument") is None,
                    reason="needs pyinstrument (pip install 'aiterbench[profile]')")
def test_pyinstrument_writes_html(tmp_path):
    out = tmp_path / "p.html"
    proc = cli("profile", "asyncgen/none/asyncio", "--tool", "pyinstrument", "-n", "1000", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "<html" in out.read_text().lower()
    rows = [line.split() for line in proc.stdout.splitlines() if "asyncgen.py" in line or "base_events.py" in line]
    assert rows and all(row[1] == "-" for row in rows)  # sampled: no call counts, in the calls/item column


BAD = {
    "not a cell": (["asyncgen"], ["not a cell name"]),
    "unknown impl": (["nope/none/asyncio"], ["impl 'nope' matches nothing", "choices:"]),
    "unknown workload": (["asyncgen/tcp/asyncio"], ["workload 'tcp' matches nothing"]),
    "globs": (["*/none/asyncio"], ["one cell"]),
    "a list": (["asyncgen,class_anext/none/asyncio"], ["one cell"]),
    "too many sources": (["asyncgen/stream/asyncio", "--repeat", "1000"], ["--repeat 1000", "1 to 200"]),
    "bad n": (["asyncgen/none/asyncio", "-n", "0"], ["-n 0"]),
    "a profile is not a result": (["asyncgen/none/asyncio", "-o", "{tmp}/p.json"], ["never a result file"]),
    "output exists": (["asyncgen/none/asyncio", "-o", "{tmp}/exists.prof"], ["--force"]),
}


@pytest.mark.parametrize("argv, needles", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(argv, needles, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.prof").write_text("old")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["profile", *[a.format(tmp=tmp_path) for a in argv]])
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "exists.prof").read_text() == "old"


def test_a_missing_profiler_names_its_extra(capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyinstrument" else real(name, *a))
    assert main(["profile", "asyncgen/none/asyncio", "--tool", "pyinstrument"]) == 2
    assert_one_error_line(capsys.readouterr().err, "aiterbench[profile]")
