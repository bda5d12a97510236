"""Workers start clean; results belong to their environment and never pool across environments."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from aiterbench import main
from aiterbench.model.environ import check_names, influential, recorded, worker_environ
from aiterbench.analysis import NOT_RECORDED, Environment, differences, labels, load_results
from aiterbench.model.identity import group

from .test_cli import TINY, assert_one_error_line, cli


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


# --- The build belongs to the environment (aiterbench.measure.build, Environment.build) ---------------------

#: sysconfig of a pyenv build (shared, configured without --enable-optimizations nor --with-lto): the PGO flag
#: variables and the NOLTO linker flags are set whatever the build, and must not count.
PYENV = {"Py_ENABLE_SHARED": 1, "PYTHONFRAMEWORK": "",
         "CONFIG_ARGS": "'--prefix=/p' '--enable-shared' 'LDFLAGS=-L/p/lib -Wl,-rpath,/p/lib'",
         "PY_CFLAGS": "-fno-strict-overflow -Wsign-compare -DNDEBUG -g -O3 -Wall",
         "PY_CFLAGS_NODIST": "-std=c11 -Wextra -fvisibility=hidden -I./Include/internal",
         "PGO_PROF_USE_FLAG": "-fprofile-use -fprofile-correction", "PY_LDFLAGS_NOLTO": "-fno-lto"}
#: A static build configured for both, as CPython's own instructions say.
OPTIMIZED = {"Py_ENABLE_SHARED": 0, "CONFIG_ARGS": "'--enable-optimizations' '--with-lto'",
             "CONFIGURE_CFLAGS_NODIST": "-std=c11 -fno-semantic-interposition -flto -fuse-linker-plugin"}
#: python-build-standalone (uv) 3.13: profile and LTO flags in the compiler flags, the JIT built but off.
STANDALONE = {"Py_ENABLE_SHARED": 0, "CONFIG_ARGS": "'--prefix=/install' '--enable-experimental-jit=yes-off'",
              "PY_CFLAGS": "-O3 -D_Py_TIER2=3 -D_Py_JIT -flto=thin -fprofile-instr-use=/build/code.profclangd"}


def _rt(**kw):
    from aiterbench.measure.build import Runtime

    return Runtime(**{"version": (3, 11), "libpython_mapped": True, **kw})


@pytest.mark.parametrize("config, rt, expected", [
    (PYENV, _rt(), "shared libpython, no PGO, no LTO, no JIT, GIL"),
    (OPTIMIZED, _rt(libpython_mapped=False), "static libpython, PGO, LTO, no JIT, GIL"),
    ({**OPTIMIZED, "CONFIG_ARGS": "'--enable-optimizations=no' '--with-lto=no'", "CONFIGURE_CFLAGS_NODIST": ""},
     _rt(libpython_mapped=False), "static libpython, no PGO, no LTO, no JIT, GIL"),
    ({**OPTIMIZED, "CONFIG_ARGS": "--enable-optimizations --disable-optimizations --with-lto=thin"},
     _rt(libpython_mapped=False), "static libpython, no PGO, LTO, no JIT, GIL"),
    # Debian: sysconfig comes from the shared build, the interpreter links libpython statically.
    (PYENV, _rt(libpython_mapped=False), "static libpython, PGO unknown, LTO unknown, no JIT, GIL"),
    # 3.15's --enable-static-libpython-for-interpreter: shared libpython built, the interpreter static.
    ({**PYENV, "CONFIG_ARGS": "--enable-shared --enable-static-libpython-for-interpreter"},
     _rt(libpython_mapped=False), "static libpython, no PGO, no LTO, no JIT, GIL"),
    # No /proc to look at: as configured (a macOS framework build is a shared one).
    ({**PYENV, "Py_ENABLE_SHARED": 0, "PYTHONFRAMEWORK": "Python"}, _rt(libpython_mapped=None),
     "shared libpython, no PGO, no LTO, no JIT, GIL"),
    ({"CONFIG_ARGS": ""}, _rt(libpython_mapped=None), "libpython unknown, no PGO, no LTO, no JIT, GIL"),
    # Windows: python3X.dll, and no CONFIG_ARGS nor compiler flags in sysconfig.
    ({"Py_GIL_DISABLED": 0}, _rt(libpython_mapped=None, windows_dll=True, version=(3, 13)),
     "shared libpython, PGO unknown, LTO unknown, JIT unknown, GIL"),
    # The JIT, 3.13: from the compiler flags, PYTHON_JIT=0|1 overriding the build's default.
    (STANDALONE, _rt(libpython_mapped=False, version=(3, 13)), "static libpython, PGO, LTO, JIT off, GIL"),
    (STANDALONE, _rt(libpython_mapped=False, version=(3, 13), python_jit="1"),
     "static libpython, PGO, LTO, JIT on, GIL"),
    ({**PYENV, "PY_CFLAGS_NODIST": "-D_Py_TIER2=1 -D_Py_JIT"}, _rt(version=(3, 13)),
     "shared libpython, no PGO, no LTO, JIT on, GIL"),
    ({**PYENV, "PY_CFLAGS_NODIST": "-D_Py_TIER2=1 -D_Py_JIT"}, _rt(version=(3, 13), python_jit="0"),
     "shared libpython, no PGO, no LTO, JIT off, GIL"),
    ({**PYENV, "PY_CFLAGS_NODIST": "-D_Py_TIER2=4"}, _rt(version=(3, 13)),
     "shared libpython, no PGO, no LTO, tier-2 interpreter on, GIL"),
    (PYENV, _rt(version=(3, 13)), "shared libpython, no PGO, no LTO, no JIT, GIL"),
    # 3.14 on: sys._jit says, whatever the flags.
    (PYENV, _rt(version=(3, 14), jit=(True, True)), "shared libpython, no PGO, no LTO, JIT on, GIL"),
    (STANDALONE, _rt(version=(3, 14), libpython_mapped=False, jit=(True, False)),
     "static libpython, PGO, LTO, JIT off, GIL"),
    (PYENV, _rt(version=(3, 15), jit=(False, False)), "shared libpython, no PGO, no LTO, no JIT, GIL"),
    # Free-threading: the build, and whether an extension turned the GIL back on.
    ({**PYENV, "Py_GIL_DISABLED": 1}, _rt(version=(3, 13), gil_enabled=False),
     "shared libpython, no PGO, no LTO, no JIT, free-threaded"),
    ({**PYENV, "Py_GIL_DISABLED": 1}, _rt(version=(3, 14), gil_enabled=True, jit=(False, False)),
     "shared libpython, no PGO, no LTO, no JIT, free-threaded (GIL re-enabled)"),
    ({**PYENV, "Py_GIL_DISABLED": 0}, _rt(version=(3, 13), gil_enabled=True),
     "shared libpython, no PGO, no LTO, no JIT, GIL"),
    (PYENV, _rt(debug=True), "shared libpython, no PGO, no LTO, no JIT, GIL, debug build"),
    (PYENV, _rt(implementation="pypy"), "build facts unknown (pypy)"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_build_facts_say_how_the_interpreter_was_built(config, rt, expected):
    from aiterbench.measure.build import build_facts

    assert build_facts(config, rt) == expected


def test_libpython_is_seen_in_the_process_mappings(tmp_path):
    from aiterbench.measure.build import _libpython_mapped

    maps = tmp_path / "maps"
    head = "55d0c2a00000-55d0c2a01000 r--p 00000000 08:01 1234"
    maps.write_text(f"{head}    /usr/bin/python3.11\n{head}    [heap]\n{head}\n")
    assert _libpython_mapped(str(maps)) is False
    with maps.open("a") as f:
        f.write(f"{head}    /root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0\n")
    assert _libpython_mapped(str(maps)) is True
    assert _libpython_mapped(str(tmp_path / "missing")) is None


def _interpreters():
    """This one, pyenv's 3.10 on, and Debian's when there."""
    import shutil
    import subprocess

    root = ""
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    found = sorted(str(p) for p in Path(root).glob("versions/3.1[0-9]*/bin/python")) if root else []
    return [sys.executable] + found + ([DEBIAN] if Path(DEBIAN).exists() else [])


#: Debian's own Python: sysconfig says shared (it comes from the shared build), the interpreter is static.
DEBIAN = "/usr/bin/python3.11"
#: The module run alone, as a worker of any interpreter loads it: from its file, the standard library only.
ALONE = ("import importlib.util, sys, sysconfig, json\n"
         "spec = importlib.util.spec_from_file_location('build', sys.argv[1])\n"
         "module = importlib.util.module_from_spec(spec)\n"
         "sys.modules['build'] = module\n"
         "spec.loader.exec_module(module)\n"
         "print(json.dumps([module.build_facts(), sysconfig.get_config_var('CONFIG_ARGS') or '']))\n")


@pytest.mark.parametrize("python", _interpreters())
def test_build_facts_of_the_real_interpreters(python):
    """Each interpreter here, in its own process: libpython as ``ldd`` sees the executable, PGO and LTO as
    configured (none of these was built with either), no JIT (none has one built), the GIL."""
    import shutil
    import subprocess

    import aiterbench.measure.build as build

    if not shutil.which("ldd"):
        pytest.skip("no ldd to check against")
    proc = subprocess.run([python, "-I", "-c", ALONE, build.__file__], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    facts, config_args = json.loads(proc.stdout)
    real = os.path.realpath(subprocess.run([python, "-c", "import sys; print(sys.executable)"], capture_output=True,
                                           text=True).stdout.strip())
    linked = "libpython" in subprocess.run(["ldd", real], capture_output=True, text=True).stdout
    if os.path.realpath(python) == os.path.realpath(DEBIAN):
        assert facts == "static libpython, PGO unknown, LTO unknown, no JIT, GIL"
        return
    assert "--enable-optimizations" not in config_args and "--with-lto" not in config_args, "update this test"
    assert facts == f"{'shared' if linked else 'static'} libpython, no PGO, no LTO, no JIT, GIL"


def test_the_workers_record_the_build(debug_run):
    from aiterbench.measure.build import build_facts

    out, _ = debug_run
    (rs,) = load_results([str(out)])
    assert rs.environment.build.endswith(", " + build_facts()) and rs.environment.build.startswith("64-bit, ")


SHARED = "shared libpython, no PGO, no LTO, no JIT, GIL"
STATIC = "static libpython, no PGO, no LTO, no JIT, GIL"


def test_two_builds_of_one_python_never_pool(tmp_path):
    """Same machine, Python 3.12.1 and compiler: a shared and a static libpython are two environments."""
    shared = _rewrite(PY312, tmp_path / "shared.json", aiterbench_build=SHARED)
    static = _rewrite(PY312, tmp_path / "static.json", aiterbench_build=STATIC)
    sets = load_results([str(shared), str(static)])
    assert len(sets) == 2
    (one,) = load_results([str(shared)])
    cell = next(iter(one.cells))
    assert all(len(s.cells[cell].per_round) == len(one.cells[cell].per_round) for s in sets)  # nothing pooled
    assert sorted(labels([s.environment for s in sets])) == ["3.12 · shared libpython", "3.12 · static libpython"]
    a, b = sorted((s.environment for s in sets), key=lambda e: e.build)
    assert differences(a, b) == [("Python build", f"64-bit, GCC 12.2.0, {SHARED}", f"64-bit, GCC 12.2.0, {STATIC}")]
    assert group([(a, 1), (b, 2), (a, 3)]) == [(a, [1, 3]), (b, [2])]
    assert a.series_key != b.series_key  # nor do their histories continue each other


def test_a_file_without_build_facts_does_not_pool_with_one_that_has_them(tmp_path):
    """Files written before workers recorded ``aiterbench_build`` say so, and stand apart."""
    from aiterbench.model.identity import BUILD_NOT_RECORDED

    (old,) = load_results([str(PY312)])
    assert old.environment.build == f"64-bit, GCC 12.2.0, {BUILD_NOT_RECORDED}"
    new = _rewrite(PY312, tmp_path / "new.json", aiterbench_build=SHARED)
    sets = load_results([str(PY312), str(new)])
    assert len(sets) == 2
    assert sorted(labels([s.environment for s in sets])) == ["3.12 · build facts not recorded",
                                                             "3.12 · shared libpython"]
    # A history written before the build facts reads its records as the files read today.
    assert Environment.from_record({"build": "64-bit, GCC 12.2.0"}).build == old.environment.build
    assert Environment.from_record({"build": f"64-bit, GCC 12.2.0, {SHARED}"}).build == f"64-bit, GCC 12.2.0, {SHARED}"


@pytest.mark.parametrize("builds, expected", [
    ([SHARED, STATIC], ["3.11 · shared libpython", "3.11 · static libpython"]),
    ([SHARED, SHARED + ", debug build"], ["3.11", "3.11 · debug build"]),
    ([SHARED, STATIC, "build facts not recorded"],
     ["3.11 · shared libpython", "3.11 · static libpython", "3.11 · build facts not recorded"]),
    ([SHARED.replace("no JIT, GIL", "JIT on, GIL"), SHARED.replace("no JIT, GIL", "JIT off, GIL")],
     ["3.11 · JIT on", "3.11 · JIT off"]),
])
def test_labels_name_only_the_build_facts_that_differ(builds, expected):
    made = [Environment("cpython", "3.11.7", "AMD", "vm", "Linux", "0.3.0", "{}", build=f"64-bit, GCC 12.2.0, {b}")
            for b in builds]
    assert labels(made) == expected
