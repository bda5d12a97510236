"""Workloads of one's own (a plug-in's WORKLOADS) for every command, and the built-in http workload.

Set-ups are counted through a log file the plug-in writes (deterministic);
no time is asserted.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections import Counter
from pathlib import Path

import pytest

from aiterbench import impls, main
from aiterbench.impls import RegistryError
from aiterbench.measure.check import NotEquivalent, check_equivalence
from aiterbench.measure.sources import Held, slow_setup

from .conftest import AVAILABLE_LOOPS, LoopRunner, on_loop
from .test_cli import TINY, assert_one_error_line, cli

PLUGIN = '''
"""Sources of its own: a pool opened once per size (30 ms), a cursor per drain; and a slow per-drain one."""
import asyncio
import contextlib

LOG = __file__ + ".log"


def _note(what):
    with open(LOG, "a") as f:
        f.write(what + "\\n")


@contextlib.asynccontextmanager
async def pool(n):
    _note(f"pool {n}")
    await asyncio.sleep(0.03)  # connecting
    try:
        yield n
    finally:
        _note(f"pool-closed {n}")


@contextlib.asynccontextmanager
async def cursor(n):
    _note("cursor")
    yield [f"row{i}" for i in range(n)]


@contextlib.asynccontextmanager
async def slow(n):
    _note("slow")
    await asyncio.sleep(0.005)
    yield n


@contextlib.asynccontextmanager
async def slow_query(n):
    await asyncio.sleep(0.005)
    yield [f"row{i}" for i in range(n)]


async def rows_gen(rows):
    for row in rows:
        yield row


class RowsCls:
    def __init__(self, rows):
        self._it = iter(rows)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


async def count_gen(n):
    for i in range(n):
        yield i


WORKLOADS = {
    "rows": {"source": pool, "each": cursor, "expected": lambda n: [f"row{i}" for i in range(n)]},
    "slowconn": slow,
    "slowquery": {"source": pool, "each": slow_query, "expected": lambda n: [f"row{i}" for i in range(n)]},
}
IMPLS = {
    "rows_gen": {"family": "asyncgen", "workloads": {"rows": rows_gen, "slowconn": count_gen, "slowquery": rows_gen}},
    "rows_cls": {"family": "class", "workloads": {"rows": RowsCls}},
    "ints_for_rows": {"family": "asyncgen", "workloads": {"rows": lambda rows: count_gen(len(rows))}},
}
'''

BAD_SOURCES = '''
import asyncio
import contextlib


@contextlib.asynccontextmanager
async def broken(n):
    raise ConnectionRefusedError("database is down")
    yield


@contextlib.asynccontextmanager
async def stuck(n):
    if n > 0:
        await asyncio.sleep(3600)
    yield n


def not_a_cm(n):
    return n


async def count_gen(n):
    for i in range(n):
        yield i


async def boom(n):
    raise RuntimeError("boom from the impl")
    yield


WORKLOADS = {"broken": broken, "stuck": stuck, "notcm": not_a_cm}
IMPLS = {"gen": {"family": "asyncgen", "workloads": {w: count_gen for w in ("broken", "stuck", "notcm", "none")}},
         "boom": {"family": "asyncgen", "workloads": {"none": boom}}}
'''


@pytest.fixture
def plugin(tmp_path) -> Path:
    path = tmp_path / "my_source.py"
    path.write_text(PLUGIN)
    return path


def setups(plugin: Path) -> Counter:
    log = Path(str(plugin) + ".log")
    return Counter(line.split()[0] for line in log.read_text().splitlines()) if log.exists() else Counter()


# --- the registry --------------------------------------------------------------------------------------------


def test_a_plug_in_s_workloads_are_registered_with_their_module_and_items(plugin):
    reg = impls.registry().extended([str(plugin)])
    rows = reg.workload("rows")
    assert rows.module == "aiterbench_plugin_my_source" and rows.shared and not rows.batched
    assert reg.expected("rows", 3) == ["row0", "row1", "row2"] and reg.expected("slowconn", 3) == [0, 1, 2]
    assert reg.workload_names()[:5] == impls.registry().workload_names()[:5]  # built-ins first
    assert ("rows_cls", "rows") in reg.pairs()


BAD_ENTRIES = {
    "clash": ('import contextlib\n@contextlib.asynccontextmanager\nasync def q(n):\n    yield n\n'
              'WORKLOADS = {"queue": q}\nIMPLS = {}\n',
              "WORKLOADS['queue'] clashes with the built-in workload 'queue': name it otherwise"),
    "async def": ('async def src(n):\n    return n\nWORKLOADS = {"w": src}\n',
                  "workload 'w': the source is an async def, not an async context manager factory"),
    "async generator": ('async def src(n):\n    yield n\nWORKLOADS = {"w": src}\n',
                        "the source is an async generator function, not an async context manager factory"),
    "not callable": ('WORKLOADS = {"w": 3}\n', "workload 'w': the source must be callable"),
    "unknown key": ('WORKLOADS = {"w": {"source": print, "teardown": print}}\n', "has unknown key 'teardown'"),
    "no source": ('WORKLOADS = {"w": {"shared": True}}\n', "WORKLOADS['w'] has no 'source'"),
    "bad name": ('WORKLOADS = {"a/b": print}\n', "workload name 'a/b' must be"),
    "not a dict": ('WORKLOADS = [print]\n', "WORKLOADS must be a dict"),
}


@pytest.mark.parametrize("name", BAD_ENTRIES)
def test_a_bad_workloads_entry_is_refused_naming_its_module(tmp_path, name):
    source, message = BAD_ENTRIES[name]
    path = tmp_path / "bad_workloads.py"
    path.write_text(source)
    with pytest.raises(RegistryError) as info:
        impls.registry().extended([str(path)])
    assert message in str(info.value) and str(info.value).startswith("aiterbench_plugin_bad_workloads")


def test_a_bad_workloads_entry_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad_workloads.py"
    path.write_text(BAD_ENTRIES["clash"][0])
    proc = cli("run", "--impl-module", str(path), "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "clashes with the built-in workload 'queue'")


def test_the_check_uses_the_workload_s_expected_items(plugin):
    reg = impls.registry().extended([str(plugin)])
    for impl in ("rows_gen", "rows_cls"):
        on_loop("asyncio", check_equivalence, reg, impl, "rows", [16, 64])
    with pytest.raises(NotEquivalent, match=r"not equivalent to aiterbench_plugin_my_source's expected\(n\)"):
        on_loop("asyncio", check_equivalence, reg, "ints_for_rows", "rows", [16])


# --- how a source's set-up is paid ----------------------------------------------------------------------------


def test_a_shared_source_is_opened_once_per_size_and_each_drain_gets_its_own_part(plugin):
    reg = impls.registry().extended([str(plugin)])
    held = Held()
    open_source = held.opener(reg.workload("rows"))

    async def drains() -> list:
        got = []
        for n in (8, 8, 8, 16, 16):
            async with open_source(n) as rows:
                got.append(len([r async for r in reg.factory("rows_gen", "rows")(rows)]))
        await held.close()
        return got

    assert on_loop("asyncio", drains) == [8, 8, 8, 16, 16]
    assert setups(plugin) == Counter({"pool": 2, "pool-closed": 2, "cursor": 5})


def test_a_slow_per_drain_set_up_is_measured_one_drain_per_value_and_a_shared_one_is_not(plugin):
    reg = impls.registry().extended([str(plugin)])
    runner, held = LoopRunner("asyncio"), Held()
    try:
        assert slow_setup(runner.loop, reg.workload("slowconn"), 8)
        # With each: the drain's part decides (a 5 ms query: slow; a cursor: not), the held pool is opened once.
        assert slow_setup(runner.loop, reg.workload("slowquery"), 8, held.opener(reg.workload("slowquery")))
        assert not slow_setup(runner.loop, reg.workload("rows"), 8, held.opener(reg.workload("rows")))
        assert not slow_setup(runner.loop, reg.workload("queue"), 8)  # built in: tens of microseconds
        runner.run(held.close())
    finally:
        runner.close()
    assert setups(plugin)["pool"] == 2


def test_run_pays_each_set_up_a_few_times_per_process_not_per_drain(plugin, tmp_path):
    out = tmp_path / "r.json"
    proc = cli("run", "--impl-module", str(plugin), "-i", "rows_gen,rows_cls", "-w", "rows,slowconn", "-l", "asyncio",
               "-o", str(out), *TINY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for cell in ("rows_gen/rows/asyncio", "rows_cls/rows/asyncio", "rows_gen/slowconn/asyncio"):
        assert cell in proc.stdout
    counts = setups(plugin)
    # Every process opens its pool once per size it measures; the drains are many thousands more.
    assert counts["pool"] == counts["pool-closed"] and counts["cursor"] > 100 * counts["pool"]
    # The slow per-drain source: one drain per value (a few per process), not a calibrated thousands.
    assert counts["slow"] < 100, counts


# --- every command ----------------------------------------------------------------------------------------------

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind (.ci/run installs it)")
needs_memray = pytest.mark.skipif(__import__("importlib").util.find_spec("memray") is None,
                                  reason="needs memray (pip install 'aiterbench[memory]')")
SELECT = ["-i", "rows_gen,rows_cls", "-w", "rows", "-l", "asyncio"]
COMMANDS = {
    "latency": ["run", *SELECT, "--latency", *TINY, "-o", "r.json"],
    "ab": ["ab", *SELECT, "--rounds", "4", "--values", "1", "--min-time", "0.002", "--sizes", "64,256", "-o", "ab"],
    "ab --count": pytest.param(["ab", "--count", *SELECT, "--sizes", "64,256", "-o", "abc"], marks=needs_valgrind),
    "count": pytest.param(["count", *SELECT, "--sizes", "64,256", "-o", "c.json"], marks=needs_valgrind),
    "memory": pytest.param(["memory", *SELECT, "--live", "100", "-o", "m.json"], marks=needs_memray),
    "profile": ["profile", "rows_cls/rows/asyncio", "-n", "1000", "--repeat", "1", "-o", "p.prof"],
}


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_command_measures_a_plug_in_workload(plugin, tmp_path, argv):
    proc = cli(*argv[:1], "--impl-module", str(plugin), *argv[1:], cwd=tmp_path)
    assert proc.returncode in ((0, 1) if argv[0] == "ab" and "--count" not in argv else (0,)), proc.stderr
    assert "Traceback" not in proc.stderr and "FAILED" not in proc.stderr, proc.stderr
    assert "rows_cls/rows/asyncio" in proc.stdout, proc.stdout
    if argv[0] == "run":  # in this process: report as a command (its pool) is test_readme's and test_install's
        assert main(["report", str(tmp_path / "r.json"), "-o", str(tmp_path / "report")]) == 0
        assert (tmp_path / "report" / "index.html").exists()


def test_list_shows_plug_in_workloads_with_their_module(plugin):
    proc = cli("list", "--impl-module", str(plugin), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    workloads = {w["name"]: w for w in json.loads(proc.stdout)["workloads"]}
    assert workloads["rows"]["module"] == "aiterbench_plugin_my_source"
    assert workloads["http"]["module"] == "aiterbench.impls"
    text = cli("list", "--impl-module", str(plugin)).stdout
    assert any(line.split()[:2] == ["rows", "module=aiterbench_plugin_my_source"] for line in text.splitlines())


@pytest.fixture
def bad_sources(tmp_path) -> Path:
    path = tmp_path / "bad_sources.py"
    path.write_text(BAD_SOURCES)
    return path


WHERE = "workload 'broken' of aiterbench_plugin_bad_sources: set-up at n=0 failed: ConnectionRefusedError: database is down"
FAILURES = {
    "run": (["run", "-i", "gen", "-l", "asyncio", "-o", "r.json", "--cell-timeout", "3", *TINY],
            {"gen/broken/asyncio": f"refused before timing: gen/broken/asyncio: {WHERE}",
             "gen/stuck/asyncio": "hung: no result within 3 s (per-cell time limit) (last: setting up workload "
                                  "'stuck' of aiterbench_plugin_bad_sources at n=1)",
             "gen/notcm/asyncio": "aiterbench_plugin_bad_sources: workload 'notcm': source(0) returned int, not an "
                                  "async context manager"}),
    "count": pytest.param(["count", "-i", "gen,boom", "-w", "broken,stuck,none", "-l", "asyncio", "--sizes",
                           "64,256", "--check-timeout", "1.5", "-o", "c.json"],
                          {"gen/broken/asyncio": f"refused before counting: {WHERE}",
                           "gen/stuck/asyncio": "hung in its equivalence check: no answer within 1.5 s",
                           "boom/none/asyncio": "RuntimeError: boom from the impl"},
                          marks=needs_valgrind),
    "memory": pytest.param(["memory", "-i", "gen", "-w", "broken,notcm,none", "-l", "asyncio", "--live", "50",
                            "-o", "m.json"],
                           {"gen/broken/asyncio": WHERE, "gen/notcm/asyncio": "source(0) returned int"},
                           marks=needs_memray),
}


@pytest.mark.parametrize(("argv", "reasons"), FAILURES.values(), ids=FAILURES.keys())
def test_a_source_that_raises_hangs_or_is_no_context_manager_fails_its_cell_alone(bad_sources, tmp_path, argv,
                                                                                   reasons):
    proc = cli(argv[0], "--impl-module", str(bad_sources), *argv[1:], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    failed = {line.split()[1].rstrip(":"): line for line in proc.stderr.splitlines() if line.startswith("FAILED ")}
    assert set(failed) == set(reasons), proc.stderr
    for cell, reason in reasons.items():
        assert reason in failed[cell], failed[cell]
    assert "gen/none/asyncio" in proc.stdout  # the others measured


# --- http over loopback --------------------------------------------------------------------------------------------

needs_aiohttp = pytest.mark.skipif(not impls.registry().workload("http").available,
                                   reason="needs aiohttp (pip install 'aiterbench[http]')")


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


@needs_aiohttp
@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_two_http_sources_at_once_and_nothing_listens_after_them(loop):
    """LoopRunner checks that no descriptor is left open; a port of the system's choice is never 'in use'."""
    http = impls.registry().workload("http")

    async def both():
        async with http.open_source(100) as a, http.open_source(50) as b:
            assert a.url != b.url
            got = []
            for source in (a, b, a):
                async with http.open_each(source) as body:
                    got.append([line async for line in body])
            ports = [int(s.url.split(":")[2].split("/")[0]) for s in (a, b)]
        return got, ports

    got, ports = on_loop(loop, both)
    assert got == [http.items(100), http.items(50), http.items(100)]
    assert all(_refused(port) for port in ports)


