"""count: instruction counts under valgrind are deterministic; without valgrind, exit 2 saying how to get it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aiterbench import main

from .conftest import communicate_or_kill
from .test_cli import assert_one_error_line, cli


DATA = Path(__file__).resolve().parent / "data"
needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="needs valgrind (apt-get install valgrind; .ci/run installs it)")


@pytest.fixture(scope="session")  # once per test process, even when xdist interleaves other modules' tests
def counted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("count")
    out = []
    for name in ("one", "two"):
        path = folder / f"{name}.json"
        proc = cli("count", "-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "--sizes", "100,300",
                   "-o", str(path))
        assert proc.returncode == 0, proc.stderr
        out.append((path, proc))
    return out


@needs_valgrind
def test_repeats_give_identical_counts(counted):
    (one, p1), (two, p2) = counted
    rows = [line for line in p1.stdout.splitlines() if "/none/asyncio" in line]
    assert len(rows) == 2 and rows == [line for line in p2.stdout.splitlines() if "/none/asyncio" in line]
    a, b = (json.loads(cli("show", str(p), "--format", "json").stdout) for p in (one, two))
    assert a == b
    per_item = {c["cell"]: c["instructions_per_item"] for c in a["cells"]}
    assert all(v > 100 for v in per_item.values())  # hundreds of instructions per item, not the fixed cost


@needs_valgrind
def test_count_files_are_pyperf_files_and_compare_judges_them_exactly(counted):
    (one, _), (two, _) = counted
    proc = cli("compare", str(one), str(two), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "count" and data["threshold"] == 0.01
    assert all(c["verdict"] == "unchanged" and c["ratio"]["value"] == 1.0 for c in data["cells"])
    import subprocess
    import sys

    assert subprocess.run([sys.executable, "-m", "pyperf", "stats", str(one)], capture_output=True).returncode == 0


@needs_valgrind
def test_counts_and_timings_are_not_compared(counted, capsys):
    (one, _), _ = counted
    assert main(["compare", str(DATA / "results-py311.json"), str(one)]) == 2
    assert_one_error_line(capsys.readouterr().err, "instruction counts")


def test_without_valgrind_count_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "valgrind" else real(name, *a, **k))
    assert main(["count", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "-o", str(tmp_path / "c.json")]) == 2
    assert_one_error_line(capsys.readouterr().err, "apt-get install valgrind")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("sizes", ["5", "7,7", "a,b", "0,10"])
def test_bad_sizes_are_exit_2(sizes, tmp_path, capsys):
    assert main(["count", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "--sizes", sizes,
                 "-o", str(tmp_path / "c.json")]) == 2
    assert_one_error_line(capsys.readouterr().err, "--sizes")
    assert not list(tmp_path.iterdir())


@needs_valgrind
def test_ctrl_c_keeps_the_cells_counted_and_leaves_no_valgrind(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "c.json"
    # A temporary folder of this test's own: its valgrind processes are told apart from those of a test
    # that counts at the same time in another xdist worker (a shared pattern once matched theirs).
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiterbench", "count", "-i", "asyncgen,class_anext,class_awaitable", "-w", "none,sleep0",
         "-l", "asyncio", "--sizes", "100,300", "-o", str(out)],
        env=dict(os.environ, CI="true", TMPDIR=str(tmp)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # the first cell is counted: interrupt the others
        seen.append(line)
        if line.startswith("count:"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = communicate_or_kill(proc, 60)
    err = "".join(seen) + stderr
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "wrote the cells finished so far" in err
    counted = json.loads(cli("show", str(out), "--format", "json").stdout)["cells"]
    # Every cell reported before Ctrl-C is kept, its process killed or not (all six when the second group's
    # cells had all reported while valgrind was still ending): tests/test_count_interrupt.py stops one mid-group.
    assert 1 <= len(counted) <= 6
    # Killed with their group: gone within moments (a SIGKILLed valgrind may take a little while to exit).
    import time

    pattern = f"callgrind-out-file={tmp}"
    for _ in range(50):
        leftover = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        if not leftover:
            break
        time.sleep(0.1)
    ps = subprocess.run(["ps", "-o", "pid,ppid,stat,etime,args", "-p", ",".join(leftover) or "0"],
                        capture_output=True, text=True).stdout
    assert not leftover, ps


@needs_valgrind
def test_counts_catch_both_planted_regressions_every_time(tmp_path):
    """Timings can only be asserted loosely; instruction counts are exact, so the plants must be caught."""
    planted = Path(__file__).resolve().parent / "planted"
    files = {}
    for name in ("base", "plus3", "plus10"):
        files[name] = tmp_path / f"{name}.json"
        where = {"cwd": None, "extra_env": None}
        module = str(planted / name / "planted_impls.py")
        if name == "base":  # found on a relative PYTHONPATH, as a project's plug-in often is: counted elsewhere
            where, module = {"cwd": str(planted / name), "extra_env": {"PYTHONPATH": "."}}, "planted_impls"
        proc = cli("count", "--impl-module", module, "-i", "planted", "-w", "none",
                   "-l", "asyncio", "--sizes", "100,300", "-o", str(files[name]), **where)
        assert proc.returncode == 0, proc.stderr
    for name, at_least in (("plus3", 1.02), ("plus10", 1.05)):
        proc = cli("compare", str(files["base"]), str(files[name]), "--format", "json")
        assert proc.returncode == 1, proc.stderr  # a regression is exit 1
        (cell,) = json.loads(proc.stdout)["cells"]
        assert cell["verdict"] == "regression" and cell["ratio"]["value"] >= at_least, cell


def _plant_in_every_async_anext(folder: Path) -> int:
    """One statement more per item in every ``async def __anext__`` of ``folder``'s impls; returns how many."""
    import re

    planted = 0
    for path in (folder / "impls").glob("*.py"):
        text = path.read_text()
        new, k = re.subn(r"(\n(\s+)async def __anext__\(self\):\n)", r"\1\2    _planted = None  # one more statement\n",
                         text)
        if k:
            path.write_text(new)
            planted += k
    return planted


