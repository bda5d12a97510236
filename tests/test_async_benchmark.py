"""async_benchmark times a coroutine function per call; both fixtures under pytest-benchmark's and pytest-codspeed's
``benchmark``. Counts and orders are asserted, never times."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import re
import time

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
    # The timer read once as a check, one untimed check call, then three calibration rounds (the fastest counts),
    # one warm-up and three timed: clock, 4 calls, clock.
    rounds = log[2:]
    assert log[:2] == ["clock", "call"] and rounds == ["clock", "call", "call", "call", "call", "clock"] * 7
    assert bench.recorded == pytest.approx([1e-6] * 3)
    assert bench.extra_info == {"aiterbench_loop": loop, "aiterbench_loop_version": LOOPS[loop].version,
                                "aiterbench_calls_per_round": 4, "aiterbench_timer": "tests.test_async_benchmark._Clock",
                                "aiterbench_disable_gc": False}


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


def _gc_log(log: list, what: str) -> None:
    log.append((what, gc.isenabled()))


class _GcClock:
    """A timer that logs whether the collector was on at each read."""

    def __init__(self, log: list) -> None:
        self.now, self.log = 0.0, log

    def __call__(self) -> float:
        _gc_log(self.log, "clock")
        self.now += 1e-6
        return self.now


def _inside_and_out(log: list) -> tuple[list, list]:
    """The log split into what happened between a t0 and its t1 (both reads included) and the rest; a first
    read before anything else is the check of the timer."""
    start = 1 if log[0][0] == "clock" and log[1][0] != "clock" else 0
    inside, out, timing = [], log[:start], False
    for what, on in log[start:]:
        if what == "clock":
            inside.append((what, on))
            timing = not timing
        else:
            (inside if timing else out).append((what, on))
    return inside, out


def _run_both(fixture: str, bench, log: list) -> None:
    from aiterbench.pytest_plugin import AiterBenchmark

    if fixture == "aiter_benchmark":
        async def numbers(n):
            for i in range(n):
                _gc_log(log, "item")
                yield i

        def factory(n):  # set-up: never with the collector off
            _gc_log(log, "factory")
            return numbers(n)

        AiterBenchmark(bench, "asyncio")(factory, sizes=(2, 4), rounds=3, warmup_rounds=1)
    else:
        async def fn():
            _gc_log(log, "call")

        AsyncBenchmark(bench, "asyncio").pedantic(fn, rounds=3, iterations=2)


@pytest.mark.parametrize("disable_gc", [True, False])
@pytest.mark.parametrize("fixture", ["aiter_benchmark", "async_benchmark"])
def test_benchmark_disable_gc_turns_the_collector_off_between_the_clock_reads_only(monkeypatch, fixture, disable_gc):
    log: list = []
    bench = _RecordingBenchmark()
    bench._disable_gc = disable_gc
    monkeypatch.setattr(pytest_plugin.time, "perf_counter", _GcClock(log))  # the default timer (none is set)
    _run_both(fixture, bench, log)
    inside, out = _inside_and_out(log)
    assert {what for what, _ in inside} == {"clock", "item" if fixture == "aiter_benchmark" else "call"}
    assert all(on is not disable_gc for _, on in inside)  # t0, what it times, t1
    assert all(on for _, on in out) and gc.isenabled()  # the timer's check, set-up, untimed passes; and after
    assert bench.extra_info["aiterbench_disable_gc"] is disable_gc


@pytest.mark.parametrize("fixture", ["aiter_benchmark", "async_benchmark"])
def test_the_collector_is_left_as_it_was_after_a_failing_round_and_when_the_test_turned_it_off(fixture):
    from aiterbench.pytest_plugin import AiterBenchmark

    passes = []

    async def broken(n):
        passes.append(n)
        yield 0
        if len(passes) > 2:  # the two untimed checks go through; the first timed round fails
            raise ConnectionResetError("peer went away")

    async def fn():
        passes.append(1)
        if len(passes) > 1:
            raise ConnectionResetError("peer went away")

    bench = _RecordingBenchmark()
    bench._disable_gc = True
    with pytest.raises(ConnectionResetError):
        if fixture == "aiter_benchmark":
            AiterBenchmark(bench, "asyncio")(broken, sizes=(2, 4), rounds=2)
        else:
            AsyncBenchmark(bench, "asyncio").pedantic(fn, rounds=2, iterations=1)
    assert gc.isenabled()
    gc.disable()
    try:
        _run_both(fixture, bench, [])
        assert not gc.isenabled()  # the test's own choice, not ours to undo
    finally:
        gc.enable()


@pytest.mark.parametrize("fixture", ["aiter_benchmark", "async_benchmark"])
@pytest.mark.parametrize("timer, said", [
    (time.perf_counter_ns, "time.perf_counter_ns cannot be used: it returned int, not seconds as a float"),
    (math.pi, "3.141592653589793 cannot be used: TypeError: 'float' object is not callable"),
    (lambda: 1 / 0, "cannot be used: ZeroDivisionError: division by zero"),
])
def test_a_timer_that_cannot_give_seconds_fails_the_test_in_one_line(fixture, timer, said):
    bench = _RecordingBenchmark()
    bench._timer = timer
    _fails(f"{fixture}: --benchmark-timer .*{re.escape(said)}", lambda: _run_both(fixture, bench, []))


def test_a_timer_that_never_advances_fails_calibration_in_one_line_instead_of_calling_forever():
    bench = _RecordingBenchmark()
    bench._timer, bench._get_precision = lambda: 1.0, lambda timer: None  # pytest-benchmark's None: no tick seen

    async def fn():
        pass

    _fails(r"async_benchmark: --benchmark-timer .*<lambda> cannot be used: it did not advance",
           lambda: AsyncBenchmark(bench, "asyncio")(fn))


def test_in_running_loop_both_fixtures_time_with_pytest_benchmark_s_timer():
    from aiterbench.pytest_plugin import AiterBenchmark

    clock = _Clock([])

    async def costly(n):
        for i in range(n):
            clock.now += 1e-6
            yield i

    async def call():
        clock.now += 2e-6

    items, calls = _RecordingBenchmark(), _RecordingBenchmark()
    items._timer = calls._timer = clock
    calls._max_time, calls._min_rounds, calls._get_precision = 1e-4, 3, lambda timer: 1e-9

    async def body():
        await AiterBenchmark(items, "asyncio").in_running_loop(costly, sizes=(10, 100), rounds=3)
        await AsyncBenchmark(calls, "asyncio").in_running_loop(call)

    on_plain_loop("asyncio", body)
    # 1 call (2 us) is under half of the 5 us minimum -> 10 calls a round; 100 us of rounds of 20 us -> 5 rounds.
    assert items.recorded == pytest.approx([100e-6] * 3) and calls.recorded == pytest.approx([2e-6] * 5)
    assert calls.extra_info["aiterbench_calls_per_round"] == 10
    assert items.extra_info["aiterbench_seconds_per_item"] == pytest.approx(1e-6)
    assert items.extra_info["aiterbench_timer"] == calls.extra_info["aiterbench_timer"] == "tests.test_async_benchmark._Clock"


COSTLY_TEST = '''
    import fakeclock


    class Costly:
        """An async iterator whose every item costs 50 us on the fake clock, and nothing else does."""

        def __init__(self, n):
            self.i, self.n = 0, n

        def __aiter__(self):
            return self

        async def __anext__(self):
            if self.i >= self.n:
                raise StopAsyncIteration
            self.i += 1
            fakeclock.now += 50e-6
            return self.i


    async def costly_call():
        fakeclock.now += 50e-6


    def test_items(aiter_benchmark):
        aiter_benchmark(Costly, sizes=(10, 100), rounds=5)


    def test_calls(async_benchmark):
        async_benchmark.pedantic(costly_call, rounds=4, iterations=3)


    def test_not_a_benchmark():
        pass
'''
FAKE_CLOCK = "now = 0.0\n\n\ndef clock():\n    return now\n"


def test_pytest_benchmark_stores_the_figures_measured_with_its_timer_not_its_own_timing_of_the_replay(tmp_path):
    """With a fake clock as --benchmark-timer, each item or call costs exactly 50 us and nothing else moves it:
    had pytest-benchmark timed the replay itself, its figures would be 0 (its timer, the fake clock, never moves
    while replaying) or the replay's hundred nanoseconds (perf_counter), not 5 ms per round of 100 items."""
    (tmp_path / "fakeclock.py").write_text(FAKE_CLOCK)
    proc = _pytest_outside(tmp_path, COSTLY_TEST, "--benchmark-timer", "fakeclock.clock", "--benchmark-disable-gc",
                           "--benchmark-json", "out.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = {b["name"]: b for b in json.loads((tmp_path / "out.json").read_text())["benchmarks"]}
    items, calls = records["test_items"], records["test_calls"]
    assert items["stats"]["rounds"] == 5 and calls["stats"]["rounds"] == 4
    for field in ("min", "median", "max", "mean"):
        assert items["stats"][field] == pytest.approx(100 * 50e-6)  # a round is one pass over 100 items
        assert calls["stats"][field] == pytest.approx(50e-6)  # per call, three calls a round
    assert items["extra_info"]["aiterbench_seconds_per_item"] == pytest.approx(50e-6)
    assert items["extra_info"]["aiterbench_fixed_seconds"] == pytest.approx(0, abs=1e-12)
    assert calls["extra_info"]["aiterbench_calls_per_round"] == 3
    for record in (items, calls):
        assert record["extra_info"]["aiterbench_timer"] == "fakeclock.clock"
        assert record["extra_info"]["aiterbench_disable_gc"] is True
        assert record["options"]["timer"] == "fakeclock.clock via aiterbench"
        assert record["options"]["disable_gc"] is True


def test_an_unusable_benchmark_timer_fails_each_fixture_in_one_line_and_nothing_else(tmp_path):
    proc = _pytest_outside(tmp_path, COSTLY_TEST.replace("import fakeclock", "fakeclock = None"),
                           "--benchmark-timer", "time.perf_counter_ns")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 failed, 1 passed" in proc.stdout, proc.stdout  # the plain test is not touched
    for fixture in ("aiter_benchmark", "async_benchmark"):
        assert (f"{fixture}: --benchmark-timer time.perf_counter_ns cannot be used: it returned int, not seconds "
                "as a float") in proc.stdout, proc.stdout
    assert "pytest_plugin.py" not in proc.stdout


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
