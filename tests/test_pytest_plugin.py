"""The aiter_benchmark fixture: every impl through pytest-benchmark; found by pytest outside this repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from aiterbench import impls
from aiterbench.model.loops import LOOPS
from aiterbench.pytest_plugin import AiterBenchmark

from .conftest import AVAILABLE_LOOPS, on_plain_loop

pytest.importorskip("pytest_benchmark")

ASYNC_IMPLS = [i.name for i in impls.registry().impls if i.family != "sync" and "none" in i.workloads]


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
@pytest.mark.parametrize("impl", ASYNC_IMPLS)
def test_every_impl_runs_through_the_fixture(aiter_benchmark, impl, loop):
    """This suite runs with --benchmark-disable (pyproject): each iterates once, checked, untimed."""
    factory = impls.registry().factory(impl, "none")
    assert aiter_benchmark(factory, sizes=(10, 100), loop=loop) == {}


def _pytest_outside(tmp_path, test_source: str, *args: str) -> subprocess.CompletedProcess:
    """Run pytest on one test file in a folder outside this repository, finding the plugin by its entry point."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(test_source))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}  # xdist's too
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


USER_TEST = '''
    async def numbers(n):
        for i in range(n):
            yield i


    class Numbers:
        def __init__(self, n):
            self.i, self.n = 0, n

        def __aiter__(self):
            return self

        async def __anext__(self):
            if self.i >= self.n:
                raise StopAsyncIteration
            self.i += 1
            return self.i - 1


    def test_generator(aiter_benchmark):
        aiter_benchmark(numbers, sizes=(50, 500), rounds=5)


    def test_class(aiter_benchmark):
        aiter_benchmark(Numbers, sizes=(50, 500), rounds=5, loop="LOOP")
'''


