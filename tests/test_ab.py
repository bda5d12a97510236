"""ab end to end with a tiny budget: shapes, files and exit codes, never the timing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiterbench import main
from aiterbench.analysis import load_results

from .test_cli import ROOT, assert_one_error_line, cli


TINY_AB = ["--quick", "--rounds", "6", "--values", "1", "--min-time", "0.002", "--sizes", "8,64", "--seconds", "0"]
PLANTED = ROOT / "tests" / "planted"


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory) -> tuple[Path, Path]:
    """Two source trees with the suite's impls: the A/A case of a library's CI."""
    root = tmp_path_factory.mktemp("copies")
    out = []
    for name in ("a", "b"):
        shutil.copytree(ROOT / "impls", root / name / "impls", ignore=shutil.ignore_patterns("__pycache__"))
        out.append(root / name)
    return out[0], out[1]


def test_ab_a_a_end_to_end(two_copies, tmp_path):
    a, b = two_copies
    prefix = tmp_path / "aa"
    proc = cli("ab", "--base-path", str(a), "--new-path", str(b), "-i", "asyncgen,class_anext", "-w", "none",
               "-l", "asyncio", "-o", str(prefix), "--format", "json", *TINY_AB)
    assert proc.returncode in (0, 1), proc.stderr  # the verdict is the machine's; the shape is ours
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert {c["cell"] for c in data["cells"]} == {"asyncgen/none/asyncio", "class_anext/none/asyncio"}
    assert all(c["paired"] and c["verdict"] in ("regression", "improvement", "unchanged", "inconclusive")
               for c in data["cells"])
    assert proc.returncode == (1 if data["regressed"] else 0)
    # A tiny job's few pairs may hold no exact interval at a look's share of the job's 5%: then none is shown.
    assert all(c["ratio"]["low"] is None or c["ratio"]["low"] <= c["ratio"]["value"] <= c["ratio"]["high"]
               for c in data["cells"])
    base, new = Path(f"{prefix}-base.json"), Path(f"{prefix}-new.json")
    for path, side in ((base, "base"), (new, "new")):
        meta = json.loads(path.read_text())
        sides = {b.get("metadata", {}).get("aiterbench_side") for b in meta["benchmarks"]} | {
            meta["metadata"].get("aiterbench_side")}
        assert side in sides
    # compare re-judges the written files the same way: they pair by round
    again = cli("compare", str(base), str(new), "--format", "json")
    assert again.returncode == proc.returncode
    assert [(c["cell"], c["verdict"]) for c in json.loads(again.stdout)["cells"]] == [
        (c["cell"], c["verdict"]) for c in data["cells"]]
    # sequential: each cell ends at a look that decides it or at the budget, sides balanced (the files hold an
    # even number of processes of each cell on each side), and says where and when. The verdict counts the
    # processes whose per-item slope is positive: at this job's tiny sizes a loaded host can give one a slope
    # <= 0 (a fresh clone's run here had 6 and 5), which no log ratio can take.
    assert data["sequential"] == __import__("aiterbench.stats.sequential", fromlist=["DESIGN"]).DESIGN
    (base_set,), (new_set,) = load_results([str(base)]), load_results([str(new)])
    for c in data["cells"]:
        processes = {len(next(d for k, d in s.cells.items() if k.name == c["cell"]).per_round)
                     for s in (base_set, new_set)}
        (n,) = processes
        assert n % 2 == 0 and c["pairs"] <= min(c["base_processes"], c["new_processes"]) <= max(
            c["base_processes"], c["new_processes"]) <= n, (n, c)
        assert c["look"] != 0 or c["pairs"] + c["pairs_dropped"] == n, (n, c)  # every round, used or said
        assert c["look"] == 0 or c["pairs"] in (8, 12, 16, 24, 32, 48, 64)
        assert 0 < c["confidence"] < 1 and c["seconds_to_verdict"] > 0


def test_ab_markdown_for_a_job_summary(tmp_path):
    proc = cli("ab", "--base-path", str(PLANTED / "base"), "--new-path", str(PLANTED / "plus10"),
               "--impl-module", "planted_impls", "-i", "planted", "-w", "none", "-l", "asyncio",
               "-o", str(tmp_path / "p"), "--format", "md", *TINY_AB)
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stdout.startswith("### aiterbench: ")
    assert "| `planted/none/asyncio` |" in proc.stdout
    assert "paired by round" in proc.stdout


FAILING_NEW = '''
import sys


async def steady(n):
    for i in range(n):
        yield i

async def planted(n):
    if "--round" in sys.argv:  # passes its check, fails once measuring starts
        raise RuntimeError("the new side broke")
    for i in range(n):
        yield i

IMPLS = {"steady": {"family": "asyncgen", "workloads": {"none": steady}},
         "planted": {"family": "asyncgen", "workloads": {"none": planted}}}
'''
STEADY_BASE = FAILING_NEW.replace('raise RuntimeError("the new side broke")', "pass")


def test_a_side_whose_worker_fails_is_reported_and_the_others_compared(tmp_path):
    for name, text in (("base", STEADY_BASE), ("new", FAILING_NEW)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "side_impls.py").write_text(text)
    proc = cli("ab", "--base-path", str(tmp_path / "base"), "--new-path", str(tmp_path / "new"),
               "--impl-module", "side_impls", "-i", "steady,planted", "-w", "none", "-l", "asyncio",
               "-o", str(tmp_path / "f"), *TINY_AB)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED planted/none/asyncio (new side): RuntimeError: the new side broke" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "steady/none/asyncio" in proc.stdout and "FAILED on new: planted/none/asyncio" in proc.stdout


@pytest.fixture
def not_python(tmp_path) -> Path:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def python_without_pyperf(tmp_path) -> Path:
    script = tmp_path / "bare-python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")  # no site-packages: no pyperf
    script.chmod(0o755)
    return script


BAD = {
    "missing interpreter": (["--new-python", "/nonexistent/python3"], ["--new-python", "no such interpreter"]),
    "not a python": (["--base-python", "{not_python}"], ["--base-python", "not a Python"]),
    "no pyperf there": (["--new-python", "{bare}"], ["pyperf is not installed there"]),
    "missing folder": (["--base-path", "/nonexistent/src"], ["--base-path", "no such folder"]),
    "plug-in only on one side": (["--base-path", str(PLANTED / "base"), "--impl-module", "planted_impls"],
                                 ["new side", "planted_impls", "import failed"]),
    "bad threshold": (["--threshold", "x%"], ["--threshold"]),
    "unknown impl": (["-i", "nope"], ["impl 'nope' matches nothing"]),
}


@pytest.mark.parametrize("argv, needles", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(argv, needles, tmp_path, not_python, python_without_pyperf, capsys,
                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    argv = [a.format(not_python=not_python, bare=python_without_pyperf) for a in argv]
    code = main(["ab", *argv, "-o", str(tmp_path / "x"), *TINY_AB])
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, *needles)
    assert sorted(os.listdir(tmp_path)) == before


def _ab_interrupted(tmp_path, until, *argv):
    """Start ``ab``, send SIGINT once ``until(stderr so far, elapsed seconds)`` holds, and return the finished process."""
    import threading

    env = dict(os.environ, CI="true")
    err: list = []
    with subprocess.Popen([sys.executable, "-m", "aiterbench", "ab", "-i", "asyncgen", "-w", "none", "-l", "asyncio",
                           "-o", str(tmp_path / "x"), *TINY_AB, *argv], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        reader = threading.Thread(target=lambda: err.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()
        start = time.monotonic()
        while proc.poll() is None and not until("".join(err), time.monotonic() - start):
            assert time.monotonic() - start < 120, "ab never reached the moment to interrupt"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()
        proc.wait(timeout=60)
        reader.join(timeout=10)
    return proc.returncode, out, "".join(err)


def test_ctrl_c_in_the_first_second_of_ab_is_one_line_and_130(tmp_path):
    # 0.5 s per value: each side's calibration takes over a second, so once it has begun no round has finished.
    code, _, err = _ab_interrupted(tmp_path, lambda err, t: "check+calibrate" in err, "--min-time", "0.5")
    assert code == 130, err
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if ln.startswith("aiterbench:")]) == 1
    assert not list(tmp_path.iterdir())


def test_ctrl_c_after_a_round_keeps_both_files_and_judges_them(tmp_path):
    code, out, err = _ab_interrupted(tmp_path, lambda err, t: "round 3/" in err)
    assert code == 130, err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("aiterbench:")]
    assert "interrupted after" in line and "verdicts on what was measured" in line
    assert "asyncgen/none/asyncio" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-base.json", "x-new.json"]
    assert main(["compare", str(tmp_path / "x-base.json"), str(tmp_path / "x-new.json")]) in (0, 1)


@pytest.mark.parametrize("budget", ["0", "-5", "nan", "inf"])
def test_calibrate_refuses_a_budget_that_is_not_a_duration(budget, capsys):
    assert main(["calibrate", "--budget", budget]) == 2
    assert_one_error_line(capsys.readouterr().err, "--budget")


def test_each_side_runs_the_impls_of_its_own_checkout(tmp_path):
    """A checkout's impls/ is that side's aiterbench.impls, also from before the move to one namespace."""
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        shutil.copytree(ROOT / "impls", root / "impls", ignore=shutil.ignore_patterns("__pycache__"))
    registry = old / "impls" / "_registry.py"  # as 0.2.0 named its modules: top-level ``impls.*``
    text = registry.read_text()
    assert 'BUILTIN_MODULES = (".class_anext"' in text
    registry.write_text(text.replace('BUILTIN_MODULES = (".class_anext", ".asyncgen", ".class_awaitable", ".baselines")',
                                     'BUILTIN_MODULES = ("impls.class_anext", "impls.asyncgen", "impls.class_awaitable", '
                                     '"impls.baselines")'))
    gen = new / "impls" / "asyncgen.py"
    gen.write_text(gen.read_text().replace("    for i in range(n):\n        yield i\n",
                                           "    for i in range(n):\n        if i != 2:\n            yield i\n", 1))
    proc = cli("ab", "--base-path", str(old), "--new-path", str(new), "-i", "asyncgen,class_anext", "-w", "none",
               "-l", "asyncio", "-o", str(tmp_path / "ab"), "--format", "json", *TINY_AB)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "FAILED asyncgen/none/asyncio (new side): refused before timing" in proc.stderr
    assert "item 2 is 3, expected 2" in proc.stderr
    assert "(base side)" not in proc.stderr
    assert [c["cell"] for c in json.loads(proc.stdout)["cells"]] == ["class_anext/none/asyncio"]


def test_a_side_from_before_plug_in_workloads_measures_its_shared_and_per_drain_sources(tmp_path):
    """tests/data/checkout-before-plugin-workloads: impls/ as of 09f59ec, before workload records (sources only):
    its ``none`` (one value for every drain) and ``queue`` (a source per drain) are measured from the sources it
    has."""
    old = tmp_path / "old"
    shutil.copytree(Path(__file__).resolve().parent / "data" / "checkout-before-plugin-workloads", old)
    proc = cli("ab", "--base-path", str(old), "--new-path", str(ROOT), "-i", "asyncgen", "-w", "none,queue",
               "-l", "asyncio", "-o", str(tmp_path / "ab"), "--format", "json", *TINY_AB)
    assert proc.returncode in (0, 1), proc.stderr  # the verdict is the machine's
    assert "Traceback" not in proc.stderr and "FAILED" not in proc.stderr, proc.stderr
    assert sorted(c["cell"] for c in json.loads(proc.stdout)["cells"]) == ["asyncgen/none/asyncio",
                                                                          "asyncgen/queue/asyncio"]


def test_a_library_checkout_with_its_own_impls_package_keeps_it(tmp_path):
    """A side folder whose ``impls`` is the library's own (not this suite's) stays the library's."""
    for side in ("base", "new"):
        lib = tmp_path / side
        (lib / "impls").mkdir(parents=True)
        (lib / "impls" / "__init__.py").write_text("async def mine(n):\n    for i in range(n):\n        yield i\n")
        (lib / "lib_bench.py").write_text("import impls\n\nIMPLS = {'mine': {'family': 'asyncgen', "
                                          "'workloads': {'none': impls.mine}}}\n")
    proc = cli("ab", "--base-path", str(tmp_path / "base"), "--new-path", str(tmp_path / "new"),
               "--impl-module", "lib_bench", "-i", "mine", "-w", "none", "-l", "asyncio", "-o", str(tmp_path / "ab"),
               "--format", "json", *TINY_AB)
    assert proc.returncode in (0, 1), proc.stderr
    assert [c["cell"] for c in json.loads(proc.stdout)["cells"]] == ["mine/none/asyncio"]


