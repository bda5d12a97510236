"""memory: bytes a suspended iterator holds and allocations per item, on every impl, workload and loop."""

from __future__ import annotations

import importlib.util
import json
import sys
import tracemalloc

import pytest

from aiterbench import impls
from aiterbench import main
from aiterbench.measure.memory import _allocations, _held
from aiterbench.model.memory import from_suite
from aiterbench.model.results import load_suite

from .conftest import PAIRS, on_loop
from .test_cli import assert_one_error_line, cli


LIVE = 300  # enough to average a set's growth steps, few enough to be quick

needs_memray = pytest.mark.skipif(importlib.util.find_spec("memray") is None,
                                  reason="needs memray (pip install 'aiterbench[memory]')")


def _is_async(impl: str) -> bool:
    return impls.registry().get(impl).family != "sync"


async def _held_once(impl: str, workload: str) -> tuple[int, int, int]:
    registry = impls.registry()
    factory = registry.factory(impl, workload)
    tracemalloc.start()
    try:
        alone, _ = await _held(factory, registry.workload(workload).open, LIVE, _is_async(impl), hooks=False)
        hooked, peak = await _held(factory, registry.workload(workload).open, LIVE, _is_async(impl), hooks=True)
    finally:
        tracemalloc.stop()
    return alone, hooked, peak


@pytest.mark.parametrize("impl, workload", PAIRS)
def test_a_suspended_iterator_holds_a_positive_and_stable_number_of_bytes(impl, workload, loop_name):
    """Each on a fresh loop, as each worker process has: the loop's set of async generators starts empty."""
    (a1, h1, p1), (a2, h2, p2) = (on_loop(loop_name, _held_once, impl, workload) for _ in range(2))
    assert a1 > 0 and h1 > 0 and p1 >= h1
    per = [a1 / LIVE, a2 / LIVE, h1 / LIVE, h2 / LIVE]
    assert abs(per[0] - per[1]) <= 0.05 * per[0] + 2, per  # stable on repeat: bytes, not noise
    # With the hooks, the loop's set of async generators grows its table in steps (16 bytes a slot, 4x at a
    # time while small): where the steps fall among 300 entries moves the share per iterator by up to ~30 B.
    assert abs(per[2] - per[3]) <= 0.05 * per[2] + 32, per
    family = impls.registry().get(impl).family
    if family == "asyncgen":  # the loop's firstiter hook keeps a weak reference to every async generator
        assert per[2] > per[0] + 16, per
    elif family != "sync":
        assert abs(per[2] - per[0]) <= 0.05 * per[0] + 4, per  # hooks see no class iterator


async def _allocations_at(impl: str, workload: str, sizes, tmp_path) -> list[tuple[int, int]]:
    registry = impls.registry()
    factory = registry.factory(impl, workload)
    await _allocations(factory, registry.workload(workload).open, sizes[0], _is_async(impl), str(tmp_path / "warm.bin"))
    return [await _allocations(factory, registry.workload(workload).open, n, _is_async(impl), str(tmp_path / f"{n}.bin"))
            for n in sizes]


@pytest.fixture(scope="module")
def memray_warm(tmp_path_factory):
    """memray keeps a pipe open once it has tracked anything: open it before the loop counts descriptors."""
    import memray

    path = tmp_path_factory.mktemp("memray") / "warm.bin"
    with memray.Tracker(str(path), trace_python_allocators=True, native_traces=False):
        pass
    with memray.FileReader(str(path)) as reader:
        list(reader.get_allocation_records())


@needs_memray
@pytest.mark.parametrize("impl", [i for i, w in PAIRS if w == "none"])
def test_allocations_per_item_are_a_stable_slope(impl, tmp_path, memray_warm):
    sizes = (500, 1500)
    runs = [on_loop("asyncio", _allocations_at, impl, "none", sizes, tmp_path) for _ in range(2)]
    slopes = [((b2 - b1) / (sizes[1] - sizes[0]), (s2 - s1) / (sizes[1] - sizes[0])) for (b1, s1), (b2, s2) in runs]
    assert all(b >= 0 and s >= 0 for b, s in slopes), slopes
    assert abs(slopes[0][0] - slopes[1][0]) <= 0.05, slopes  # blocks per item: the same on repeat
    if impl == "class_anext":  # every __anext__ call makes a coroutine object
        assert slopes[0][0] >= 1 - 0.01, slopes


def test_the_command_writes_a_pyperf_file_that_show_and_pyperf_read(tmp_path):
    out = tmp_path / "m.json"
    proc = cli("memory", "-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "--live", "500", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "asyncgen/none/asyncio" in proc.stdout and "held B" in proc.stdout
    ((_, memories),) = from_suite(load_suite(str(out)))
    by_cell = {m.cell.name: m for m in memories}
    assert set(by_cell) == {"asyncgen/none/asyncio", "class_anext/none/asyncio"}
    for m in memories:
        assert len(m.held) == 2 and min(m.held) > 0 and m.live == 500
    assert by_cell["asyncgen/none/asyncio"].hooks_cost > 0
    doc = json.loads(cli("show", str(out), "--format", "json").stdout)
    assert doc["kind"] == "memory" and {c["cell"] for c in doc["cells"]} == set(by_cell)
    stats = cli_pyperf("stats", str(out))
    assert stats.returncode == 0, stats.stderr
    # Memory figures are not timings: compare refuses them in one line.
    code = main(["compare", str(out), str(out)])
    assert code == 2


def cli_pyperf(*args):
    import subprocess

    return subprocess.run([sys.executable, "-m", "pyperf", *args], capture_output=True, text=True, timeout=60)


BAD = {
    "unknown impl": (["-i", "nope"], ["impl 'nope' matches nothing", "choices:"]),
    "no match": (["-i", "asyncgen", "-w", "queue", "-l", "asyncio", "--live", "0"], ["--live 0"]),
    "output is a folder": (["-i", "asyncgen", "-w", "none", "-l", "asyncio", "-o", "{tmp}"], ["is a directory"]),
    "output exists": (["-i", "asyncgen", "-w", "none", "-l", "asyncio", "-o", "{tmp}/exists.json"], ["--force"]),
    "unknown loop": (["-l", "tokio"], ["loop 'tokio' matches nothing"]),
}


@pytest.mark.parametrize("argv, needles", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(argv, needles, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.json").write_text("{}")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["memory", *[a.format(tmp=tmp_path) for a in argv]])
    assert code == 2
    assert_one_error_line(capsys.readouterr().err, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


CORRUPTS_ITS_FIGURES = '''
import json
import sys

if "corrupt/none/asyncio" in sys.argv:  # this cell's traced process writes figures nobody can read
    json.dump = lambda obj, f, **kw: f.write("{not json")


async def numbers(n):
    for i in range(n):
        yield i

IMPLS = {"corrupt": {"family": "asyncgen", "workloads": {"none": numbers}}}
'''


def test_a_cell_whose_figures_cannot_be_read_fails_alone(tmp_path):
    plugin = tmp_path / "corrupt.py"
    plugin.write_text(CORRUPTS_ITS_FIGURES)
    out = tmp_path / "m.json"
    proc = cli("memory", "--impl-module", str(plugin), "-i", "corrupt,asyncgen", "-w", "none", "-l", "asyncio",
               "--live", "100", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "FAILED corrupt/none/asyncio: unreadable figures from its process" in proc.stderr
    assert "asyncgen/none/asyncio" in proc.stdout and "corrupt/none" not in proc.stdout
    assert out.exists()
