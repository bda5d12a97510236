"""count's region: callgrind counts inside functools.reduce, whatever CPython names it, and nothing else may call it."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiterbench.orchestrate import count as count_module

from .test_cli import cli
from .test_count import needs_valgrind


#: CPython's C function behind functools.reduce: a function of its own up to 3.13, Argument Clinic's wrapper
#: and impl from 3.14 on (Modules/_functoolsmodule.c and Modules/clinic/_functoolsmodule.c.h).
C_NAMES = {"3.10": "functools_reduce", "3.13": "functools_reduce",
           "3.14": "_functools_reduce", "3.15": "_functools_reduce"}


def test_the_counted_region_is_functools_reduce_by_either_name_dumped_before_and_after_once():
    cmd = count_module._valgrind("/tmp/x.%p")
    before = [a.split("=", 1)[1] for a in cmd if a.startswith("--dump-before=")]
    after = [a.split("=", 1)[1] for a in cmd if a.startswith("--dump-after=")]
    assert sorted(before) == sorted(after) == sorted(set(C_NAMES.values()))
    # Whole names, no wildcard: "_functools_reduce*" would match the impl too, and split the call in two.
    assert not any("*" in t or "?" in t or t.endswith("_impl") for t in before + after)
    # Collection stays on: callgrind counts calls with collection off too, and a region's calls would hold
    # every call since the process started.
    assert not any(a.startswith(("--toggle-collect", "--collect-atstart")) for a in cmd)


def _libpythons() -> list[str]:
    """libpython of every pyenv CPython 3.10 or later here (none where pyenv is not)."""
    root = shutil.which("pyenv") and subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    found = []
    for version in sorted(glob.glob(os.path.join(root or "/nonexistent", "versions", "3.1[0-9]*"))):
        found += glob.glob(os.path.join(version, "lib", "libpython3.*.so.1.0"))[:1]
    return found


@pytest.mark.skipif(shutil.which("nm") is None or not _libpythons(), reason="needs nm and pyenv's CPythons")
@pytest.mark.parametrize("lib", _libpythons() or [None])
def test_each_interpreter_here_has_exactly_one_of_the_counted_names(lib):
    symbols = subprocess.run(["nm", lib], capture_output=True, text=True).stdout.split("\n")
    functions = {ln.split()[-1] for ln in symbols if len(ln.split()) == 3 and ln.split()[1] in "tT"}
    assert len(functions & set(count_module.TOGGLES)) == 1, lib


CLINIC_LIKE = r"""
volatile long sink;
__attribute__((noinline)) long _functools_reduce_impl(long n) { for (long i = 0; i < n; i++) sink += i; return sink; }
__attribute__((noinline)) long _functools_reduce(long n) { long r = _functools_reduce_impl(n); sink += 1; return r; }
int main(void) { _functools_reduce(1000); _functools_reduce(3000); return 0; }
"""


@needs_valgrind
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_a_clinic_wrapper_and_its_impl_are_counted_whole_once_per_call(tmp_path):
    """3.14's layout in a small binary: the dumps catch the wrapper, not the impl it calls (no region split)."""
    source = tmp_path / "clinic.c"
    source.write_text(CLINIC_LIKE)
    binary = tmp_path / "clinic"
    subprocess.run(["cc", "-O1", "-o", str(binary), str(source)], check=True)
    outfile = str(tmp_path / "out.%p")
    proc = subprocess.run(count_module._valgrind(outfile) + [str(binary)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (pid,) = {Path(p).name.split(".")[1] for p in glob.glob(str(tmp_path / "out.*"))}
    files, (first, second) = count_module._regions(count_module._dumps(outfile.replace("%p", pid)))  # two regions
    # The impl's loop is inside: thousands of instructions, three times as many for three times the work.
    assert first > 1000 and 2.9 < second / first < 3.1


#: A counted process in small: imports, then callgrind asked to instrument, then two regions.
LATE = """
import functools, sys
from aiterbench.measure import callgrind
assert callgrind.available() is None and callgrind.running_on_valgrind()
callgrind.start_instrumentation()
for n in (1000, 3000):
    functools.reduce(lambda acc, i: acc + i * i, range(n), 0)
"""


def _regions_of(tmp_path, late: bool) -> list[int]:
    folder = tmp_path / ("late" if late else "start")
    folder.mkdir()
    # Names of one length in both runs: valgrind's argument lengths move the client's addresses.
    proc = subprocess.run(count_module._valgrind("out.%p", late) + [sys.executable, "-c", LATE], cwd=folder,
                          capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (pid,) = {p.name.split(".")[1] for p in folder.glob("out.*")}
    return count_module._regions(count_module._dumps(str(folder / f"out.{pid}")))[1]


@needs_valgrind
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the client request is written for x86-64")
def test_instrumenting_from_the_first_cell_on_counts_the_same_regions_to_the_instruction(tmp_path):
    """Start-up and imports run uninstrumented (twice as fast for a count of two cells); what a region counts
    is the program's instructions, whenever instrumentation began before it."""
    # Any bytecode the imports write is written first, without valgrind, as count's own run without valgrind
    # does: a process that writes a .pyc allocates differently from one that reads it (the first of the two
    # runs wrote aiterbench.measure.callgrind's in a session that had not imported it yet, and moved 6,088).
    subprocess.run([sys.executable, "-c", "import aiterbench.measure.callgrind"], check=True, timeout=60,
                   env={**os.environ, "PYTHONHASHSEED": "0"})
    late, start = _regions_of(tmp_path, True), _regions_of(tmp_path, False)
    assert late == start and len(late) == 2 and 2.5 < late[1] / late[0] < 3.5
    assert len(" ".join(count_module._valgrind("x", True))) == len(" ".join(count_module._valgrind("x", False)))


def test_a_32_bit_process_makes_no_client_request(monkeypatch):
    """os.uname() names the kernel: a 32-bit Python on an x86-64 kernel would run the 64-bit bytes as other
    instructions, and valgrind would never start instrumenting."""
    import ctypes

    from aiterbench.measure import callgrind

    real = ctypes.sizeof
    monkeypatch.setattr(callgrind, "_request", None)
    monkeypatch.setattr(ctypes, "sizeof", lambda t: 4 if t is ctypes.c_void_p else real(t))
    assert "32-bit" in callgrind.available()


def test_the_client_request_is_a_no_op_on_a_real_cpu():
    from aiterbench.measure import callgrind

    if os.uname().machine == "x86_64":
        assert callgrind.available() is None and not callgrind.running_on_valgrind()
        callgrind.start_instrumentation()  # nothing happens
    else:
        assert callgrind.available()  # a reason: count instruments from start-up there


LATE_AND_PER_ITEM = """
import asyncio
import functools


async def per_item(n):  # the warm-up's drain calls it outside the counted calls: dumps of its own
    for i in range(n):
        yield functools.reduce(max, [i], 0)


async def late(n):  # a library's callback, run after the count, in the source's teardown
    for i in range(n):
        yield i
    loop = asyncio.get_running_loop()
    loop.call_soon(loop.call_soon, functools.reduce, max, [0], None)


IMPLS = {"per_item": {"family": "asyncgen", "workloads": {"none": per_item}},
         "late": {"family": "asyncgen", "workloads": {"none": late}}}
"""


@needs_valgrind
def test_an_impl_that_calls_functools_reduce_fails_its_cell_instead_of_giving_a_number(tmp_path):
    plugin = tmp_path / "reducing.py"
    plugin.write_text(LATE_AND_PER_ITEM)
    out = tmp_path / "c.json"
    proc = cli("count", "--impl-module", str(plugin), "-i", "per_item,late,sync_iter", "-w", "none", "-l", "asyncio",
               "--sizes", "10,30", "-o", str(out))
    assert proc.returncode == 1, proc.stderr  # a failed cell
    assert "Traceback" not in proc.stderr
    failed = {ln.split(":", 1)[0][len("FAILED "):]: ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED ")}
    assert set(failed) == {"per_item/none/asyncio", "late/none/asyncio"}, proc.stderr
    for line in failed.values():
        assert "counted regions, expected 2: something else in the process calls functools.reduce" in line, line
    cells = json.loads(cli("show", str(out), "--format", "json").stdout)["cells"]
    assert [c["cell"] for c in cells] == ["sync_iter/none/asyncio"]  # the others are counted and kept


def _pyenv_pythons(since: tuple[int, int]) -> list[str]:
    """pyenv's CPythons from ``since`` on, here (3.14 and later name the counted function ``_functools_reduce``)."""
    root = shutil.which("pyenv") and subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    found = []
    for python in sorted(glob.glob(os.path.join(root or "/nonexistent", "versions", "3.*", "bin", "python3"))):
        version = Path(python).parent.parent.name.split(".")
        if version[1].isdigit() and (int(version[0]), int(version[1])) >= since and version[2].isdigit():
            found.append(python)
    return found


@needs_valgrind
@pytest.mark.skipif(not _pyenv_pythons((3, 13)), reason="needs pyenv's CPython 3.13 or later")
@pytest.mark.parametrize("python", _pyenv_pythons((3, 13)) or [None])
def test_a_count_on_another_cpython_counts_inside_the_iteration(python, tmp_path):
    # That interpreter has no pyperf of its own: this one's (pure Python) is lent to its workers.
    import pyperf

    lent = tmp_path / "lent"
    lent.mkdir()
    (lent / "pyperf").symlink_to(Path(pyperf.__file__).parent)
    proc = cli("ab", "--count", "--base-python", python, "--new-python", python, "--inherit-environ", "PYTHONPATH",
               "-i", "sync_iter", "-w", "none", "-l", "asyncio", "--sizes", "10,30", "--format", "json",
               "-o", str(tmp_path / "ab"), extra_env={"PYTHONPATH": str(lent)})
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads(proc.stdout)["cells"]
    assert cell["verdict"] == "unchanged" and cell["ratio"]["value"] == 1.0
    assert cell["base_instructions_per_item"]["value"] > 20  # the iteration's instructions, not nothing