@pytest.fixture(scope="module")
def ab_counted(tmp_path_factory):
    """ab --count, A/A on this checkout, and against a copy whose async __anext__ do one more statement."""
    root = tmp_path_factory.mktemp("abcount")
    for name in ("base", "planted"):
        shutil.copytree(DATA.parent.parent / "impls", root / name / "impls",
                        ignore=shutil.ignore_patterns("__pycache__"))
    assert _plant_in_every_async_anext(root / "planted") >= 4
    select = ["-i", "asyncgen,class_anext,class_awaitable,sync_iter", "-w", "none,sleep0", "-l", "asyncio",
              "--sizes", "100,300", "--format", "json"]
    runs = {}
    # A/A with an explicit threshold (ab's own --threshold in count mode: exact counts are unchanged at any).
    for name, sides in (("aa", ["--threshold", "0.05%"]),
                        ("plant", ["--base-path", str(root / "base"), "--new-path", str(root / "planted")])):
        runs[name] = cli("ab", "--count", *sides, *select, "-o", str(root / name))
    # A finer threshold judges the same counts again, from the files ab wrote: no second count.
    runs["plant-fine"] = cli("compare", str(root / "plant-base.json"), str(root / "plant-new.json"), "--threshold",
                             "0.05%", "--format", "json")
    runs["plant-fine-text"] = cli("compare", str(root / "plant-base.json"), str(root / "plant-new.json"),
                                  "--threshold", "0.05%")
    return runs


@needs_valgrind
def test_ab_count_a_a_is_exactly_one_everywhere(ab_counted):
    proc = ab_counted["aa"]
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "count" and doc["threshold"] == 0.0005 and len(doc["cells"]) == 7
    assert all(c["verdict"] == "unchanged" and c["ratio"]["value"] == 1.0 for c in doc["cells"])


