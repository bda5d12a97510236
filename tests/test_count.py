"""count: instruction counts under valgrind are deterministic; without valgrind, exit 2 saying how to get it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aiterbench import main

from .test_cli import assert_one_error_line, cli

#: One worker builds this module's shared fixture once (pytest-xdist --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_count")

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


def tempfile_root() -> str:
    import tempfile

    return tempfile.gettempdir()


@needs_valgrind
def test_ctrl_c_keeps_the_cells_counted_and_leaves_no_valgrind(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "c.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiterbench", "count", "-i", "asyncgen,class_anext,class_awaitable", "-w", "none,sleep0",
         "-l", "asyncio", "--sizes", "100,300", "-o", str(out)],
        env=dict(os.environ, CI="true"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # the first cell is counted: interrupt the others
        seen.append(line)
        if line.startswith("count:"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    err = "".join(seen) + stderr
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "wrote the cells finished so far" in err
    counted = json.loads(cli("show", str(out), "--format", "json").stdout)["cells"]
    assert 1 <= len(counted) < 6
    # Killed with their group: gone within moments (a SIGKILLed valgrind may take a little while to exit).
    import time

    pattern = f"callgrind-out-file={tempfile_root()}"
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
        proc = cli("count", "--impl-module", str(planted / name / "planted_impls.py"), "-i", "planted", "-w", "none",
                   "-l", "asyncio", "--sizes", "100,300", "-o", str(files[name]))
        assert proc.returncode == 0, proc.stderr
    for name, at_least in (("plus3", 1.02), ("plus10", 1.05)):
        proc = cli("compare", str(files["base"]), str(files[name]), "--format", "json")
        assert proc.returncode == 1, proc.stderr  # a regression is exit 1
        (cell,) = json.loads(proc.stdout)["cells"]
        assert cell["verdict"] == "regression" and cell["ratio"]["value"] >= at_least, cell
