"""The timed region: pyperf time functions for the per-item cost and the latency figures.

Imported by worker processes: keep it free of anything but the standard library.
"""

from __future__ import annotations

import time
from typing import Any, Callable


def make_time_func(loop, factory: Callable[[Any], Any], open_source, n: int, is_async: bool,
                   clock=time.perf_counter, per_loop_source: bool = True):
    """A pyperf time function: ``time_func(loops)`` -> seconds spent in ``loops`` iterations of ``n`` items.

    With ``per_loop_source`` false (workloads whose source is just ``n``), the
    source is opened once and all ``loops`` iterations run between one pair of
    clock reads, so no set-up runs between iterations at all.
    """

    async def timed_batch_async(loops: int) -> float:
        async with open_source(n) as source:
            # Timed region: ``loops`` times, create the iterator and drain it.
            # The loop, run_until_complete and the look-ups are outside; the
            # ``for`` over range(loops) is the only addition (a few ns per
            # iteration, which the fit puts in the fixed cost, not per item).
            t0 = clock()
            for _ in range(loops):
                async for _ in factory(source):
                    pass
            t1 = clock()
        return t1 - t0

    async def timed_batch_sync(loops: int) -> float:
        async with open_source(n) as source:
            # Timed region: as above, with a plain ``for`` for the sync baselines.
            t0 = clock()
            for _ in range(loops):
                for _ in factory(source):
                    pass
            t1 = clock()
        return t1 - t0

    async def timed_async(loops: int) -> float:
        total = 0.0
        for _ in range(loops):
            async with open_source(n) as source:
                # Timed region: create the iterator, drain it, and its last __anext__
                # (which also finishes a generator). Loop creation, run_until_complete,
                # the registry look-up and the source (socket pair, producer task) are
                # set up before t0 and torn down after t1.
                t0 = clock()
                async for _ in factory(source):
                    pass
                t1 = clock()
            total += t1 - t0
        return total

    async def timed_sync(loops: int) -> float:
        total = 0.0
        for _ in range(loops):
            async with open_source(n) as source:
                # Timed region: as above, with a plain ``for`` for the sync baselines.
                t0 = clock()
                for _ in factory(source):
                    pass
                t1 = clock()
            total += t1 - t0
        return total

    if per_loop_source:
        timed = timed_async if is_async else timed_sync
    else:
        timed = timed_batch_async if is_async else timed_batch_sync

    def time_func(loops: int) -> float:
        return loop.run_until_complete(timed(loops))

    return time_func


#: Latency benchmarks a cell gets with ``run --latency``: name suffix -> what is timed.
LATENCY = {
    "first_item": "creating the iterator and receiving its first item",
    "close": "closing a half-consumed iterator (aclose() or close(), if it has one) and dropping it",
}
#: Items in the source of a latency measurement; ``close`` consumes half of them first.
LATENCY_ITEMS = 64
#: Iterators timed per value of a latency benchmark (fixed: see aiterbench.measure.worker).
LATENCY_LOOPS = 40


#: Turns of the loop a latency measurement gives its source before the clock starts: the producer task
#: fills the queue in one, a socket pair's bytes reach the reader's buffer in the next.
PRIME_TURNS = 4


async def prime() -> None:
    """Let the loop run its ready callbacks a few times (a source's producer, a transport's reads)."""
    import asyncio

    for _ in range(PRIME_TURNS):
        await asyncio.sleep(0)


#: What a latency value is at least: pyperf keeps only positive values, and a region no slower than two
#: empty clock reads (the clock's own cost, subtracted) is below what the clock can tell.
CLOCK_FLOOR = 1e-12


def make_latency_func(loop, factory: Callable[[Any], Any], open_source, metric: str, is_async: bool,
                      clock=time.perf_counter):
    """A pyperf time function for one of ``LATENCY``: ``time_func(loops)`` -> seconds summed over ``loops``.

    Each figure is tens of nanoseconds, about what two reads of the clock cost
    here, so every iteration also times the empty region (two clock reads with
    nothing between them) right before its own, in the same process and loop
    state, and subtracts it: the figure is the region's cost above the clock's.
    """
    half = LATENCY_ITEMS // 2
    close_name = "aclose" if is_async else "close"

    async def first_item(loops: int) -> float:
        total = 0.0
        for _ in range(loops):
            async with open_source(LATENCY_ITEMS) as source:
                await prime()
                e0 = clock()  # the empty region: the clock's own cost, subtracted below
                e1 = clock()
                # Timed region: the factory call, __aiter__ and the first item, as ``async for`` does
                # them. The source (socket pair, producer task) was set up and primed before t0; the
                # iterator is closed after t1.
                t0 = clock()
                it = factory(source)
                if is_async:
                    await it.__aiter__().__anext__()
                else:
                    next(iter(it))
                t1 = clock()
                closer = getattr(it, close_name, None)
                if closer is not None and is_async:
                    await closer()
                elif closer is not None:
                    closer()
                del it, closer
            total += (t1 - t0) - (e1 - e0)
        return max(total, CLOCK_FLOOR)

    async def close(loops: int) -> float:
        total = 0.0
        for _ in range(loops):
            async with open_source(LATENCY_ITEMS) as source:
                iterable = factory(source)
                # The iterator, as ``async for`` gets it: an iterable (aiohttp's StreamReader) hands out another.
                it = iterable.__aiter__() if is_async else iter(iterable)
                del iterable
                for _ in range(half):
                    if is_async:
                        await it.__anext__()
                    else:
                        next(it)
                closer = getattr(it, close_name, None)  # looked up before t0: the harness's part, not the iterator's
                e0 = clock()  # the empty region: the clock's own cost, subtracted below
                e1 = clock()
                # Timed region: close the half-consumed iterator (aclose() or close(), if it has one) and
                # drop the last reference, its deallocation included: a class iterator has nothing else.
                if closer is None:
                    t0 = clock()
                    del it
                    t1 = clock()
                elif is_async:
                    t0 = clock()
                    await closer()
                    del it, closer
                    t1 = clock()
                else:
                    t0 = clock()
                    closer()
                    del it, closer
                    t1 = clock()
            total += (t1 - t0) - (e1 - e0)
        return max(total, CLOCK_FLOOR)

    timed = {"first_item": first_item, "close": close}[metric]

    def time_func(loops: int) -> float:
        return loop.run_until_complete(timed(loops))

    return time_func
