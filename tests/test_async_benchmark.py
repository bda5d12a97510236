"""async_benchmark times a coroutine function per call; both fixtures under pytest-benchmark's and pytest-codspeed's
``benchmark``. Counts and orders are asserted, never times."""

from __future__ import annotations

import asyncio
import json

import pytest

from aiterbench import pytest_plugin
from aiterbench.model.loops import LOOPS
from aiterbench.pytest_plugin import AsyncBenchmark

from .conftest import AVAILABLE_LOOPS, on_plain_loop
from .test_pytest_plugin import _pytest_outside, _RecordingBenchmark

pytest.importorskip("pytest_benchmark")


class _Clock:
    """A perf_counter that advances only when a call says so, and logs every read."""

    def __init__(self, log: list) -> None:
        self.now, self.log = 0.0, log

    def __call__(self) -> float:
        self.log.append("clock")
        return self.now


def _fake_clock(monkeypatch, log: list) -> _Clock:
    clock = _Clock(log)
    monkeypatch.setattr(pytest_plugin.time, "perf_counter", clock)
    return clock


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_only_the_awaited_calls_lie_between_the_clock_reads_on_one_loop(monkeypatch, loop):
    log: list = []
    clock = _fake_clock(monkeypatch, log)
    loops_seen = set()

    async def fn(x, *, y):
        loops_seen.add(id(asyncio.get_running_loop()))
        log.append("call")
        clock.now += 1e-6
        return x + y

    bench = _RecordingBenchmark()
    result = AsyncBenchmark(bench, "asyncio").pedantic(fn, (1,), {"y": 2}, loop=loop, rounds=3, iterations=4,
                                                       warmup_rounds=1)
    assert result == 3 and len(loops_seen) == 1
    # One untimed check call, then three calibration rounds (the fastest counts), one warm-up and three timed:
    # clock, 4 calls, clock.
    rounds = log[1:]
    assert log[0] == "call" and rounds == ["clock", "call", "call", "call", "call", "clock"] * 7
    assert bench.recorded == pytest.approx([1e-6] * 3)
    assert bench.extra_info == {"aiterbench_loop": loop, "aiterbench_loop_version": LOOPS[loop].version,
                                "aiterbench_calls_per_round": 4}


def test_calls_per_round_are_calibrated_to_pytest_benchmark_s_minimum_time(monkeypatch):
    """Each call takes 1 us on the fake clock: 1 call (1 us, under half the 5 us minimum) -> 10 calls, which
    reach it; rounds fill the maximum time (95 us / 10 us, rounded up: 10), at least the minimum rounds."""
    clock = _fake_clock(monkeypatch, [])

    async def fn():
        clock.now += 1e-6

    bench = _RecordingBenchmark()
    bench._min_time, bench._max_time, bench._min_rounds = 5e-6, 9.5e-5, 3
    bench._calibration_precision, bench._get_precision = 10, lambda timer: 1e-9
    AsyncBenchmark(bench, "asyncio")(fn)
    assert bench.extra_info["aiterbench_calls_per_round"] == 10
    assert bench.recorded == pytest.approx([1e-6] * 10)


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_in_running_loop_times_on_the_test_s_own_loop(loop):
    bench = _RecordingBenchmark()
    bench._max_time, bench._min_rounds = 1e-3, 3
    seen = []

    async def fn():
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return "done"

    async def body():
        return await AsyncBenchmark(bench, "asyncio").in_running_loop(fn), asyncio.get_running_loop()

    result, running = on_plain_loop(loop, body)
    assert result == "done" and all(s is running for s in seen) and len(bench.recorded) >= 3
    assert bench.extra_info["aiterbench_loop"] == loop


def _fails(match: str, call) -> None:
    with pytest.raises(pytest.fail.Exception, match=match):
        call()


def test_mistakes_fail_in_one_line():
    bench = _RecordingBenchmark()
    _fails(r"async_benchmark: <lambda>\(\.\.\.\) returned int, not an awaitable",
           lambda: AsyncBenchmark(bench, "asyncio")(lambda: 1))
    _fails(r"async_benchmark: unknown loop 'tokio'",
           lambda: AsyncBenchmark(bench, "asyncio").pedantic(asyncio.sleep, (0,), loop="tokio"))
    _fails(r"async_benchmark: rounds must be an integer >= 1",
           lambda: AsyncBenchmark(bench, "asyncio").pedantic(asyncio.sleep, (0,), rounds=0))

    async def plain_call_in_a_loop():
        AsyncBenchmark(bench, "asyncio")(asyncio.sleep, 0)

    _fails(r"running event loop .*'await async_benchmark.in_running_loop\(fn, \.\.\.\)'",
           lambda: asyncio.run(plain_call_in_a_loop()))
    coro = AsyncBenchmark(bench, "asyncio").in_running_loop(asyncio.sleep, 0)
    _fails(r"no event loop is running .*async_benchmark\(fn", lambda: coro.send(None))
    coro.close()


