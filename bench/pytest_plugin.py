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
"""

from __future__ import annotations

import contextlib
import inspect
import statistics
import time

import pytest

LOOP_OPTION = "--aiter-loop"
PYTEST_EXTRA = "pip install 'aiterbench[pytest]'"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("aiterbench")
    group.addoption(LOOP_OPTION, default="asyncio", metavar="LOOP",
                    help="event loop for aiter_benchmark: asyncio (default), uvloop or rloop")


class _InnerClock:
    """pytest-benchmark's timer during a measurement: it advances only by the time measured inside the loop."""

    __name__ = "aiterbench.inner_perf_counter"

    def __init__(self) -> None:
        self.now = 0.0

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


async def _drained(factory, n: int) -> float:
    """Seconds for one pass over a fresh ``factory(n)``.

    The timed region is ``async for`` over it and nothing else: the factory
    ran, was awaited or entered before t0, and the context manager is exited
    after t1.
    """
    async with _opened(factory, n) as iterable:
        t0 = time.perf_counter()
        async for _ in iterable:
            pass
        t1 = time.perf_counter()
    return t1 - t0


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


async def _measured(factory, n1: int, n2: int, rounds: int, warmup_rounds: int) -> tuple[dict, list, dict]:
    """Everything the fixture times, on the loop that runs it: (items per size, pytest-benchmark's rounds at
    n2, the slope's rounds per size).

    First each size once, untimed, as a check and a warm-up; then the
    warm-up and timed rounds pytest-benchmark will record; then both sizes in
    every round, which of them first alternating, so that drift lands on both
    alike.
    """
    items = {n: await _counted(factory, n) for n in (n1, n2)}
    if not rounds:
        return items, [], {}
    for _ in range(warmup_rounds):
        await _drained(factory, n2)
    timed = [await _drained(factory, n2) for _ in range(rounds)]
    by_size: dict = {n1: [], n2: []}
    for k in range(max(rounds, 6)):
        for n in ((n1, n2) if k % 2 == 0 else (n2, n1)):
            by_size[n].append(await _drained(factory, n))
    return items, timed, by_size


async def _guarded(factory, n1: int, n2: int, rounds: int, warmup_rounds: int) -> tuple[dict, list, dict]:
    """``_measured``, with a factory that gives no async iterable failing the test in one line."""
    try:
        return await _measured(factory, n1, n2, rounds, warmup_rounds)
    except _BadFactory as exc:
        pytest.fail(f"aiter_benchmark: {exc}", pytrace=False)


def _record(bench, timed: list) -> None:
    """Hand pytest-benchmark rounds measured elsewhere: its timer advances only by them, so storage,
    ``--benchmark-compare`` and its JSON are its own (pedantic mode never calibrates)."""
    clock = _InnerClock()
    pending = iter(timed)

    def replay() -> None:
        clock.now += next(pending)

    saved = bench._timer
    bench._timer = clock
    try:
        bench.pedantic(replay, rounds=len(timed), iterations=1)
    finally:
        bench._timer = saved


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
        from .model.loops import LOOPS

        if _running_loop() is not None:
            pytest.fail("aiter_benchmark: called inside a running event loop (an async test): use "
                        "'await aiter_benchmark.in_running_loop(factory, ...)'", pytrace=False)
        name = loop or self._default_loop
        if name not in LOOPS:
            pytest.fail(f"aiter_benchmark: unknown loop {name!r} (choices: {', '.join(LOOPS)})", pytrace=False)
        spec = LOOPS[name]
        if not spec.available:
            pytest.fail(f"aiter_benchmark: loop {name!r} is not installed: {spec.install}", pytrace=False)
        n1, n2 = _sizes(sizes)
        _check_rounds(rounds, warmup_rounds)
        import asyncio

        event_loop = spec.new_loop()
        asyncio.set_event_loop(event_loop)  # factories that ask for the current loop get this one
        if spec.name == "rloop":
            from .model.loops import mend_rloop

            mend_rloop(event_loop)  # its self-pipe sockets would otherwise warn as unclosed in the user's tests
        try:
            measured = event_loop.run_until_complete(_guarded(factory, n1, n2, *self._rounds(rounds, warmup_rounds)))
        finally:
            asyncio.set_event_loop(None)
            event_loop.close()
        return self._finish(measured, n1, n2, spec.name, spec.version)

    async def in_running_loop(self, factory, *, sizes=(100, 1000), rounds: int = 20, warmup_rounds: int = 2) -> dict:
        """In an async test: benchmark ``factory`` on the test's own running loop (pytest-asyncio's, anyio's).

        The same measurement as the plain call, recorded the same way;
        ``extra_info`` names the running loop and its version.
        """
        loop = _running_loop()
        if loop is None:
            pytest.fail("aiter_benchmark.in_running_loop: no event loop is running (a plain test): call "
                        "aiter_benchmark(factory, ...) instead", pytrace=False)
        n1, n2 = _sizes(sizes)
        _check_rounds(rounds, warmup_rounds)
        name, version = _loop_identity(loop)
        measured = await _guarded(factory, n1, n2, *self._rounds(rounds, warmup_rounds))
        return self._finish(measured, n1, n2, name, version)

    def _rounds(self, rounds: int, warmup_rounds: int) -> tuple[int, int]:
        """Rounds to time: none under --benchmark-disable (each size once, untimed, as a check)."""
        return (0, 0) if getattr(self._benchmark, "disabled", False) else (rounds, warmup_rounds)

    def _finish(self, measured, n1: int, n2: int, loop_name: str, loop_version: str) -> dict:
        items, timed, by_size = measured
        bench = self._benchmark
        if not timed:  # --benchmark-disable: pytest-benchmark runs its target once, untimed
            bench.pedantic(lambda: None, rounds=1)
            return {}
        try:
            _record(bench, timed)
        except BaseException:
            bench.has_error = True  # pytest-benchmark then keeps this test's timings out of its JSON and storage
            raise
        small, large = statistics.median(by_size[n1]), statistics.median(by_size[n2])
        info = {
            "aiterbench_seconds_per_item": (large - small) / (n2 - n1),
            "aiterbench_fixed_seconds": small - n1 * (large - small) / (n2 - n1),
            "aiterbench_sizes": [n1, n2],
            "aiterbench_items": items[n2],
            "aiterbench_loop": loop_name,
            "aiterbench_loop_version": loop_version,
        }
        bench.extra_info.update(info)
        return info


def _check_rounds(rounds, warmup_rounds) -> None:
    if not (isinstance(rounds, int) and isinstance(warmup_rounds, int)) or rounds < 1 or warmup_rounds < 0:
        pytest.fail("aiter_benchmark: rounds >= 1 and warmup_rounds >= 0", pytrace=False)


@pytest.fixture
def aiter_benchmark(request) -> AiterBenchmark:
    """Benchmark an async iterable factory per item, through pytest-benchmark (see ``aiterbench.pytest_plugin``)."""
    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        pytest.fail(f"aiter_benchmark needs pytest-benchmark: {PYTEST_EXTRA}", pytrace=False)
    return AiterBenchmark(benchmark, request.config.getoption(LOOP_OPTION))
