"""pytest plugin: the ``aiter_benchmark`` fixture times async iterators per item through pytest-benchmark.

Registered through the ``pytest11`` entry point, so it is active wherever
aiterbench is installed; it imports nothing heavy until the fixture is used.
pytest-benchmark cannot time a coroutine; this fixture runs the event loop
itself and hands pytest-benchmark only the time spent iterating::

    def test_numbers(aiter_benchmark):
        aiter_benchmark(lambda n: numbers(n), sizes=(100, 1000))

``factory(n)`` makes a fresh async iterable of ``n`` items (its set-up, say
opening a connection, belongs in the factory: it runs before the clock).
The timed region is ``async for`` over it, nothing else: the loop is made
once, outside, and each round's iterable is made before its clock read.
pytest-benchmark's statistics are for the larger size; ``extra_info`` gets
seconds per item (the slope over the two sizes, so that the fixed cost of
starting an iteration cancels), the sizes, the loop and its version.

The loop: ``loop=`` in the call, else ``--aiter-loop`` (asyncio, uvloop,
rloop), else asyncio.
"""

from __future__ import annotations

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


class AiterBenchmark:
    """The ``aiter_benchmark`` fixture's value: call it with a factory of async iterables."""

    def __init__(self, benchmark, default_loop: str) -> None:
        self._benchmark = benchmark
        self._default_loop = default_loop

    def __call__(self, factory, *, sizes=(100, 1000), loop: str | None = None, rounds: int = 20,
                 warmup_rounds: int = 2) -> dict:
        """Benchmark ``factory``; returns (and records in ``extra_info``) the per-item figures."""
        from .model.loops import LOOPS

        name = loop or self._default_loop
        if name not in LOOPS:
            pytest.fail(f"aiter_benchmark: unknown loop {name!r} (choices: {', '.join(LOOPS)})", pytrace=False)
        spec = LOOPS[name]
        if not spec.available:
            pytest.fail(f"aiter_benchmark: loop {name!r} is not installed: {spec.install}", pytrace=False)
        try:
            n1, n2 = sorted(int(n) for n in sizes)
        except (TypeError, ValueError):
            pytest.fail(f"aiter_benchmark: sizes={sizes!r}: expected two different item counts", pytrace=False)
        if n1 < 1 or n1 == n2:
            pytest.fail(f"aiter_benchmark: sizes={sizes!r}: expected two different item counts >= 1", pytrace=False)
        if rounds < 1 or warmup_rounds < 0:
            pytest.fail("aiter_benchmark: rounds >= 1 and warmup_rounds >= 0", pytrace=False)

        clock = _InnerClock()
        bench = self._benchmark
        import asyncio

        event_loop = spec.new_loop()
        asyncio.set_event_loop(event_loop)  # factories that ask for the current loop get this one
        if spec.name == "rloop":
            from .model.loops import mend_rloop

            mend_rloop(event_loop)  # its self-pipe sockets would otherwise warn as unclosed in the user's tests

        async def count(iterable) -> int:
            return sum([1 async for _ in iterable])

        async def drain(iterable) -> None:
            # Timed region: ``async for`` over the fresh iterable, nothing else (items are counted in the
            # untimed check below, not here). The loop was made above and run_until_complete's task is
            # already running; the factory ran before t0.
            t0 = time.perf_counter()
            async for _ in iterable:
                pass
            t1 = time.perf_counter()
            clock.now += t1 - t0

        def run(iterable) -> None:
            event_loop.run_until_complete(drain(iterable))

        def timed(n: int) -> float:
            iterable = factory(n)
            before = clock.now
            run(iterable)
            return clock.now - before

        def slope_rounds(rounds: int) -> dict:
            """Both sizes in every round, which of them first alternating: drift lands on both alike."""
            out: dict = {n1: [], n2: []}
            for k in range(rounds):
                for n in ((n1, n2) if k % 2 == 0 else (n2, n1)):
                    out[n].append(timed(n))
            return out

        try:
            # Before pytest-benchmark opens a record (a bad factory must not leave an empty one), untimed:
            # each size once, as a check and a warm-up.
            items = {}
            for n in (n1, n2):
                iterable = factory(n)
                if not hasattr(iterable, "__aiter__"):
                    pytest.fail(f"aiter_benchmark: factory({n}) returned {type(iterable).__name__}, "
                                "not an async iterable", pytrace=False)
                items[n] = event_loop.run_until_complete(count(iterable))
            if getattr(bench, "disabled", False):  # --benchmark-disable: pytest-benchmark runs it once, untimed
                bench.pedantic(run, setup=lambda: ((factory(n2),), {}), rounds=1)
                return {}
            saved = bench._timer
            bench._timer = clock  # pedantic mode never calibrates, so the timer only has to tell time
            try:
                bench.pedantic(run, setup=lambda: ((factory(n2),), {}), rounds=rounds, warmup_rounds=warmup_rounds,
                               iterations=1)
            finally:
                bench._timer = saved
            try:
                by_size = slope_rounds(max(rounds, 6))
                small, large = statistics.median(by_size[n1]), statistics.median(by_size[n2])
            except BaseException:
                bench.has_error = True  # pytest-benchmark then keeps this test's timings out of its JSON and storage
                raise
        finally:
            asyncio.set_event_loop(None)
            event_loop.close()
        info = {
            "aiterbench_seconds_per_item": (large - small) / (n2 - n1),
            "aiterbench_fixed_seconds": small - n1 * (large - small) / (n2 - n1),
            "aiterbench_sizes": [n1, n2],
            "aiterbench_items": items[n2],
            "aiterbench_loop": spec.name,
            "aiterbench_loop_version": spec.version,
        }
        bench.extra_info.update(info)
        return info


@pytest.fixture
def aiter_benchmark(request) -> AiterBenchmark:
    """Benchmark an async iterable factory per item, through pytest-benchmark (see ``aiterbench.pytest_plugin``)."""
    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        pytest.fail(f"aiter_benchmark needs pytest-benchmark: {PYTEST_EXTRA}", pytrace=False)
    return AiterBenchmark(benchmark, request.config.getoption(LOOP_OPTION))