@needs_valgrind
def test_ab_count_sees_exactly_what_a_plant_changed(ab_counted):
    """The plant's cell does more instructions per item; every cell without it the same (within a tenth of one)
    where nothing but the item is in the item, within the layout's reach where the loop schedules each item."""
    proc = ab_counted["plant"]
    assert proc.returncode == 1, proc.stderr  # a regression
    assert json.loads(proc.stdout)["threshold"] == 0.01  # counts' default threshold
    cells = {c["cell"]: c for c in json.loads(proc.stdout)["cells"]}
    # The planted side's impls are other code, allocated and aligned a little differently. Where an item is only
    # the iteration (none), that moves a cell by fractions of an instruction (sync_iter/none by 0.16 of 80 in a
    # layout of the harness since changed, asyncgen/none by 0.15 of 949 in a fresh clone): held to half of one,
    # a 66th of the plant. The sleep0 cells go through the event loop's scheduling at every item, which the
    # layout moves by whole instructions: the planted copy moved asyncgen/sleep0 by 34 of
    # 21,342 per item (0.16%), a longer environment by 22, and a fresh clone's run by 67 of 21,313 (0.31%). One
    # statement more per item is +33 there, so in a sleep0 cell the plant is not told from layout: the verdict at
    # the default 1% is what must hold, and the layout's reach is held to half of that.
    LAYOUT = {"abs": 0.1, "rel": 5e-3}

    def moved(c) -> float:
        return c["new_instructions_per_item"]["value"] - c["base_instructions_per_item"]["value"]

    plant = moved(cells["class_anext/none/asyncio"])  # the statement's cost on this interpreter (33 on 3.11)
    assert plant > 10
    for name, c in cells.items():
        base, new = c["base_instructions_per_item"]["value"], c["new_instructions_per_item"]["value"]
        if name == "class_anext/none/asyncio":
            continue
        elif name.startswith("class_anext/"):  # the same statement, give or take the layout's reach
            assert new - base == pytest.approx(plant, abs=LAYOUT["rel"] * base), (name, base, new, plant)
        elif "/none/" in name:
            assert new == pytest.approx(base, abs=0.5) and c["verdict"] == "unchanged", (name, base, new)
        else:
            assert new == pytest.approx(base, **LAYOUT) and c["verdict"] == "unchanged", (name, base, new)
    assert cells["class_anext/none/asyncio"]["verdict"] == "regression"  # +2% at the 1% default threshold
    # At 0.05% the planted none cell is caught. Another cell it flags can only be layout, within the reach above:
    # 0.05% of sync_iter/none is 0.04 instructions per item, and a fresh clone elsewhere flagged it (its sides
    # differ in the planted module's code, so in layout).
    fine = {c["cell"]: c for c in json.loads(ab_counted["plant-fine"].stdout)["cells"]}
    flagged = {n for n, c in fine.items() if c["verdict"] == "regression"}
    assert "class_anext/none/asyncio" in flagged
    for name in flagged - {n for n in fine if n.startswith("class_anext/")}:
        c = fine[name]
        assert c["new_instructions_per_item"]["value"] == pytest.approx(c["base_instructions_per_item"]["value"],
                                                                         **LAYOUT), c
    # The text says the threshold it judged at (it printed 0.05% as "0.1%").
    assert "threshold 0.05%, instruction counts (exact)" in ab_counted["plant-fine-text"].stdout


def test_ab_count_refuses_bad_sizes(capsys):
    assert main(["ab", "--count", "--sizes", "100,100,300"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--sizes")


def test_a_loop_s_cells_are_split_across_two_processes_only_when_each_keeps_two():
    """valgrind's start-up is paid per process: two or three cells share one, four run as two pairs at once, and
    two sides (or two loops) are already two processes."""
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.count import groups

    def cells(impls, loops=("asyncio",)):
        return [Cell(impl, "none", loop) for loop in loops for impl in impls]

    def sizes(gs):
        return sorted(len(g.cells) for g in gs)

    assert sizes(groups(cells(["asyncgen"]))) == [1]
    assert sizes(groups(cells(["asyncgen", "class_anext"]))) == [2]
    assert sizes(groups(cells(["asyncgen", "class_anext", "sync_iter"]))) == [3]
    assert sizes(groups(cells(["asyncgen", "class_anext", "sync_iter", "class_awaitable"]))) == [2, 2]
    assert sizes(groups(cells(["asyncgen", "class_anext"], ("asyncio", "uvloop")))) == [2, 2]
    assert sizes(groups(cells(["asyncgen", "class_anext", "sync_iter", "class_awaitable"]), ("base", "new"))) == [4, 4]
    every = cells(["asyncgen", "class_anext", "sync_iter", "class_awaitable", "sync_gen"])
    assert sorted(c for g in groups(every) for c in g.cells) == sorted(every)  # each cell once