def test_the_plugin_is_found_outside_the_repository_and_fills_extra_info(tmp_path):
    loop = AVAILABLE_LOOPS[-1]
    proc = _pytest_outside(tmp_path, USER_TEST.replace("LOOP", loop), "--benchmark-json", "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    by_name = {b["name"]: b for b in doc["benchmarks"]}
    assert set(by_name) == {"test_generator", "test_class"}
    for name, bench in by_name.items():
        info = bench["extra_info"]
        assert info["aiterbench_sizes"] == [50, 500] and info["aiterbench_items"] == 500
        assert info["aiterbench_seconds_per_item"] > 0
        assert info["aiterbench_loop"] == ("asyncio" if name == "test_generator" else loop)
        assert info["aiterbench_loop_version"] == LOOPS[info["aiterbench_loop"]].version
        assert bench["stats"]["rounds"] == 5 and bench["stats"]["median"] > 0


def test_bad_use_fails_the_test_with_one_clear_line(tmp_path):
    source = '''
        def test_not_async(aiter_benchmark):
            aiter_benchmark(lambda n: list(range(n)))


        def test_unknown_loop(aiter_benchmark):
            aiter_benchmark(lambda n: None, loop="tokio")
    '''
    proc = _pytest_outside(tmp_path, source, "--benchmark-disable")
    assert proc.returncode == 1
    assert "aiter_benchmark: factory(100) returned list, not an async iterable" in proc.stdout
    assert "aiter_benchmark: unknown loop 'tokio'" in proc.stdout
    assert "pytest_plugin.py" not in proc.stdout  # the user's mistake, not our traceback


class _FakeBenchmark:
    disabled = False
    extra_info: dict = {}


class _RecordingBenchmark(_FakeBenchmark):
    """Enough of pytest-benchmark's fixture for a timed call: pedantic runs the target once per round."""

    def __init__(self) -> None:
        self.extra_info, self._timer, self.has_error = {}, None, False

    def pedantic(self, target, args=(), kwargs=None, setup=None, rounds=1, warmup_rounds=0, iterations=1):
        self.recorded = []
        for _ in range(rounds + warmup_rounds):
            if setup is not None:
                args, kwargs = setup()
            t0 = self._timer()
            for _ in range(iterations):
                target(*args, **(kwargs or {}))
            self.recorded.append((self._timer() - t0) / iterations)


def test_the_slope_alternates_the_two_sizes_round_by_round():
    """Drift between a block of n1 rounds and a block of n2 rounds would go straight into the slope."""
    asked = []

    async def numbers(n):
        for i in range(n):
            yield i

    def factory(n):
        asked.append(n)
        return numbers(n)

    info = AiterBenchmark(_RecordingBenchmark(), "asyncio")(factory, sizes=(10, 100), rounds=6, warmup_rounds=0)
    slope = asked[2 + 6:]  # after the untimed check of each size and pytest-benchmark's rounds
    assert slope == [10, 100, 100, 10] * 3
    assert info["aiterbench_items"] == 100 and info["aiterbench_sizes"] == [10, 100]


def test_a_loop_that_is_not_installed_is_named_with_its_install_line(monkeypatch):
    monkeypatch.setattr(type(LOOPS["uvloop"]), "available", property(lambda self: self.name != "uvloop"))
    with pytest.raises(pytest.fail.Exception, match=r"loop 'uvloop' is not installed: pip install 'aiterbench\[uvloop\]'"):
        AiterBenchmark(_FakeBenchmark(), "asyncio")(lambda n: None, loop="uvloop")


def _readme_fixture_blocks():
    from .test_readme import PYTHON_BLOCKS

    return [b for b in PYTHON_BLOCKS if "aiter_benchmark" in b]


def test_the_readme_examples_run_outside_the_repository(tmp_path):
    """Each fixture example of the README in a file of its own, in one session outside the repository (one
    session, not one per example: a pytest start-up with every plug-in is most of each)."""
    blocks = _readme_fixture_blocks()
    import importlib.util

    assert len(blocks) == 3  # plain, async context manager, pytest-asyncio: a new one is counted here
    # The pytest-asyncio example needs pytest-asyncio (the test extras have it); the others run without it.
    runnable = [b for b in blocks if "pytest.mark.asyncio" not in b or importlib.util.find_spec("pytest_asyncio")]
    for i, block in enumerate(runnable[1:], 1):
        (tmp_path / f"test_user_{i}.py").write_text(textwrap.dedent(block))
    proc = _pytest_outside(tmp_path, runnable[0], *(f"test_user_{i}.py" for i in range(1, len(runnable))),
                           "--benchmark-json", "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    benches = json.loads((tmp_path / "out.json").read_text())["benchmarks"]
    assert len(benches) == len(runnable), [b["fullname"] for b in benches]  # one benchmarked test per example
    for bench in benches:
        assert bench["extra_info"]["aiterbench_sizes"] == [100, 1000], bench["fullname"]
        assert bench["extra_info"]["aiterbench_items"] == 1000 and bench["stats"]["rounds"] == 10, bench["fullname"]


async def _numbers(n):
    for i in range(n):
        yield i


def _clock_events(monkeypatch, events):
    """Every clock read of the fixture, in order with the user's own events."""
    import time

    import aiterbench.pytest_plugin as plugin

    def clock():
        events.append("clock")
        return time.perf_counter_ns() * 1e-9

    monkeypatch.setattr(plugin.time, "perf_counter", clock)


def _passes(events):
    """The events split at each pair of clock reads: what happened between t0 and t1, pass by pass (after the one
    read that checks the timer, before anything else)."""
    assert events[0] == "clock" and events[1] != "clock"
    inside, out, timing = [], [], False
    for e in events[1:]:
        if e == "clock":
            if timing:
                inside.append(out)
            timing, out = not timing, []
        elif timing:
            out.append(e)
    return inside


def test_an_async_factory_is_awaited_before_the_clock(monkeypatch):
    events = []

    async def connect(n):  # set-up that must be awaited, as opening a connection is
        events.append("connect")
        return _numbers(n)

    _clock_events(monkeypatch, events)
    bench = _RecordingBenchmark()
    info = AiterBenchmark(bench, "asyncio")(connect, sizes=(10, 100), rounds=4, warmup_rounds=1)
    assert info["aiterbench_items"] == 100 and len(bench.recorded) == 4
    assert events.count("connect") == 2 + 1 + 4 + 2 * 6  # check, warm-up, rounds, slope
    assert _passes(events) and all(inside == [] for inside in _passes(events))


def test_an_async_context_manager_is_entered_before_the_clock_and_exited_after(monkeypatch):
    import contextlib

    events = []

    @contextlib.asynccontextmanager
    async def session(n):
        events.append("enter")
        try:
            yield _numbers(n)
        finally:
            events.append("exit")

    _clock_events(monkeypatch, events)
    info = AiterBenchmark(_RecordingBenchmark(), "asyncio")(session, sizes=(10, 100), rounds=3, warmup_rounds=0)
    assert info["aiterbench_sizes"] == [10, 100] and info["aiterbench_items"] == 100
    assert all(inside == [] for inside in _passes(events))
    # The timer read once as a check; each timed pass: enter, t0, t1, exit; the two check passes have no clock reads.
    assert events[:5] == ["clock", "enter", "exit", "enter", "exit"]
    assert events[5:9] == ["enter", "clock", "clock", "exit"]
    assert events.count("enter") == events.count("exit") == 2 + 3 + 2 * 6


def test_a_failing_pass_still_exits_the_context_manager():
    import contextlib

    exits = []

    @contextlib.asynccontextmanager
    async def session(n):
        try:
            yield _broken(n)
        finally:
            exits.append(n)

    async def _broken(n):
        yield 0
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        AiterBenchmark(_RecordingBenchmark(), "asyncio")(session, sizes=(10, 100), rounds=2)
    assert exits == [10]


@pytest.mark.parametrize("bad, said", [(lambda n: list(range(n)), "returned list"),
                                       (lambda n: _coro_of_list(n), "returned a coroutine giving list")])
def test_a_factory_that_gives_no_async_iterable_fails_in_one_line(bad, said):
    with pytest.raises(pytest.fail.Exception, match=f"aiter_benchmark: factory\\(10\\) {said}, not an async iterable"):
        AiterBenchmark(_RecordingBenchmark(), "asyncio")(bad, sizes=(10, 100))


async def _coro_of_list(n):
    return list(range(n))


def test_in_a_running_loop_the_plain_call_names_in_running_loop():
    import asyncio

    async def body():
        AiterBenchmark(_RecordingBenchmark(), "asyncio")(_numbers, sizes=(10, 100))

    with pytest.raises(pytest.fail.Exception, match=r"running event loop .*await aiter_benchmark.in_running_loop"):
        asyncio.run(body())


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_in_running_loop_measures_on_the_test_s_own_loop(loop):
    import asyncio

    bench = _RecordingBenchmark()
    seen = []

    async def factory(n):
        seen.append(asyncio.get_running_loop())
        return _numbers(n)

    async def body():
        info = await AiterBenchmark(bench, "asyncio").in_running_loop(factory, sizes=(10, 100), rounds=3)
        return info, asyncio.get_running_loop()

    info, running = on_plain_loop(loop, body)
    assert all(s is running for s in seen) and len(bench.recorded) == 3
    assert info["aiterbench_loop"] == loop and info["aiterbench_loop_version"] == LOOPS[loop].version
    assert bench.extra_info == info and info["aiterbench_items"] == 100


def test_in_running_loop_without_a_loop_names_the_plain_call():
    coro = AiterBenchmark(_RecordingBenchmark(), "asyncio").in_running_loop(_numbers)
    with pytest.raises(pytest.fail.Exception, match=r"no event loop is running .*aiter_benchmark\(factory"):
        coro.send(None)
    coro.close()


ASYNC_TEST = '''
    import contextlib

    import pytest


    async def numbers(n):
        for i in range(n):
            yield i


    @contextlib.asynccontextmanager
    async def connection(n):
        yield numbers(n)


    @pytest.mark.asyncio
    async def test_in_my_loop(aiter_benchmark):
        info = await aiter_benchmark.in_running_loop(connection, sizes=(50, 500), rounds=5)
        assert info["aiterbench_items"] == 500


    @pytest.mark.asyncio
    async def test_plain_call_in_my_loop(aiter_benchmark):
        aiter_benchmark(numbers)
'''


def test_in_an_async_test_of_pytest_asyncio_outside_the_repository(tmp_path):
    pytest.importorskip("pytest_asyncio")
    proc = _pytest_outside(tmp_path, ASYNC_TEST, "--benchmark-json", "out.json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout
    assert "use 'await aiter_benchmark.in_running_loop(factory, ...)'" in proc.stdout
    assert "pytest_plugin.py" not in proc.stdout
    (bench,) = json.loads((tmp_path / "out.json").read_text())["benchmarks"]
    assert bench["name"] == "test_in_my_loop" and bench["stats"]["rounds"] == 5
    assert bench["extra_info"]["aiterbench_loop"] == "asyncio" and bench["extra_info"]["aiterbench_items"] == 500
