"""The command line: bad input gets one line and exit 2; runs write pyperf files; faults lose nothing."""

from __future__ import annotations

import json
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiterbench import impls
from aiterbench import main
from aiterbench.model.loops import LOOPS, LoopSpec
from aiterbench.model.cells import select
from aiterbench.model.results import cells, load_suite

from .conftest import communicate_or_kill

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--rounds", "6", "--values", "1", "--min-time", "0.002", "--sizes", "8,64"]
FAULTY = '''
import time

async def boom(n):
    raise RuntimeError("boom from the producer")
    yield

def sleeper(n):
    time.sleep(600)
    return iter(range(n))

async def skipper(n):
    for i in range(n):
        if i != 2:
            yield i

IMPLS = {
    "boom": {"family": "asyncgen", "workloads": {"none": boom}},
    "sleeper": {"family": "sync", "workloads": {"none": sleeper}},
    "skipper": {"family": "asyncgen", "workloads": {"none": skipper}},
}
'''


def cli(*args, cwd=None, timeout=300, extra_env=None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, CI="true", **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "aiterbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


def assert_one_error_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("aiterbench: error:")]
    assert len(errors) == 1, stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize("command", [[], ["list"], ["run"], ["show"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_list_names_every_impl_workload_and_loop(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in impls.names() + impls.workloads() + tuple(LOOPS):
        assert name in out
    assert main(["list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["name"] for i in data["impls"]] == list(impls.names())
    assert {i["name"]: i["workloads"] for i in data["impls"]}["sync_iter"] == ["none"]
    assert {loop["name"] for loop in data["loops"]} == set(LOOPS)
    assert all("version" in loop and "available" in loop for loop in data["loops"])


@pytest.fixture
def faulty(tmp_path) -> Path:
    path = tmp_path / "faulty.py"
    path.write_text(FAULTY)
    return path


@pytest.fixture
def existing(tmp_path) -> Path:
    path = tmp_path / "existing.json"
    path.write_text("{}")
    return path


BAD = {
    "unknown impl": (["run", "-i", "nope*"], ["impl 'nope*' matches nothing", "class_anext"]),
    "unknown workload": (["run", "-w", "bogus"], ["workload 'bogus' matches nothing", "sleep0"]),
    "unknown loop": (["run", "-l", "trio"], ["loop 'trio' matches nothing", "uvloop"]),
    "no pair": (["run", "-i", "sync_iter", "-w", "stream"], ["implements workload stream"]),
    "plug-in import fails": (["run", "--impl-module", "no_such_module_xyz"], ["no_such_module_xyz", "import failed"]),
    "plug-in file missing": (["run", "--impl-module", "missing_plugin.py"], ["no such file"]),
    "plug-in duplicates a name": (["run", "--impl-module", "aiterbench.impls.asyncgen"], ["duplicate impl name 'asyncgen'"]),
    "output folder cannot be made": (["run", "-o", "{existing}/dir/out.json"], ["cannot create its folder"]),
    "output is a folder": (["run", "-o", "{tmp}"], ["is a directory"]),
    "output exists": (["run", "-o", "{existing}"], ["exists", "--append", "--force"]),
    "append to foreign file": (["run", "--append", "-o", "{existing}"], ["--append", "not a pyperf result file"]),
    "bad sizes": (["run", "--sizes", "8,x"], ["--sizes"]),
    "repeated size": (["run", "--sizes", "16,16,256"], ["repeat a size"]),
    "endless timeout": (["run", "--cell-timeout", "inf"], ["cell_timeout"]),
    "nan min-time": (["run", "--min-time", "nan"], ["min_time"]),
    "one round": (["run", "--rounds", "1"], ["two rounds"]),
    "show missing file": (["show", "missing.json"], ["no such file"]),
    "show foreign json": (["show", "{existing}"], ["not a pyperf result file"]),
    "show a folder": (["show", "{tmp}"], ["is a directory"]),
    "bad format": (["show", "x.json", "--format", "html"], ["invalid choice"]),
}


@pytest.mark.parametrize("argv, needles", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(argv, needles, tmp_path, existing, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path, existing=existing) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, *needles)
    assert sorted(os.listdir(tmp_path)) == ["existing.json"]  # nothing written


def test_appending_from_another_interpreter_is_refused_before_measuring(tmp_path, capsys):
    result = tmp_path / "r.json"
    assert cli("run", "-i", "sync_iter", "-l", "asyncio", "-o", str(result), *TINY).returncode == 0
    text = result.read_text()
    result.write_text(text.replace(json.dumps(sys.executable)[1:-1], "/opt/other/bin/python"))
    before = result.read_text()
    assert main(["run", "-i", "sync_iter", "-l", "asyncio", "-o", str(result), "--append", *TINY]) == 2
    assert_one_error_line(capsys.readouterr().err, "--append", "another python_executable")
    assert result.read_text() == before


def test_a_newer_format_is_refused(tmp_path, capsys):
    result = tmp_path / "r.json"
    assert cli("run", "-i", "sync_iter", "-l", "asyncio", "-o", str(result), *TINY).returncode == 0
    data = json.loads(result.read_text())
    for bench in data["benchmarks"]:
        bench.setdefault("metadata", {})["aiterbench_format"] = 99
    data["metadata"]["aiterbench_format"] = 99
    result.write_text(json.dumps(data))
    assert main(["show", str(result)]) == 2
    assert_one_error_line(capsys.readouterr().err, "newer than this aiterbench reads")


@pytest.fixture
def missing_uvloop(monkeypatch):
    monkeypatch.setitem(LOOPS, "uvloop", LoopSpec("uvloop", "uvloop_not_installed_xyz", "pip install 'aiterbench[uvloop]'"))


def test_a_named_loop_that_is_not_installed_says_how_to_install(missing_uvloop, capsys):
    assert main(["run", "-l", "uvloop"]) == 2
    assert_one_error_line(capsys.readouterr().err, "not installed", "pip install 'aiterbench[uvloop]'")


def test_a_default_loop_that_is_not_installed_is_skipped_with_a_note(missing_uvloop):
    chosen, notes = select(impls.registry())
    assert {c.loop for c in chosen} == {"asyncio"}
    assert any("skipping loop 'uvloop'" in n and "pip install" in n for n in notes)


def test_globs_select_in_registry_order():
    chosen, _ = select(impls.registry(), "asyncgen,class_*", "none,s*", "asyncio")
    assert [c.name for c in chosen] == [
        "class_anext/none/asyncio", "class_anext/sleep0/asyncio", "class_anext/stream/asyncio",
        "asyncgen/none/asyncio", "asyncgen/sleep0/asyncio", "asyncgen/stream/asyncio",
        "class_awaitable/none/asyncio", "class_awaitable/sleep0/asyncio", "class_awaitable/stream/asyncio",
    ]


def test_run_writes_a_pyperf_file_that_pyperf_reads(tmp_path):
    result = tmp_path / "r.json"
    proc = cli("run", "-i", "sync_iter,asyncgen", "-w", "none", "-l", "asyncio", "-o", str(result), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "asyncgen/none/asyncio" in proc.stdout and "ns/item" in proc.stdout
    assert "Traceback" not in proc.stderr

    suite = load_suite(str(result))
    assert sorted(b.get_name() for b in suite.get_benchmarks()) == [
        "asyncgen/none/asyncio@n=64", "asyncgen/none/asyncio@n=8",
        "sync_iter/none/asyncio@n=64", "sync_iter/none/asyncio@n=8",
    ]
    md = suite.get_benchmarks()[0].get_metadata()
    for key in ("impl", "family", "workload", "loop", "loop_module", "loop_version", "n", "sizes",
                "python_implementation", "python_version", "aiterbench_version", "aiterbench_format"):
        assert key in md, key
    assert md["inner_loops"] == md["n"]
    data = cells(suite)
    assert all(len(d.per_round) == 8 for d in data.values())  # 6 asked, a whole unit of 2 cells x 2 sizes

    for args in (["stats", str(result)], ["compare_to", str(result), str(result)]):
        proc = subprocess.run([sys.executable, "-m", "pyperf", *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    proc = cli("run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(result), "--append", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert len(cells(load_suite(str(result)))[next(c for c in data if c.impl == "sync_iter")].per_round) == 8 + 6  # appended: one cell alone makes 6

    for fmt in ("text", "md", "json"):
        proc = cli("show", str(result), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["cells"]
    assert {r["cell"] for r in rows} == {"sync_iter/none/asyncio", "asyncgen/none/asyncio"}
    assert all(r["ns_per_item"]["low"] <= r["ns_per_item"]["value"] <= r["ns_per_item"]["high"] for r in rows)


def test_failing_hanging_and_wrong_cells_do_not_take_the_others_down(tmp_path, faulty):
    result = tmp_path / "r.json"
    proc = cli("run", "--impl-module", str(faulty), "-i", "sync_iter,boom,sleeper,skipper", "-l", "asyncio",
               "-o", str(result), "--cell-timeout", "3", *TINY)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "FAILED boom/none/asyncio: RuntimeError: boom from the producer" in proc.stderr
    assert "FAILED sleeper/none/asyncio: hung" in proc.stderr
    assert "FAILED skipper/none/asyncio: refused before timing:" in proc.stderr
    assert "item 2 is 3, expected 2" in proc.stderr
    assert {c.name for c in cells(load_suite(str(result)))} == {"sync_iter/none/asyncio"}


FLAKY = """
import sys

async def flaky(n):
    if "--round" in sys.argv:  # passes the check, fails once measuring rounds start
        raise RuntimeError("flaky under measurement")
    for i in range(n):
        yield i

IMPLS = {"flaky": {"family": "asyncgen", "workloads": {"none": flaky}}}
"""


def test_a_cell_failing_in_a_shared_round_is_found_and_its_group_keeps_the_round(tmp_path):
    plugin = tmp_path / "flaky.py"
    plugin.write_text(FLAKY)
    result = tmp_path / "r.json"
    proc = cli("run", "--impl-module", str(plugin), "-i", "asyncgen,class_anext,flaky", "-w", "none", "-l", "asyncio",
               "-o", str(result), *TINY)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED flaky/none/asyncio: RuntimeError: flaky under measurement" in proc.stderr
    data = cells(load_suite(str(result)))
    assert {c.name for c in data} == {"asyncgen/none/asyncio", "class_anext/none/asyncio"}
    assert all(len(d.per_round) == 6 for d in data.values())  # no round lost to the neighbour's failure


def test_ctrl_c_keeps_the_rounds_already_measured(tmp_path):
    result = tmp_path / "r.json"
    env = dict(os.environ, CI="true")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiterbench", "run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(result),
         "--rounds", "200", "--values", "1", "--min-time", "0.002", "--sizes", "8,64"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not result.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert result.exists(), "no round finished in time"
    proc.send_signal(signal.SIGINT)
    out, err = communicate_or_kill(proc, 60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "Traceback" not in err
    (data,) = cells(load_suite(str(result))).values()
    assert len(data.per_round) >= 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_the_worker_runs_alone_as_a_pyperf_script(tmp_path):
    """pyperf's own master passes the cell options to its workers through add_cmdline_args."""
    out = tmp_path / "w.json"
    proc = subprocess.run(
        [sys.executable, "-m", "aiterbench.measure.worker", "--cell", "asyncgen/none/asyncio", "--sizes", "8,64",
         "-p", "2", "-n", "1", "-w", "0", "--min-time", "0.001", "-o", str(out), "-q"],
        env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (data,) = cells(load_suite(str(out)), str(out)).values()
    assert set(data.per_round[f"{out}#run0"]) == {8, 64}


def _interrupt_at(when: str, *argv: str) -> subprocess.CompletedProcess:
    """SIGINT after the first stderr line that starts with ``when`` (a moment, not a delay: a loaded machine is
    slow, not wrong)."""
    env = dict(os.environ, CI="true")
    proc = subprocess.Popen([sys.executable, "-m", "aiterbench", *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(when):
            break
    proc.send_signal(signal.SIGINT)
    out, err = communicate_or_kill(proc, 60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)


@pytest.mark.parametrize("when", ["measuring", "check+calibrate"])
def test_ctrl_c_before_the_first_round_is_one_line_and_130(tmp_path, when):
    """SIGINT once the run has said it starts (``measuring ...``) or is calibrating, before any round is done."""
    result = tmp_path / "r.json"
    # 0.2 s per value: calibration and the first round take well over a second, so none has finished.
    proc = _interrupt_at(when, "run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(result),
                         "--rounds", "200", "--values", "1", "--min-time", "0.2", "--sizes", "8,64")
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("aiterbench:")]) == 1
    assert not result.exists() and not list(tmp_path.iterdir())


class _InterruptImport:
    """A finder that raises KeyboardInterrupt when ``name`` is imported: Ctrl-C landing in that import."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


@pytest.mark.parametrize("where", ["importing the commands", "parsing", "loading the registry"])
def test_ctrl_c_while_starting_up_is_one_line_and_130(where, monkeypatch, capsys, tmp_path):
    """Every step before measuring: the commands' import, parsing, the impls' registry (no timing involved)."""
    import aiterbench
    import aiterbench.cli as cli_package

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "importing the commands":
        for name in [m for m in sys.modules if m == "aiterbench.cli" or m.startswith("aiterbench.cli.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setattr(aiterbench, "cli", None, raising=False)
        monkeypatch.setattr(sys, "meta_path", [_InterruptImport("aiterbench.cli"), *sys.meta_path])
    elif where == "parsing":
        monkeypatch.setattr(cli_package, "build_parser", interrupted)
    else:
        from aiterbench.cli import _common

        monkeypatch.setattr(_common, "registry", interrupted)
    code = aiterbench.main(["run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 130
    assert err.splitlines() == ["aiterbench: interrupted"]
    assert not list(tmp_path.iterdir())


def test_ctrl_c_during_calibration_keeps_the_old_file_even_with_force(tmp_path):
    result = tmp_path / "r.json"
    result.write_text("the old results\n")
    # Five cells at 0.2 s per value: calibration alone takes seconds, so once it has begun, no round is done yet.
    proc = _interrupt_at("check+calibrate", "run", "-w", "none", "-l", "asyncio", "-o", str(result), "--force",
                         "--rounds", "200", "--values", "1", "--min-time", "0.2", "--sizes", "8,64")
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "is as it was" in proc.stderr
    assert result.read_text() == "the old results\n"


def test_each_cell_opens_a_process_at_each_size_equally_often(tmp_path):
    """Five rounds asked for a group of two cells at two sizes: eight are made, and each (cell, size) opens two."""
    import collections

    result = tmp_path / "r.json"
    proc = cli("run", "-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "-o", str(result),
               "--rounds", "5", "--values", "1", "--min-time", "0.002", "--sizes", "8,64")
    assert proc.returncode == 0, proc.stderr
    assert "8 rounds (5 rounded up so that every cell, size takes every place equally often)" in proc.stderr
    starts: dict = collections.defaultdict(dict)  # round -> (cell, n) -> its first run's date
    for bench in load_suite(str(result)).get_benchmarks():
        for run in bench.get_runs():
            md = run.get_metadata()
            if run.values:
                key = (bench.get_name().split("@")[0], md["n"])
                old = starts[md["aiterbench_round"]].get(key)
                starts[md["aiterbench_round"]][key] = min(old, md["date"]) if old else md["date"]
    assert len(starts) == 8
    firsts = collections.Counter(min(by_key, key=by_key.get) for by_key in starts.values())
    assert firsts == {(c, n): 2 for c in ("asyncgen/none/asyncio", "class_anext/none/asyncio") for n in (8, 64)}


HANGS_IN_CHECK = '''
import asyncio, time

async def stuck(n):
    if n > 1:
        time.sleep(3600)  # blocks the loop itself, as a hung C-level loop would
    for i in range(n):
        yield i

IMPLS = {"stuck": {"family": "asyncgen", "workloads": {"none": stuck}}}
'''


def test_a_cell_that_hangs_in_its_equivalence_check_is_dropped_after_the_check_limit(tmp_path):
    plugin = tmp_path / "stuck.py"
    plugin.write_text(HANGS_IN_CHECK)
    result = tmp_path / "r.json"
    # The check's own limit, not the per-worker one: a check takes milliseconds, so it is hung long before.
    proc = cli("run", "--impl-module", str(plugin), "-i", "stuck,sync_iter", "-w", "none", "-l", "asyncio",
               "-o", str(result), "--cell-timeout", "3600", "--check-timeout", "1.5", *TINY)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED stuck/none/asyncio: hung in its equivalence check: no answer within 1.5 s" in proc.stderr
    assert {c.name for c in cells(load_suite(str(result)))} == {"sync_iter/none/asyncio"}


def test_the_check_limit_is_10_s_unless_asked_and_never_past_the_cell_limit():
    from aiterbench.orchestrate.rounds import FULL, QUICK, _worker_cmd
    from aiterbench.orchestrate.sides import Side

    def limit(budget):
        cmd = _worker_cmd(Side(), select(impls.registry(), "asyncgen", "none", "asyncio")[0], budget, [], "o.json", [])
        return float(cmd[cmd.index("--check-timeout") + 1])

    assert FULL.check_timeout == QUICK.check_timeout == 10.0 and limit(FULL) == 10.0
    assert limit(dataclasses.replace(FULL, check_timeout=1.5)) == 1.5
    assert limit(dataclasses.replace(FULL, cell_timeout=4.0)) == 4.0


def test_a_standalone_worker_calibrates_every_cell_after_latency(tmp_path):
    """The latency figures' fixed loop count must not leak into the next cell's sizes."""
    out = tmp_path / "w.json"
    proc = subprocess.run(
        [sys.executable, "-m", "aiterbench.measure.worker", "--cell", "asyncgen/none/asyncio",
         "--cell", "class_anext/none/asyncio", "--sizes", "8,64", "--latency",
         "-p", "1", "-n", "1", "-w", "0", "--min-time", "0.002", "-o", str(out), "-q"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    from aiterbench.measure.timing import LATENCY_LOOPS

    loops = {b.get_name(): {r.get_metadata().get("loops") for r in b.get_runs()} for b in load_suite(str(out)).get_benchmarks()}
    sizes = {name: v for name, v in loops.items() if "@n=" in name}
    assert len(sizes) == 4 and all(LATENCY_LOOPS not in v for v in sizes.values()), loops


def test_a_save_that_fails_mid_run_is_one_line_exit_1_and_the_last_good_file_stays(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    result = folder / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiterbench", "run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", str(result),
         "--rounds", "400", "--values", "1", "--min-time", "0.002", "--sizes", "8,64"],
        env=dict(os.environ, CI="true"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not result.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert result.exists(), "no round finished in time"
    moved = tmp_path / "moved"
    folder.rename(moved)  # the folder goes away under the run: the next save cannot be written
    out, err = communicate_or_kill(proc, 120)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert_one_error_line(err, "r.json: cannot write the results")
    (data,) = cells(load_suite(str(moved / "r.json"))).values()
    assert len(data.per_round) >= 1


DATA = Path(__file__).resolve().parent / "data"
PY311_FILE = str(DATA / "results-py311.json")

#: Each command that writes, pointed into folders that do not exist yet (as pytest's --junitxml may be).
INTO_NEW_FOLDERS = {
    "run": (["run", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", "{new}/r.json", *TINY], "r.json"),
    "ab": (["ab", "-i", "sync_iter", "-w", "none", "-l", "asyncio", "-o", "{new}/ab", "--quick", "--rounds", "6",
            "--values", "1", "--min-time", "0.002", "--sizes", "8,64", "--seconds", "0"], "ab-base.json"),
    "compare": (["compare", PY311_FILE, PY311_FILE, "-o", "{new}/c.md", "--format", "md"], "c.md"),
    "history": (["history", "add", PY311_FILE, "--db", "{new}/h.sqlite"], "h.sqlite"),
    "report": (["report", PY311_FILE, "-o", "{new}/report"], "report"),
}


@pytest.mark.parametrize("argv, made", INTO_NEW_FOLDERS.values(), ids=INTO_NEW_FOLDERS.keys())
def test_an_output_in_a_folder_that_does_not_exist_makes_the_folder(argv, made, tmp_path):
    if argv[0] == "history":
        pytest.importorskip("ruptures")
    if argv[0] == "report":
        pytest.importorskip("matplotlib")
    new = tmp_path / "results" / "deeper"
    proc = cli(*[a.format(new=new) for a in argv])
    assert proc.returncode in (0, 1), proc.stderr  # 1: a verdict; what matters here is the file
    assert (new / made).exists()


@pytest.mark.parametrize(("code", "exits"), [(130, "os._exit"), (0, "sys.exit"), (1, "sys.exit"), (2, "sys.exit")])
def test_the_command_exits_130_itself_when_interrupted(monkeypatch, code, exits):
    """CPython killed the process with SIGINT on its way out (a caller saw -2, not 130) after some Ctrl-Cs that
    main had caught: one in ten in the first second under load, when it landed in a dataclass being made by a
    lazy import. An interrupted command now leaves with 130 at once, its output flushed."""
    import aiterbench

    calls = []
    monkeypatch.setattr(aiterbench, "main", lambda: code)
    monkeypatch.setattr(os, "_exit", lambda c: calls.append(("os._exit", c)))
    with pytest.raises(SystemExit) as raised:  # reached here only because os._exit is stubbed for 130
        aiterbench.console()
    calls.append(("sys.exit", raised.value.code))
    assert calls[0] == (exits, code)


SELECT_ONE = ["-i", "asyncgen", "-w", "none", "-l", "asyncio"]
CHECKING = {"run": ["run", *SELECT_ONE], "ab": ["ab", *SELECT_ONE], "ab --count": ["ab", "--count", *SELECT_ONE],
            "count": ["count", *SELECT_ONE], "memory": ["memory", *SELECT_ONE],
            "profile": ["profile", "asyncgen/none/asyncio"],
            "explain": ["explain", "class_anext/none/asyncio", "asyncgen/none/asyncio"],
            "calibrate": ["calibrate", *SELECT_ONE]}


@pytest.mark.parametrize("command", CHECKING.values(), ids=CHECKING.keys())
@pytest.mark.parametrize("value", ["0", "-1", "3601"])
def test_a_check_limit_out_of_range_is_one_line_exit_2(tmp_path, capsys, command, value):
    out = tmp_path / "sub" / ("out.prof" if command[0] == "profile" else "out")
    written = [] if command[0] == "calibrate" else ["-o", str(out)]  # calibrate prints, writes nothing
    assert main([*command, "--check-timeout", value, *written]) == 2
    assert_one_error_line(capsys.readouterr().err, f"--check-timeout {value}")
    assert not list(tmp_path.iterdir())  # refused before the output's folder is made


def test_memory_and_profile_give_their_check_timeout_to_the_worker(tmp_path, monkeypatch, capsys):
    """As run, count, ab and explain do (they used the fixed 10 s)."""
    from aiterbench.orchestrate import memory, profile

    seen = {}

    def measure_cell(cell, modules, env, live, sizes, processes, check_timeout):
        seen["memory"] = check_timeout
        raise RuntimeError("not measured here")

    def run_for_json(cmd, out, timeout, env, check_timeout, verb):
        seen["profile"] = (check_timeout, cmd[cmd.index("--check-timeout") + 1])
        raise RuntimeError("not profiled here")

    monkeypatch.setattr(memory, "measure_cell", measure_cell)
    monkeypatch.setattr("aiterbench.orchestrate.children.run_for_json", run_for_json)
    assert main(["memory", *SELECT_ONE, "--check-timeout", "2.5", "-o", str(tmp_path / "m.json")]) == 1
    assert main(["profile", "asyncgen/none/asyncio", "--check-timeout", "2.5"]) == 1
    assert seen == {"memory": 2.5, "profile": (2.5, "2.5")}
    assert main(["memory", *SELECT_ONE, "-o", str(tmp_path / "m2.json")]) == 1
    from aiterbench.orchestrate.children import CHECK_TIMEOUT

    assert seen["memory"] == CHECK_TIMEOUT  # the default
