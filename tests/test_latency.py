"""run --latency: first-item latency and close cost per cell, through pyperf, in the same result files."""

from __future__ import annotations

import json

import pytest

from aiterbench import impls
from aiterbench.measure.timing import LATENCY, make_latency_func
from aiterbench.analysis import Cell, analyze, load_results

from .conftest import PAIRS, LoopRunner
from .test_cli import TINY, cli



class FakeClock:
    """Each iteration reads the clock four times: the empty region (a 0.25 s tick), then its own (a 1 s tick)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 0.25 if self.reads % 4 == 2 else 1.0  # e0 -> e1 is 0.25; t0 -> t1 is 1
        return self.now


@pytest.mark.parametrize("metric", list(LATENCY))
@pytest.mark.parametrize("impl, workload", PAIRS)
def test_each_latency_is_timed_once_per_loop_between_two_clock_reads(impl, workload, metric, loop_name):
    """Each iteration adds its region's ticks minus the empty region's, whatever it does."""
    clock = FakeClock()
    runner = LoopRunner(loop_name)
    try:
        registry = impls.registry()
        is_async = registry.get(impl).family != "sync"
        func = make_latency_func(runner.loop, registry.factory(impl, workload), registry.workload(workload).open, metric,
                                 is_async, clock=clock)
        assert func(3) == 3 * (1.0 - 0.25) and clock.reads == 12
    finally:
        runner.close()


@pytest.fixture(scope="module")
def latency_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency") / "r.json"
    proc = cli("run", "-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "--latency", "-o", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_latency_goes_into_the_result_file_and_the_table(latency_run):
    out, proc = latency_run
    assert "first item ns [95% CI]" in proc.stdout
    (rs,) = load_results([str(out)])
    rows = {r.cell.impl: r for r in analyze(rs.cells)}
    for impl in ("asyncgen", "class_anext"):
        assert set(rows[impl].latency) == set(LATENCY)
        assert all(e.value > 0 and e.samples == 8 for e in rows[impl].latency.values())  # 2 cells x 2 sizes
        assert rows[impl].fit is not None  # the per-item fit is untouched by the extra benchmarks
    doc = json.loads(cli("show", str(out), "--format", "json").stdout)
    assert all(c["first_item_ns"]["value"] > 0 and c["close_ns"]["value"] > 0 for c in doc["cells"])
    names = {b["metadata"]["name"] for b in json.loads(out.read_text())["benchmarks"]}
    assert Cell("asyncgen", "none", "asyncio").metric_name("first_item") in names


def test_pyperf_reads_the_latency_benchmarks(latency_run):
    import subprocess
    import sys

    out, _ = latency_run
    proc = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "#first_item" in proc.stdout


def test_the_report_shows_latency_with_a_finding(latency_run, tmp_path):
    pytest.importorskip("matplotlib")
    from aiterbench import main

    out, _ = latency_run
    assert main(["report", str(out), "-o", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Latency, Python" in page and "close ns [95% CI]" in page
    assert "the first item takes" in (tmp_path / "rep" / "summary.md").read_text()


class _Events:
    """A source, a clock and async iterators that write down what happens, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.now = 0.0

    def clock(self) -> float:
        self.log.append("clock")
        self.now += 1.0
        return self.now

    def source(self, n):
        import contextlib

        @contextlib.asynccontextmanager
        async def opened():
            self.log.append("setup")
            yield n
            self.log.append("teardown")

        return opened()

    def factory(self, closable: bool):
        events = self.log

        class Recorded:
            def __init__(self, n):
                events.append("create")
                self.i, self.n = 0, n

            def __aiter__(self):
                events.append("aiter")
                return self

            async def __anext__(self):
                events.append("anext")
                self.i += 1
                return self.i - 1

            def __del__(self):
                events.append("dealloc")

        class Closable(Recorded):
            async def aclose(self):
                events.append("aclose")

        return Closable if closable else Recorded


@pytest.mark.parametrize("closable", [True, False], ids=["with-aclose", "without-aclose"])
def test_what_lies_inside_the_first_item_region(closable, loop_name):
    """Between t0 and t1: the factory call, __aiter__ and the first __anext__; the empty region just before."""
    ev = _Events()
    runner = LoopRunner(loop_name)
    try:
        make_latency_func(runner.loop, ev.factory(closable), ev.source, "first_item", True, clock=ev.clock)(1)
    finally:
        runner.close()
    after = ["aclose", "dealloc"] if closable else ["dealloc"]
    assert ev.log == ["setup", "clock", "clock", "clock", "create", "aiter", "anext", "clock", *after, "teardown"]


@pytest.mark.parametrize("closable", [True, False], ids=["with-aclose", "without-aclose"])
def test_what_lies_inside_the_close_region(closable, loop_name):
    """Between t0 and t1: aclose() (when there is one) and the deallocation; half the items consumed before,
    through __aiter__ as ``async for`` does."""
    from aiterbench.measure.timing import LATENCY_ITEMS

    ev = _Events()
    runner = LoopRunner(loop_name)
    try:
        make_latency_func(runner.loop, ev.factory(closable), ev.source, "close", True, clock=ev.clock)(1)
    finally:
        runner.close()
    inside = ["aclose", "dealloc"] if closable else ["dealloc"]
    assert ev.log == ["setup", "create", "aiter", *["anext"] * (LATENCY_ITEMS // 2), "clock", "clock", "clock", *inside,
                      "clock", "teardown"]
