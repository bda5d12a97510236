"""Ctrl-C in the middle of a group: every cell its process counted before is kept, by count and by ab --count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import communicate_or_kill
from .test_cli import cli
from .test_count import needs_valgrind


#: Two quick cells and one that, once counting under valgrind (its worker has --no-check), says so in a file
#: of its own and then waits to be killed: by then the quick ones before it in its group are counted.
PLUGIN = """
import os
import sys
import time

ANNOUNCE = {announce!r}


async def quick(n):
    for i in range(n):
        yield i


async def stays(n):
    if "--no-check" in sys.argv:  # the counting process (the check before it runs without)
        path = os.path.join(ANNOUNCE, str(os.getpid()))
        with open(path + ".tmp", "w") as f:
            f.write("counting")
        os.replace(path + ".tmp", path)
        time.sleep(3600)
    for i in range(n):
        yield i


IMPLS = {{"a_quick": {{"family": "asyncgen", "workloads": {{"none": quick}}}},
         "b_quick": {{"family": "asyncgen", "workloads": {{"none": quick}}}},
         "c_stays": {{"family": "asyncgen", "workloads": {{"none": stays}}}}}}
"""


def _interrupt_when_counting(argv, tmp_path: Path, announcements: int) -> tuple[subprocess.CompletedProcess, str]:
    """Run the CLI, and Ctrl-C it once ``announcements`` counting processes have reached c_stays."""
    announce = tmp_path / "announce"
    announce.mkdir()
    plugin = tmp_path / "staying.py"
    plugin.write_text(PLUGIN.format(announce=str(announce)))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiterbench", *argv[:1], "--impl-module", str(plugin), "-i", "a_quick,b_quick,c_stays",
         "-w", "none", "-l", "asyncio", "--sizes", "10,30", *argv[1:]],
        env=dict(os.environ, CI="true", TMPDIR=str(tmp)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while (len([p for p in announce.iterdir() if not p.name.endswith(".tmp")]) < announcements
               and proc.poll() is None and time.monotonic() < deadline):
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = communicate_or_kill(proc, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), stderr


@needs_valgrind
def test_ctrl_c_inside_a_group_keeps_the_cells_it_counted(tmp_path):
    # Three cells on one loop: two processes, a_quick alone and b_quick then c_stays.
    out = tmp_path / "c.json"
    proc, err = _interrupt_when_counting(["count", "-o", str(out)], tmp_path, 1)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "wrote the cells finished so far" in err
    assert "FAILED" not in err  # the cell Ctrl-C stopped is not counted, and not a failure either
    cells = {c["cell"]: c for c in json.loads(cli("show", str(out), "--format", "json").stdout)["cells"]}
    assert "b_quick/none/asyncio" in cells and "c_stays/none/asyncio" not in cells, cells
    assert cells["b_quick/none/asyncio"]["instructions_per_item"] > 100


@needs_valgrind
def test_ctrl_c_inside_both_sides_groups_keeps_what_ab_count_counted_on_both(tmp_path):
    # One process per side, each a_quick, b_quick, then c_stays: both reach c_stays, then Ctrl-C.
    proc, err = _interrupt_when_counting(["ab", "--count", "--format", "json", "-o", str(tmp_path / "ab")],
                                         tmp_path, 2)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "FAILED" not in err
    judged = {c["cell"]: c for c in json.loads(proc.stdout)["cells"]}
    assert set(judged) == {"a_quick/none/asyncio", "b_quick/none/asyncio"}, err
    assert all(c["verdict"] == "unchanged" and c["ratio"]["value"] == 1.0 for c in judged.values())
    for path in (tmp_path / "ab-base.json", tmp_path / "ab-new.json"):
        kept = {c["cell"] for c in json.loads(cli("show", str(path), "--format", "json").stdout)["cells"]}
        assert kept == set(judged), path
