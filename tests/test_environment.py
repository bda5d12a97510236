"""Workers start clean; results belong to their environment and never pool across environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiterbench import main
from aiterbench.model.environ import check_names, influential, recorded, worker_environ
from aiterbench.analysis import NOT_RECORDED, Environment, differences, labels, load_results

from .test_cli import TINY, assert_one_error_line, cli

#: One worker builds this module's shared fixture once (pytest-xdist --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_environment")

DATA = Path(__file__).resolve().parent / "data"
PY311 = DATA / "results-py311.json"
PY312 = DATA / "results-py312.json"
V2 = DATA / "format-v2.json"


def test_workers_get_only_what_they_need():
    caller = {"PATH": "/bin", "HOME": "/root", "PYTHONPATH": "/src", "PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1",
              "PYTHONMALLOC": "malloc", "LD_PRELOAD": "libjemalloc.so", "MALLOC_ARENA_MAX": "2", "EDITOR": "vi",
              "PYTHONHASHSEED": "0", "PYTHONPROFILEIMPORTTIME": "1"}
    env, dropped = worker_environ((), caller)
    assert env == {"PATH": "/bin", "HOME": "/root", "PYTHONPATH": "/src"}
    assert dropped == ["LD_PRELOAD", "MALLOC_ARENA_MAX", "PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONHASHSEED",
                       "PYTHONMALLOC", "PYTHONPROFILEIMPORTTIME"]  # EDITOR is dropped too, but changes nothing
    env, dropped = worker_environ(("PYTHONMALLOC", "EDITOR"), caller)
    assert env["PYTHONMALLOC"] == "malloc" and env["EDITOR"] == "vi" and "PYTHONMALLOC" not in dropped
    assert json.loads(recorded(env)) == {"PYTHONMALLOC": "malloc"}  # what the identity records
    assert recorded({"PATH": "/bin", "PYTHONPATH": "/x"}) == "{}"
    assert not influential("PYTHONPATH") and influential("PYTHONWARNINGS")


@pytest.mark.parametrize("bad", ["", "A=B", "TWO WORDS"])
def test_inherit_names_are_checked(bad):
    with pytest.raises(ValueError, match="--inherit-environ"):
        check_names([bad])


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory):
    """A run started with PYTHONASYNCIODEBUG=1 and PYTHONDEVMODE=1 in the caller's environment."""
    out = tmp_path_factory.mktemp("env") / "r.json"
    proc = cli("run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(out), *TINY,
               extra_env={"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"})
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_debug_modes_of_the_caller_do_not_reach_the_workers(debug_run):
    out, proc = debug_run
    notes = [line for line in proc.stderr.splitlines() if "clean environment" in line]
    assert len(notes) == 1 and "PYTHONASYNCIODEBUG" in notes[0] and "PYTHONDEVMODE" in notes[0]
    (rs,) = load_results([str(out)])
    assert rs.environment.environ == "{}"  # what the workers recorded from their own os.environ


def test_inherit_environ_passes_a_variable_on_purpose_and_it_is_recorded(tmp_path):
    out = tmp_path / "r.json"
    proc = cli("run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(out), *TINY,
               "--inherit-environ", "PYTHONASYNCIODEBUG", extra_env={"PYTHONASYNCIODEBUG": "1"})
    assert proc.returncode == 0, proc.stderr
    (rs,) = load_results([str(out)])
    assert json.loads(rs.environment.environ) == {"PYTHONASYNCIODEBUG": "1"}
    assert not [line for line in proc.stderr.splitlines() if "clean environment" in line and "PYTHONASYNCIODEBUG" in line]


def test_appending_with_another_worker_environment_is_refused(debug_run, tmp_path, capsys, monkeypatch):
    out, _ = debug_run
    copy = tmp_path / "r.json"
    copy.write_bytes(out.read_bytes())
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    code = main(["run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(copy), "--append",
                 "--inherit-environ", "PYTHONHASHSEED", *TINY])
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, "--append", "aiterbench_environ")
    assert copy.read_bytes() == out.read_bytes()


def _rewrite(src: Path, dst: Path, **metadata) -> Path:
    """A copy of a result file as if measured elsewhere: ``metadata`` replaced in every benchmark and run."""
    data = json.loads(src.read_text())
    for holder in [data.get("metadata", {})] + [b.get("metadata", {}) for b in data["benchmarks"]] + [
            r.get("metadata", {}) for b in data["benchmarks"] for r in b["runs"]]:
        for key, value in metadata.items():
            if key in holder or holder is data.get("metadata"):
                holder[key] = value
    dst.write_text(json.dumps(data))
    return dst


def test_two_machines_with_one_hostname_are_two_environments(tmp_path):
    amd = _rewrite(PY312, tmp_path / "amd.json", cpu_model_name="AMD EPYC", hostname="vm")
    intel = _rewrite(PY312, tmp_path / "intel.json", cpu_model_name="Intel Xeon", hostname="vm")
    sets = load_results([str(amd), str(intel)])
    assert len(sets) == 2
    assert sorted(labels([s.environment for s in sets])) == ["3.12 · AMD EPYC", "3.12 · Intel Xeon"]
    assert all(len(next(iter(s.cells.values())).per_round) == len(next(iter(load_results([str(amd)])[0].cells.values())).per_round)
               for s in sets)  # nothing pooled
    assert differences(sets[0].environment, sets[1].environment) == [("CPU", "AMD EPYC", "Intel Xeon")]


