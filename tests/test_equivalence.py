"""Every impl yields the same values and behaves the same at the edges, on every loop.

Written once, parametrized over every (impl, workload) pair and every installed loop.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiterbench import impls
from aiterbench.measure.check import NotEquivalent, check_equivalence, collect, first_difference

from .conftest import ASYNC_PAIRS, AVAILABLE_LOOPS, PAIRS, on_loop

REG = impls.registry()
SMALL = settings(max_examples=12, deadline=None)
pairs = pytest.mark.parametrize(("impl", "workload"), PAIRS, ids=[f"{i}/{w}" for i, w in PAIRS])
async_pairs = pytest.mark.parametrize(("impl", "workload"), ASYNC_PAIRS, ids=[f"{i}/{w}" for i, w in ASYNC_PAIRS])
loops = pytest.mark.parametrize("loop", AVAILABLE_LOOPS)


def is_async(it) -> bool:
    return hasattr(it, "__aiter__")


@pairs
@loops
@SMALL
@given(n=st.one_of(st.sampled_from([0, 1, 63, 64, 65]), st.integers(0, 300)))
def test_same_sequence_for_every_n(impl, workload, loop, n):
    async def scenario():
        async with REG.open(impl, n, workload) as it:
            return await collect(it)

    assert on_loop(loop, scenario) == REG.expected(workload, n)


@pairs
@loops
@pytest.mark.parametrize("n", [0, 1, 5])
def test_exhausted_iterator_keeps_raising(impl, workload, loop, n):
    async def scenario():
        async with REG.open(impl, n, workload) as it:
            assert await collect(it) == REG.expected(workload, n)
            # Through __aiter__, as `async for` does: an iterable (aiohttp's StreamReader) makes a fresh iterator.
            for _ in range(3):
                if is_async(it):
                    with pytest.raises(StopAsyncIteration):
                        await it.__aiter__().__anext__()
                else:
                    with pytest.raises(StopIteration):
                        next(iter(it))

    on_loop(loop, scenario)


@pairs
@loops
@SMALL
@given(data=st.data())
def test_break_early_leaves_nothing_behind(impl, workload, loop, data):
    n = data.draw(st.integers(1, 200), label="n")
    stop = data.draw(st.integers(0, n - 1), label="break after")

    async def scenario():
        seen = []
        async with REG.open(impl, n, workload) as it:
            if is_async(it):
                async for x in it:
                    if len(seen) == stop:
                        break
                    seen.append(x)
            else:
                for x in it:
                    if len(seen) == stop:
                        break
                    seen.append(x)
        return seen

    assert on_loop(loop, scenario) == REG.expected(workload, stop)


@pairs
@loops
@SMALL
@given(data=st.data())
def test_cancelling_the_consumer_leaves_nothing_behind(impl, workload, loop, data):
    n = data.draw(st.integers(1, 200), label="n")
    after = data.draw(st.integers(0, n), label="cancel after")

    async def consume(it, seen):
        if is_async(it):
            async for x in it:
                seen.append(x)
                await asyncio.sleep(0)  # a point where the cancellation can land
        else:
            for x in it:
                seen.append(x)
                await asyncio.sleep(0)

    async def scenario():
        seen = []
        async with REG.open(impl, n, workload) as it:
            task = asyncio.ensure_future(consume(it, seen))
            while len(seen) < after and not task.done():
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
        return seen, cancelled

    seen, cancelled = on_loop(loop, scenario)
    assert seen == REG.expected(workload, len(seen))
    assert cancelled or seen == REG.expected(workload, n)


PRODUCER_PAIRS = [(i, w) for i, w in ASYNC_PAIRS if w in ("queue", "stream")]


def failing_source(workload: str, k: int) -> dict:
    """Source options whose producer fails after k good items, with ValueError on the consumer side."""
    if workload == "queue":

        def items():
            yield from range(k)
            raise ValueError("producer failed")

        return {"items": items()}
    return {"lines": [b"%d\n" % i for i in range(k)] + [b"not a number\n", b"99\n"]}


@pytest.mark.parametrize(("impl", "workload"), PRODUCER_PAIRS, ids=[f"{i}/{w}" for i, w in PRODUCER_PAIRS])
@loops
@SMALL
@given(k=st.integers(0, 150))
def test_producer_error_reaches_the_consumer(impl, workload, loop, k):
    async def scenario():
        seen = []
        async with REG.open(impl, k + 50, workload, **failing_source(workload, k)) as it:
            with pytest.raises(ValueError):
                async for x in it:
                    seen.append(x)
        return seen

    assert on_loop(loop, scenario) == list(range(k))


def test_first_difference_names_the_item():
    assert first_difference([0, 1, 2], [0, 1, 2]) is None
    assert first_difference([0, 1, 2], [0, 5, 2]) == "item 1 is 5, expected 1"
    assert first_difference([0, 1, 2], [0, 1]) == "stopped after 2 items, expected 3"
    assert first_difference([0], [0, 1]) == "yielded 2 items, expected 1 (item 1 is 1)"
    assert first_difference([1], [True]) == "item 0 is True, expected 1"


@loops
def test_a_wrong_plugin_is_refused_with_the_first_difference(loop, tmp_path):
    plugin = tmp_path / "skipper.py"
    plugin.write_text(
        "async def skip_two(n):\n"
        "    for i in range(n):\n"
        "        if i != 2:\n"
        "            yield i\n"
        "IMPLS = {'skipper': {'family': 'asyncgen', 'workloads': {'none': skip_two}}}\n"
    )
    reg = impls.registry().extended([str(plugin)])
    with pytest.raises(NotEquivalent, match=r"skipper/none .* at n=16: item 2 is 3, expected 2"):
        on_loop(loop, check_equivalence, reg, "skipper", "none", [16])


class _Lines:
    """A stand-in for aiohttp's body: counts ``readline()`` calls and iterations through its own ``__aiter__``."""

    def __init__(self, n: int) -> None:
        self.lines = [b"%d\n" % i for i in range(n)]
        self.readlines = self.own_iterations = 0

    async def readline(self) -> bytes:
        self.readlines += 1
        return self.lines.pop(0) if self.lines else b""

    def __aiter__(self):
        self.own_iterations += 1
        return self._own()

    async def _own(self):
        while line := await self.readline():
            yield line


@pytest.mark.parametrize("impl", ["asyncgen", "class_anext"])
def test_the_two_forms_read_http_lines_the_same_way(impl):
    """Their ratio is the form's alone: both call ``readline()`` per line, neither goes through the body's own
    iterator (which would add a layer, as ``asyncgen_over_aiohttp_lines`` does on purpose)."""
    body = _Lines(5)
    got = asyncio.run(collect(REG.factory(impl, "http")(body)))
    assert got == REG.expected("http", 5)
    assert (body.readlines, body.own_iterations) == (6, 0)


def test_the_layered_generator_goes_through_the_body_s_own_iterator():
    body = _Lines(5)
    got = asyncio.run(collect(REG.factory("asyncgen_over_aiohttp_lines", "http")(body)))
    assert got == REG.expected("http", 5) and body.own_iterations == 1
