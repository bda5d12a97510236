"""pytest plugin: the ``aiter_benchmark`` fixture times async iterators per item through pytest-benchmark.

Registered through the ``pytest11`` entry point, so it is active wherever
aiterbench is installed; it imports nothing heavy until the fixture is used.
pytest-benchmark cannot time a coroutine; this fixture runs the event loop
itself and hands pytest-benchmark only the time spent iterating::

    def test_numbers(aiter_benchmark):
        aiter_benchmark(lambda n: numbers(n), sizes=(100, 1000))

``factory(n)`` makes a fresh async iterable of ``n`` items. Its set-up
belongs in the factory, which runs before the clock: an ``async def``
factory is awaited first (opening a connection), and one that returns an
async context manager is entered before the clock and exited after it.
The timed region is ``async for`` over the iterable, nothing else: the loop
is made once, outside, and each round's iterable is made before its clock
read. pytest-benchmark's statistics are for the larger size; ``extra_info``
gets seconds per item (the slope over the two sizes, so that the fixed cost
of starting an iteration cancels), the sizes, the loop and its version.

In an async test (pytest-asyncio, anyio), the loop is already running:
``await aiter_benchmark.in_running_loop(factory, ...)`` measures on it, the
same way, and records through pytest-benchmark all the same.

The loop: ``loop=`` in the call, else ``--aiter-loop`` (asyncio, uvloop,
rloop), else asyncio.

pytest-benchmark's ``--benchmark-timer`` and ``--benchmark-disable-gc`` (or
its ``benchmark`` marker's ``timer=`` and ``disable_gc=``) are honoured by
both fixtures: the timer makes both clock reads, and the garbage collector is
off between them only, never for set-up; ``extra_info`` says which were used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import math
import statistics
import time

import pytest

LOOP_OPTION = "--aiter-loop"
PYTEST_EXTRA = "pip install 'aiterbench[pytest]'"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("aiterbench")
    group.addoption(LOOP_OPTION, default="asyncio", metavar="LOOP",
                    help="event loop for aiter_benchmark: asyncio (default), uvloop or rloop")


#: This plugin's fixtures: each asks for ``benchmark`` only when it runs (no pytest-benchmark, one line).
FIXTURES = ("aiter_benchmark", "async_benchmark")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Declare ``benchmark`` for tests that use these fixtures, where a plugin provides it: pytest-benchmark's
    ``--benchmark-only`` and ``--benchmark-skip``, and pytest-codspeed's selection under ``--codspeed``, go by
    the fixtures a test names, and would otherwise skip these benchmarks (or run them) as plain tests."""
    if not (config.pluginmanager.hasplugin("benchmark") or config.pluginmanager.hasplugin("codspeed")):
        return
    for item in items:
        names = getattr(item, "fixturenames", None)
        if isinstance(names, list) and "benchmark" not in names and any(f in names for f in FIXTURES):
            names.append("benchmark")


@dataclasses.dataclass(frozen=True)
class _Timing:
    """How the clock is read, as pytest-benchmark's options (or its ``benchmark`` marker) ask: ``timer`` makes both
    reads, and with ``disable_gc`` the garbage collector is off between them."""

    timer: object
    disable_gc: bool
    name: str

    def info(self) -> dict:
        return {"aiterbench_timer": self.name, "aiterbench_disable_gc": self.disable_gc}


def _timer_name(timer) -> str:
    """The timer by its dotted name (``time.perf_counter``); an instance by its class, without its address."""
    if not callable(timer):
        return repr(timer)
    named = timer if hasattr(timer, "__name__") else type(timer)
    module, name = getattr(named, "__module__", None), getattr(named, "__qualname__", None) or named.__name__
    return f"{module}.{name}" if module else name


def _timing_of(bench, who: str) -> _Timing:
    """pytest-benchmark's timer and GC option for this test, the timer read once: one that cannot give seconds
    fails the test in one line here, not with a traceback from inside a timed round. pytest-codspeed's fixture has
    neither (it measures with its own instrument): the slope behind ``extra_info`` is timed by perf_counter."""
    timer = getattr(bench, "_timer", None) or time.perf_counter  # looked up now: the tests inject a fake clock
    timing = _Timing(timer, bool(getattr(bench, "_disable_gc", False)), _timer_name(timer))
    try:
        value = timer()
    except Exception as exc:  # noqa: BLE001 - any failure of the user's timer is said in one line
        pytest.fail(f"{who}: --benchmark-timer {timing.name} cannot be used: {type(exc).__name__}: {exc}",
                    pytrace=False)
    if not isinstance(value, float):  # an int is most likely nanoseconds (time.perf_counter_ns), read as seconds
        pytest.fail(f"{who}: --benchmark-timer {timing.name} cannot be used: it returned {type(value).__name__}, "
                    "not seconds as a float", pytrace=False)
    return timing