@needs_aiohttp
def test_http_runs_as_a_cell_and_iterator_forms_are_compared(tmp_path):
    out = tmp_path / "r.json"
    proc = cli("run", "-i", "asyncgen,class_anext,aiohttp_lines", "-w", "http", "-l", "asyncio", "-o", str(out),
               "--rounds", "4", "--values", "1", "--min-time", "0.002", "--sizes", "64,256")
    assert proc.returncode == 0, proc.stderr
    for impl in ("asyncgen", "class_anext", "aiohttp_lines"):
        assert f"{impl}/http/asyncio" in proc.stdout


def test_an_unavailable_workload_is_skipped_with_a_note_or_refused_by_name_with_its_install_line():
    """As without aiohttp: the registry's http made to require a module that is not there."""
    import dataclasses

    from aiterbench.impls import Registry
    from aiterbench.model.cells import SelectionError, select

    reg = impls.registry()
    gone = tuple(dataclasses.replace(w, requires="no_such_module_xyz") if w.name == "http" else w
                 for w in reg.workloads)
    reg = Registry(reg.impls, gone)
    cells, notes = select(reg, "asyncgen", None, "asyncio")
    assert "http" not in {c.workload for c in cells} and "none" in {c.workload for c in cells}
    assert any("skipping workload 'http'" in note and "pip install 'aiterbench[http]'" in note for note in notes)
    with pytest.raises(SelectionError, match=r"workload 'http' needs no_such_module_xyz, .*aiterbench\[http\]"):
        select(reg, "asyncgen", "http", "asyncio")


def test_the_sizes_line_names_only_the_workloads_measured():
    from aiterbench.orchestrate.rounds import FULL, QUICK

    assert FULL.described({"none", "sleep0"}) == "16,256,4096"
    assert FULL.described({"none", "queue"}) == "16,256,4096 (queue: 256,1024,4096)"
    assert QUICK.described({"none", "queue"}) == "16,4096 (queue: 256,4096)"
    assert "http" in QUICK.described()