def test_two_files_of_one_environment_pool(tmp_path):
    (one,) = load_results([str(PY311)])
    other = _rewrite(PY311, tmp_path / "again.json", aiterbench_run="another-run")
    (both,) = load_results([str(PY311), str(other)])
    cell = next(iter(one.cells))
    assert len(both.cells[cell].per_round) == 2 * len(one.cells[cell].per_round)
    assert both.sources == (str(PY311), str(other))


def test_a_format_1_file_does_not_pool_with_a_format_2_file_of_the_same_machine(tmp_path):
    v2 = _rewrite(PY311, tmp_path / "v2.json", aiterbench_environ="{}", aiterbench_format=2)
    sets = load_results([str(PY311), str(v2)])
    assert len(sets) == 2
    assert {s.environment.environ for s in sets} == {NOT_RECORDED, "{}"}


def test_report_shows_each_environment_as_its_own_group(tmp_path):
    amd = _rewrite(PY312, tmp_path / "amd.json", cpu_model_name="AMD EPYC", hostname="vm")
    intel = _rewrite(PY312, tmp_path / "intel.json", cpu_model_name="Intel Xeon", hostname="vm")
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    assert main(["report", str(amd), str(intel), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "## Python 3.12 · AMD EPYC" in summary and "## Python 3.12 · Intel Xeon" in summary


def test_show_splits_a_file_that_holds_two_environments(tmp_path, capsys):
    """pyperf lets runs with other aiterbench metadata join a benchmark: each run is read for itself."""
    import pyperf

    clean = _rewrite(PY312, tmp_path / "clean.json", aiterbench_environ="{}", aiterbench_format=2)
    debug = _rewrite(PY312, tmp_path / "debug.json", aiterbench_environ='{"PYTHONASYNCIODEBUG": "1"}',
                     aiterbench_format=2, aiterbench_run="other")
    a, b = pyperf.BenchmarkSuite.load(str(clean)), pyperf.BenchmarkSuite.load(str(debug))
    for bench in a.get_benchmarks():
        bench.add_runs(b.get_benchmark(bench.get_name()))
    path = tmp_path / "mixed.json"
    a.dump(str(path))
    assert len(load_results([str(path)])) == 2
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "== 3.12 · clean ==" in out and "== 3.12 · PYTHONASYNCIODEBUG=1 ==" in out


@pytest.mark.parametrize("envs, expected", [
    ([("3.11.7", "AMD EPYC"), ("3.12.1", "AMD EPYC")], ["3.11", "3.12"]),
    ([("3.12.1", "AMD EPYC"), ("3.12.4", "AMD EPYC")], ["3.12.1", "3.12.4"]),
    ([("3.12.1", "AMD EPYC")], ["3.12"]),
])
def test_labels_say_what_differs(envs, expected):
    made = [Environment("cpython", v, cpu, "vm", "Linux", "0.2.0", "{}") for v, cpu in envs]
    assert labels(made) == expected


def test_loop_versions_are_part_of_the_environment():
    a = Environment("cpython", "3.12.1", "AMD", "vm", "Linux", "0.2.0", "{}", (("uvloop", "0.21.0"),))
    b = Environment("cpython", "3.12.1", "AMD", "vm", "Linux", "0.2.0", "{}", (("uvloop", "0.22.1"),))
    c = Environment("cpython", "3.12.1", "AMD", "vm", "Linux", "0.2.0", "{}", (("rloop", "0.5.0"),))
    assert not a.compatible(b) and a.compatible(c)
    assert labels([a, b]) == ["3.12 · uvloop 0.21.0", "3.12 · uvloop 0.22.1"]
    assert differences(a, b) == [("uvloop", "0.21.0", "0.22.1")]


def test_the_format_2_fixture_loads():
    """Every shipped format has a fixture: 1 (results-py3*.json) and 2."""
    (rs,) = load_results([str(V2)])
    assert rs.environment.environ == "{}" and rs.cells
    (old,) = load_results([str(PY311)])
    assert old.environment.environ == NOT_RECORDED


def test_the_two_sides_of_ab_never_pool(tmp_path):
    """One machine, one Python, one run id: base and new run different code."""
    base = _rewrite(PY312, tmp_path / "base.json", aiterbench_side="base")
    new = _rewrite(PY312, tmp_path / "new.json", aiterbench_side="new")
    sets = load_results([str(base), str(new)])
    assert len(sets) == 2
    assert sorted(labels([s.environment for s in sets])) == ["3.12 · ab base", "3.12 · ab new"]


def test_a_run_s_loop_versions_hold_for_all_its_cells(tmp_path):
    """asyncio cells of a run with uvloop 0.21 do not pool with asyncio cells of a run with uvloop 0.19."""
    def with_uvloop(version: str, run_id: str, name: str) -> Path:
        data = json.loads(PY312.read_text())
        for bench in data["benchmarks"]:
            for run in bench["runs"]:
                md = run.get("metadata", {})
                if "aiterbench_run" in md:
                    md["aiterbench_run"] = run_id
        for bench in data["benchmarks"]:
            if "/uvloop@" in (bench.get("metadata", {}).get("name") or ""):
                bench["metadata"]["loop_version"] = version
                for run in bench["runs"]:
                    run.get("metadata", {}).pop("loop_version", None)
        dst = tmp_path / name
        dst.write_text(json.dumps(data))
        return dst

    old, new = with_uvloop("0.19.0", "run-a", "a.json"), with_uvloop("0.21.0", "run-b", "b.json")
    sets = load_results([str(old), str(new)])
    assert len(sets) == 2
    for rs in sets:
        asyncio_cells = [c for c in rs.cells if c.loop == "asyncio"]
        one = load_results([str(old)])[0]
        assert all(len(rs.cells[c].per_round) == len(one.cells[c].per_round) for c in asyncio_cells)