@contextlib.contextmanager
def _gc_off(disable: bool):
    """--benchmark-disable-gc: the garbage collector off for the block (the clock reads and what lies between
    them), and back on after it if it was on."""
    if not (disable and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _InnerClock:
    """pytest-benchmark's timer during a measurement: it advances only by the time measured inside the loop.
    Its name, which pytest-benchmark stores as the timer, says which timer measured it."""

    def __init__(self, timing: _Timing) -> None:
        self.now = 0.0
        self.__name__ = f"{timing.name} via aiterbench"

    def __call__(self) -> float:
        return self.now


class _BadFactory(Exception):
    """The factory gave something that cannot be iterated: the user's mistake, one line."""


@contextlib.asynccontextmanager
async def _opened(factory, n: int):
    """``factory(n)`` made ready, before the clock: awaited if it is a coroutine, entered if it is an async
    context manager (and exited when the block ends, with its exception if it raised)."""
    async with contextlib.AsyncExitStack() as stack:
        obj = factory(n)
        what = type(obj).__name__
        if inspect.isawaitable(obj) and not hasattr(obj, "__aiter__"):
            obj = await obj
            what = f"a coroutine giving {type(obj).__name__}"
        if not hasattr(obj, "__aiter__") and hasattr(obj, "__aenter__") and hasattr(obj, "__aexit__"):
            obj = await stack.enter_async_context(obj)
            what = f"an async context manager giving {type(obj).__name__}"
        if not hasattr(obj, "__aiter__"):
            raise _BadFactory(f"factory({n}) returned {what}, not an async iterable (nor a coroutine or an async "
                              "context manager giving one)")
        yield obj


async def _drained(factory, n: int, timing: _Timing) -> float:
    """Seconds for one pass over a fresh ``factory(n)``.

    The timed region is ``async for`` over it and nothing else: the factory
    ran, was awaited or entered before t0, and the context manager is exited
    after t1. With --benchmark-disable-gc the collector is off from just
    before t0 to just after t1, not while the factory runs.
    """
    timer = timing.timer
    async with _opened(factory, n) as iterable:
        with _gc_off(timing.disable_gc):  # --benchmark-disable-gc: off for the two reads and the pass between
            t0 = timer()  # pytest-benchmark's timer (--benchmark-timer): only the pass lies between t0 and t1
            async for _ in iterable:
                pass
            t1 = timer()
    return t1 - t0


async def _drain(iterable) -> None:
    async for _ in iterable:
        pass


async def _counted(factory, n: int) -> int:
    """Items in a fresh ``factory(n)``, untimed: the check and warm-up before any round."""
    async with _opened(factory, n) as iterable:
        return sum([1 async for _ in iterable])


def _sizes(sizes) -> tuple[int, int]:
    try:
        n1, n2 = sorted(int(n) for n in sizes)
    except (TypeError, ValueError):
        pytest.fail(f"aiter_benchmark: sizes={sizes!r}: expected two different item counts", pytrace=False)
    if n1 < 1 or n1 == n2:
        pytest.fail(f"aiter_benchmark: sizes={sizes!r}: expected two different item counts >= 1", pytrace=False)
    return n1, n2


async def _measured(factory, n1: int, n2: int, rounds: int, warmup_rounds: int, timing: _Timing,
                    recorded: bool = True) -> tuple[dict, list, dict]:
    """Everything the fixture times, on the loop that runs it: (items per size, pytest-benchmark's rounds at
    n2, the slope's rounds per size).

    First each size once, untimed, as a check and a warm-up; then the
    warm-up and timed rounds pytest-benchmark will record (not with
    ``recorded=False``: pytest-codspeed times its own); then both sizes in
    every round, which of them first alternating, so that drift lands on both
    alike.
    """
    items = {n: await _counted(factory, n) for n in (n1, n2)}
    if not rounds:
        return items, [], {}
    timed = []
    if recorded:
        for _ in range(warmup_rounds):
            await _drained(factory, n2, timing)
        timed = [await _drained(factory, n2, timing) for _ in range(rounds)]
    by_size: dict = {n1: [], n2: []}
    for k in range(max(rounds, 6)):
        for n in ((n1, n2) if k % 2 == 0 else (n2, n1)):
            by_size[n].append(await _drained(factory, n, timing))
    return items, timed, by_size


async def _guarded(factory, n1: int, n2: int, rounds: int, warmup_rounds: int, timing: _Timing,
                   recorded: bool = True) -> tuple[dict, list, dict]:
    """``_measured``, with a factory that gives no async iterable failing the test in one line."""
    try:
        return await _measured(factory, n1, n2, rounds, warmup_rounds, timing, recorded)
    except _BadFactory as exc:
        pytest.fail(f"aiter_benchmark: {exc}", pytrace=False)


def _record(bench, timed: list, timing: _Timing, iterations: int = 1) -> None:
    """Hand pytest-benchmark rounds measured elsewhere (seconds per round of ``iterations`` calls): its timer
    advances only by them, so storage, ``--benchmark-compare`` and its JSON are its own (pedantic mode never
    calibrates)."""
    clock = _InnerClock(timing)
    pending = iter([t / iterations for t in timed for _ in range(iterations)])

    def replay() -> None:
        clock.now += next(pending, 0.0)  # with iterations > 1, pytest-benchmark calls once more for the result

    saved = bench._timer
    bench._timer = clock
    try:
        bench.pedantic(replay, rounds=len(timed), iterations=iterations)
    except BaseException:
        bench.has_error = True  # pytest-benchmark then keeps this test's timings out of its JSON and storage
        raise
    finally:
        bench._timer = saved


def _is_codspeed(bench) -> bool:
    """Whether ``benchmark`` is pytest-codspeed's (``--codspeed``): it times a plain function with its own
    instrument, so it is given one to run (its class poses as pytest-benchmark's; ``type`` sees through)."""
    return type(bench).__module__.split(".")[0] == "pytest_codspeed"


@contextlib.contextmanager
def _own_loop(who: str, name: str, what: str):
    """A fresh event loop of ``name`` (a LOOPS key), current while the block runs, closed after it."""
    import asyncio

    from .model.loops import LOOPS

    if _running_loop() is not None:
        pytest.fail(f"{who}: called inside a running event loop (an async test): use "
                    f"'await {who}.in_running_loop({what}, ...)'", pytrace=False)
    if name not in LOOPS:
        pytest.fail(f"{who}: unknown loop {name!r} (choices: {', '.join(LOOPS)})", pytrace=False)
    spec = LOOPS[name]
    if not spec.available:
        pytest.fail(f"{who}: loop {name!r} is not installed: {spec.install}", pytrace=False)
    event_loop = spec.new_loop()
    asyncio.set_event_loop(event_loop)  # code that asks for the current loop gets this one
    if spec.name == "rloop":
        from .model.loops import mend_rloop

        mend_rloop(event_loop)  # its self-pipe sockets would otherwise warn as unclosed in the user's tests
    try:
        yield event_loop, spec
    finally:
        asyncio.set_event_loop(None)
        event_loop.close()


def _test_loop(bench, who: str, what: str):
    """The running loop ``in_running_loop`` measures on; one line when there is none, or under pytest-codspeed."""
    loop = _running_loop()
    if loop is None:
        pytest.fail(f"{who}.in_running_loop: no event loop is running (a plain test): call {who}({what}, ...) "
                    "instead", pytrace=False)
    if _is_codspeed(bench):
        pytest.fail(f"{who}.in_running_loop: pytest-codspeed times a plain function, which cannot run the test's "
                    f"loop while it runs: use the plain {who}(...) in a sync test under --codspeed", pytrace=False)
    return loop


def _running_loop():
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop_identity(loop) -> tuple[str, str]:
    """The running loop's name (a LOOPS key where it is one) and version, for ``extra_info``."""
    from .model.loops import LOOPS

    module = type(loop).__module__.split(".")[0]
    for spec in LOOPS.values():
        if spec.module == module:
            return spec.name, spec.version
    return module, "unknown"


class AiterBenchmark:
    """The ``aiter_benchmark`` fixture's value: call it with a factory of async iterables.

    ``factory(n)`` may return the iterable, a coroutine giving it (``async
    def``: awaited before the clock) or an async context manager giving it
    (entered before the clock, exited after it).
    """

    def __init__(self, benchmark, default_loop: str) -> None:
        self._benchmark = benchmark
        self._default_loop = default_loop

    def __call__(self, factory, *, sizes=(100, 1000), loop: str | None = None, rounds: int = 20,
                 warmup_rounds: int = 2) -> dict:
        """Benchmark ``factory`` on a loop of its own; returns (and records in ``extra_info``) the per-item figures."""
        n1, n2 = _sizes(sizes)
        _check_rounds(rounds, warmup_rounds)
        timing = _timing_of(self._benchmark, "aiter_benchmark")
        with _own_loop("aiter_benchmark", loop or self._default_loop, "factory") as (event_loop, spec):
            codspeed = _is_codspeed(self._benchmark)
            measured = event_loop.run_until_complete(
                _guarded(factory, n1, n2, *self._rounds(rounds, warmup_rounds), timing, recorded=not codspeed))
            if codspeed:
                return self._codspeed(event_loop, factory, measured, n1, n2, spec, rounds, warmup_rounds, timing)
        return self._finish(measured, n1, n2, spec.name, spec.version, timing)

    def _codspeed(self, event_loop, factory, measured, n1: int, n2: int, spec, rounds: int, warmup_rounds: int,
                  timing: _Timing):
        """pytest-codspeed's own measurement: each round it runs ``run_until_complete`` of one drain at n2, the
        factory opened in its set-up and closed in its tear-down, outside what it measures."""

        def setup():
            stack = contextlib.AsyncExitStack()
            iterable = event_loop.run_until_complete(stack.enter_async_context(_opened(factory, n2)))
            return (iterable, stack), {}

        def drain(iterable, stack) -> None:
            event_loop.run_until_complete(_drain(iterable))

        def teardown(iterable, stack) -> None:
            event_loop.run_until_complete(stack.aclose())

        self._benchmark.pedantic(drain, setup=setup, teardown=teardown, rounds=rounds, warmup_rounds=warmup_rounds)
        return self._info(measured, n1, n2, spec.name, spec.version, timing)

    async def in_running_loop(self, factory, *, sizes=(100, 1000), rounds: int = 20, warmup_rounds: int = 2) -> dict:
        """In an async test: benchmark ``factory`` on the test's own running loop (pytest-asyncio's, anyio's).

        The same measurement as the plain call, recorded the same way;
        ``extra_info`` names the running loop and its version.
        """
        loop = _test_loop(self._benchmark, "aiter_benchmark", "factory")
        n1, n2 = _sizes(sizes)
        _check_rounds(rounds, warmup_rounds)
        timing = _timing_of(self._benchmark, "aiter_benchmark")
        name, version = _loop_identity(loop)
        measured = await _guarded(factory, n1, n2, *self._rounds(rounds, warmup_rounds), timing)
        return self._finish(measured, n1, n2, name, version, timing)

    def _rounds(self, rounds: int, warmup_rounds: int) -> tuple[int, int]:
        """Rounds to time: none under --benchmark-disable (each size once, untimed, as a check)."""
        return (0, 0) if getattr(self._benchmark, "disabled", False) else (rounds, warmup_rounds)

    def _finish(self, measured, n1: int, n2: int, loop_name: str, loop_version: str, timing: _Timing) -> dict:
        items, timed, by_size = measured
        bench = self._benchmark
        if not timed:  # --benchmark-disable: pytest-benchmark runs its target once, untimed
            bench.pedantic(lambda: None, rounds=1)
            return {}
        _record(bench, timed, timing)
        return self._info(measured, n1, n2, loop_name, loop_version, timing)

    def _info(self, measured, n1: int, n2: int, loop_name: str, loop_version: str, timing: _Timing) -> dict:
        items, _, by_size = measured
        small, large = statistics.median(by_size[n1]), statistics.median(by_size[n2])
        info = {
            "aiterbench_seconds_per_item": (large - small) / (n2 - n1),
            "aiterbench_fixed_seconds": small - n1 * (large - small) / (n2 - n1),
            "aiterbench_sizes": [n1, n2],
            "aiterbench_items": items[n2],
            "aiterbench_loop": loop_name,
            "aiterbench_loop_version": loop_version,
            **timing.info(),
        }
        self._benchmark.extra_info.update(info)
        return info


class _NotAwaitable(Exception):
    """``fn(...)`` gave no awaitable: the user's mistake, one line."""


async def _first_call(fn, args, kwargs):
    """One untimed call: the check (an awaitable, else one line) and the result the fixture returns."""
    obj = fn(*args, **kwargs)
    if not inspect.isawaitable(obj):
        raise _NotAwaitable(f"{getattr(fn, '__name__', 'fn')}(...) returned {type(obj).__name__}, not an awaitable "
                            "(use pytest-benchmark's benchmark for a plain function)")
    return await obj


async def _timed_calls(fn, args, kwargs, loops: int, timing: _Timing) -> float:
    """Seconds for ``loops`` calls of ``await fn(*args, **kwargs)``, one after another: nothing else is timed
    (with --benchmark-disable-gc, the collector is off from just before t0 to just after t1)."""
    calls, timer = range(loops), timing.timer
    with _gc_off(timing.disable_gc):
        if kwargs:
            t0 = timer()
            for _ in calls:
                await fn(*args, **kwargs)
            t1 = timer()
        else:  # no empty dict unpacked per call: a few ns of a call of tens
            t0 = timer()
            for _ in calls:
                await fn(*args)
            t1 = timer()
    return t1 - t0


def _budget(bench, timing: _Timing) -> tuple[float, float, int]:
    """pytest-benchmark's (minimum time per round, maximum time, minimum rounds), as its options set them."""
    precision = bench._get_precision(timing.timer) if hasattr(bench, "_get_precision") else 1e-7
    if not precision:  # pytest-benchmark's precision is None for a timer that did not move in a second of reads
        pytest.fail(f"async_benchmark: --benchmark-timer {timing.name} cannot be used: it did not advance in a "
                    "second of reads, so calls per round cannot be calibrated", pytrace=False)
    min_time = max(getattr(bench, "_min_time", 5e-6), precision * getattr(bench, "_calibration_precision", 10))
    return min_time, getattr(bench, "_max_time", 1.0), getattr(bench, "_min_rounds", 5)


async def _calibrated(fn, args, kwargs, bench, rounds, iterations, warmup_rounds, timing) -> tuple[list, int]:
    """(seconds per round, calls per round): calibrated as pytest-benchmark calibrates a plain function, unless
    ``rounds`` and ``iterations`` are given. Calls per round grow until a round takes pytest-benchmark's minimum
    time (the fastest of three tries at each count); rounds fill its maximum time, at least its minimum rounds."""
    loops = iterations or 1

    async def fastest() -> float:  # of three: one slow moment of the machine does not pick the count
        return min([await _timed_calls(fn, args, kwargs, loops, timing) for _ in range(3)])

    if iterations is None or rounds is None:  # both given: pytest-benchmark's budget has no say
        min_time, max_time, min_rounds = _budget(bench, timing)
    duration = await fastest()
    while iterations is None and duration < min_time:
        estimate = min_time * 5 / 10
        loops = math.ceil(min_time * loops / duration) if duration >= estimate else loops * 10
        duration = await fastest()
    if rounds is None:
        rounds = max(min_rounds, math.ceil(max_time / max(duration, 1e-9)))
    for _ in range(warmup_rounds):
        await _timed_calls(fn, args, kwargs, loops, timing)
    return [await _timed_calls(fn, args, kwargs, loops, timing) for _ in range(rounds)], loops


class AsyncBenchmark:
    """The ``async_benchmark`` fixture's value: time a coroutine function per call, through pytest-benchmark.

    In a sync test, ``async_benchmark(fn, *args, **kwargs)``: the loop
    (``--aiter-loop``) is made once, outside the clock, and only ``await
    fn(*args, **kwargs)`` runs inside it, as many calls per round as
    pytest-benchmark's minimum time per round asks. In an async test, ``await
    async_benchmark.in_running_loop(fn, *args, **kwargs)``, on the test's own
    loop. Both return what the last call returned. ``pedantic`` chooses the
    loop, the rounds and the calls per round.
    """

    def __init__(self, benchmark, default_loop: str) -> None:
        self._benchmark = benchmark
        self._default_loop = default_loop

    def __call__(self, fn, *args, **kwargs):
        return self.pedantic(fn, args, kwargs)

    def pedantic(self, fn, args=(), kwargs=None, *, loop: str | None = None, rounds: int | None = None,
                 iterations: int | None = None, warmup_rounds: int = 1):
        """``fn(*args, **kwargs)`` timed on a loop of its own (``loop=``: asyncio, uvloop, rloop)."""
        kwargs = dict(kwargs or {})
        _check_calls(rounds, iterations, warmup_rounds)
        timing = _timing_of(self._benchmark, "async_benchmark")
        with _own_loop("async_benchmark", loop or self._default_loop, "fn") as (event_loop, spec):
            result = event_loop.run_until_complete(self._guarded(_first_call(fn, args, kwargs)))
            bench = self._benchmark
            if _is_codspeed(bench):  # its own instrument, around run_until_complete of one call
                def call():
                    return event_loop.run_until_complete(fn(*args, **kwargs))

                if rounds is None and iterations is None:
                    result = bench(call)
                else:
                    result = bench.pedantic(call, rounds=rounds or 1, iterations=iterations or 1,
                                            warmup_rounds=warmup_rounds)
                bench.extra_info.update(self._info(spec.name, spec.version, 1, timing))
                return result
            timed, loops = (None, 1) if getattr(bench, "disabled", False) else event_loop.run_until_complete(
                _calibrated(fn, args, kwargs, bench, rounds, iterations, warmup_rounds, timing))
        return self._finish(result, timed, loops, spec.name, spec.version, timing)

    async def in_running_loop(self, fn, *args, **kwargs):
        """In an async test: ``fn(*args, **kwargs)`` timed on the test's running loop, recorded the same way."""
        loop = _test_loop(self._benchmark, "async_benchmark", "fn")
        timing = _timing_of(self._benchmark, "async_benchmark")
        name, version = _loop_identity(loop)
        result = await self._guarded(_first_call(fn, args, kwargs))
        if getattr(self._benchmark, "disabled", False):
            return self._finish(result, None, 1, name, version, timing)
        timed, loops = await _calibrated(fn, args, kwargs, self._benchmark, None, None, 1, timing)
        return self._finish(result, timed, loops, name, version, timing)

    @staticmethod
    async def _guarded(coro):
        try:
            return await coro
        except _NotAwaitable as exc:
            pytest.fail(f"async_benchmark: {exc}", pytrace=False)

    def _finish(self, result, timed, loops: int, loop_name: str, loop_version: str, timing: _Timing):
        bench = self._benchmark
        if timed is None:  # --benchmark-disable: called once, untimed, as pytest-benchmark does
            bench.pedantic(lambda: None, rounds=1)
            return result
        _record(bench, timed, timing, loops)
        bench.extra_info.update(self._info(loop_name, loop_version, loops, timing))
        return result

    @staticmethod
    def _info(loop_name: str, loop_version: str, loops: int, timing: _Timing) -> dict:
        return {"aiterbench_loop": loop_name, "aiterbench_loop_version": loop_version,
                "aiterbench_calls_per_round": loops, **timing.info()}


def _check_calls(rounds, iterations, warmup_rounds) -> None:
    for name, value, low in (("rounds", rounds, 1), ("iterations", iterations, 1), ("warmup_rounds", warmup_rounds, 0)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            pytest.fail(f"async_benchmark: {name} must be an integer >= {low}", pytrace=False)


def _check_rounds(rounds, warmup_rounds) -> None:
    if not (isinstance(rounds, int) and isinstance(warmup_rounds, int)) or rounds < 1 or warmup_rounds < 0:
        pytest.fail("aiter_benchmark: rounds >= 1 and warmup_rounds >= 0", pytrace=False)


def _benchmark_of(request, who: str):
    try:
        return request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        pytest.fail(f"{who} needs pytest-benchmark: {PYTEST_EXTRA}", pytrace=False)


@pytest.fixture
def aiter_benchmark(request) -> AiterBenchmark:
    """Benchmark an async iterable factory per item, through pytest-benchmark (see ``aiterbench.pytest_plugin``)."""
    return AiterBenchmark(_benchmark_of(request, "aiter_benchmark"), request.config.getoption(LOOP_OPTION))


@pytest.fixture
def async_benchmark(request) -> AsyncBenchmark:
    """Benchmark a coroutine function per call, through pytest-benchmark (see ``aiterbench.pytest_plugin``)."""
    return AsyncBenchmark(_benchmark_of(request, "async_benchmark"), request.config.getoption(LOOP_OPTION))