USER_TEST = '''
    import asyncio
    import contextlib

    import pytest


    async def numbers(n):
        for i in range(n):
            yield i


    @contextlib.asynccontextmanager
    async def connection(n):
        await asyncio.sleep(0)
        yield numbers(n)


    async def fetch(x):
        await asyncio.sleep(0)
        return 2 * x


    def test_rows(aiter_benchmark):
        assert aiter_benchmark(connection, sizes=(50, 500), rounds=5)["aiterbench_items"] == 500


    def test_fetch(async_benchmark):
        assert async_benchmark(fetch, 21) == 42


    @pytest.mark.asyncio
    async def test_fetch_in_my_loop(async_benchmark):
        assert await async_benchmark.in_running_loop(fetch, 21) == 42


    def test_not_a_benchmark():
        pass
'''
CONFIG = "[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = 'function'\n"
QUICK = ["--benchmark-max-time", "0.01", "--benchmark-min-rounds", "3"]


def test_both_fixtures_record_store_and_compare_through_pytest_benchmark_outside_the_repository(tmp_path):
    pytest.importorskip("pytest_asyncio")
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    proc = _pytest_outside(tmp_path, USER_TEST, "--benchmark-only", "--benchmark-autosave", "--benchmark-json",
                           "out.json", *QUICK)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed, 1 skipped" in proc.stdout, proc.stdout  # --benchmark-only keeps the fixtures' tests
    records = {b["name"]: b for b in json.loads((tmp_path / "out.json").read_text())["benchmarks"]}
    assert set(records) == {"test_rows", "test_fetch", "test_fetch_in_my_loop"}
    for name in ("test_fetch", "test_fetch_in_my_loop"):
        assert records[name]["stats"]["rounds"] >= 3
        assert records[name]["extra_info"]["aiterbench_loop"] == "asyncio"
        assert records[name]["extra_info"]["aiterbench_calls_per_round"] >= 1
    # The stored run compares, and a generous threshold passes.
    proc = _pytest_outside(tmp_path, USER_TEST, "--benchmark-only", "--benchmark-compare",
                           "--benchmark-compare-fail=mean:1000%", *QUICK)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Comparing against benchmarks from" in proc.stdout + proc.stderr


def test_both_fixtures_under_pytest_codspeed_walltime_outside_the_repository(tmp_path):
    pytest.importorskip("pytest_codspeed")
    pytest.importorskip("pytest_asyncio")
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    proc = _pytest_outside(tmp_path, USER_TEST, "--codspeed", "--codspeed-mode", "walltime",
                           "--codspeed-max-time", "0.05", "-W", "ignore::RuntimeWarning")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "2 benchmarked" in out and "test_rows" in out and "test_fetch " in out, out
    # Its selection keeps the fixtures' tests and drops the plain one; in a running loop, one line.
    assert "1 failed, 2 passed, 1 deselected" in out, out
    assert ("async_benchmark.in_running_loop: pytest-codspeed times a plain function, which cannot run the "
            "test's loop while it runs") in out
    assert "pytest_plugin.py" not in out


class _CodspeedLike:
    """Poses as pytest-codspeed's fixture (the module its class comes from): pedantic runs its own rounds."""

    def __init__(self) -> None:
        self.extra_info, self.rounds_run = {}, 0

    def pedantic(self, target, setup=None, teardown=None, rounds=1, warmup_rounds=0, iterations=1):
        for _ in range(rounds + warmup_rounds):
            args, kwargs = setup()
            target(*args, **kwargs)
            teardown(*args, **kwargs)
            self.rounds_run += 1


_CodspeedLike.__module__ = "pytest_codspeed.plugin"


def test_under_codspeed_aiter_benchmark_leaves_the_recorded_rounds_to_it():
    """Drains: the check at both sizes (2), the slope's rounds (2 x 6), and codspeed's rounds with its
    warm-up (3 + 1); none timed for pytest-benchmark on top."""
    from aiterbench.pytest_plugin import AiterBenchmark

    opened = []

    async def numbers(n):
        opened.append(n)
        for i in range(n):
            yield i

    bench = _CodspeedLike()
    info = AiterBenchmark(bench, "asyncio")(numbers, sizes=(10, 100), rounds=3, warmup_rounds=1)
    assert bench.rounds_run == 4 and len(opened) == 2 + 12 + 4
    assert info["aiterbench_items"] == 100 and bench.extra_info == info