def test_decided_cells_get_no_more_rounds_and_a_group_stops_when_empty():
    """run_matrix's settle: a cell named decided drops out after that round; the run ends when none is left,
    long before its budget; each group and side was checked and calibrated by one process."""
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.rounds import Budget, Side, run_matrix

    first, second = Cell("asyncgen", "none", "asyncio"), Cell("class_anext", "none", "asyncio")
    budget = Budget(sizes=(8, 64), rounds=40, values=1, warmups=0, min_time=0.002, cell_timeout=60.0, seconds=600)
    asked, steps = [], []

    def settle(benchmarks, live):
        asked.append(list(live))
        return [first] if len(asked) == 1 else [second]

    outcome = run_matrix([first, second], budget, sides=(Side("base"), Side("new")), settle=settle,
                         on_step=lambda what, cell: steps.append(what))
    assert not outcome.failures and not outcome.interrupted
    assert outcome.settled == {first: 2, second: 4} and outcome.rounds_done == 4
    assert asked == [[first, second], [second]]
    assert steps.count("check+calibrate") == 2  # one process per group and side
    for k in range(2):
        runs = {name: sum(1 for r in b.get_runs() if r.values) for name, b in outcome.benchmarks[k].items()}
        assert runs == {first.bench_name(8): 2, first.bench_name(64): 2, second.bench_name(8): 4,
                        second.bench_name(64): 4}


def test_sequential_rounds_take_one_process_per_loop_sizes_and_side():
    """ab's pairs are per cell across the sides: cells of one loop and sizes share a worker, whatever the
    workload (a start-up saved per side and round); cells on another loop or other sizes get their own."""
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate import rounds
    from aiterbench.orchestrate.rounds import AB_QUICK, Budget, planned_rounds, steps

    cells = [Cell("asyncgen", "none", "asyncio"), Cell("asyncgen", "sleep0", "asyncio"),
             Cell("asyncgen", "none", "uvloop"), Cell("asyncgen", "queue", "asyncio")]
    groups = rounds._process_groups(cells, AB_QUICK)
    assert groups == [cells[:2], [cells[2]], [cells[3]]]
    assert [len(g) for g in rounds._groups(cells)] == [1, 1, 1, 1]  # run's groups: per workload and loop
    budget = Budget(sizes=(8, 64), rounds=4, values=1, warmups=0, min_time=0.002, cell_timeout=60.0)
    processes = len(rounds._process_groups(cells, budget))  # queue shares none's sizes here: 2 processes
    assert processes == 2
    assert steps(cells, budget, 2, sequential=True) == 2 * processes * (1 + planned_rounds(cells, budget, 2,
                                                                                           sequential=True))
