"""The README's examples run as written; CI runs the README's own test line."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import impls
from bench._timing import check_equivalence

from .conftest import AVAILABLE_LOOPS, on_loop
from .test_cli import ROOT, TINY, cli

README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SH_LINES = [line for block in re.findall(r"```sh\n(.*?)```", README, re.S) for line in block.splitlines()]


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_tutorial_pair_runs_and_agrees():
    assert "class AsyncIterator" in PYTHON_BLOCKS[0] and "async def async_generator" in PYTHON_BLOCKS[0]
    assert run_python(PYTHON_BLOCKS[0]) == "[0, 1, 2]\n[0, 1, 2]\n"


def test_the_python_api_example_runs():
    block = next(b for b in PYTHON_BLOCKS if "impls.open" in b)
    out = run_python(block).splitlines()
    assert out[0] == "[0, 1, 2]"


@pytest.fixture
def plugin(tmp_path) -> Path:
    block = next(b for b in PYTHON_BLOCKS if "IMPLS = {" in b)
    path = tmp_path / "my_impls.py"
    path.write_text(block)
    return path


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_the_plugin_example_is_equivalent_on_every_loop(plugin, loop):
    reg = impls.registry().extended([str(plugin)])
    for impl in ("my_list_iter", "my_queue_gen"):
        for workload in reg.get(impl).workloads:
            on_loop(loop, check_equivalence, reg, impl, workload, [16, 256])


def test_the_plugin_command_runs(plugin):
    (line,) = [ln for ln in SH_LINES if "--impl-module my_impls.py" in ln]
    argv = shlex.split(line)
    assert argv[:2] == [".venv/bin/aiterbench", "run"]
    argv = [a for a in argv[1:] if a != "--quick"] + TINY + ["-l", "asyncio", "-o", "out.json"]
    proc = cli(*argv, cwd=plugin.parent)
    assert proc.returncode == 0, proc.stderr
    assert "my_list_iter/sleep0/asyncio" in proc.stdout and "my_queue_gen/queue/asyncio" in proc.stdout


def test_ci_runs_the_readmes_test_line():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in SH_LINES
    assert "pytest" in ci
