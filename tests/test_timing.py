"""The timed region holds the iteration and nothing else: checked with a fake clock."""

from __future__ import annotations

import contextlib

import pytest

from aiterbench.measure.timing import make_time_func

from .conftest import AVAILABLE_LOOPS, LoopRunner


class Recorder:
    def __init__(self):
        self.events: list[str] = []
        self.now = 0.0

    def clock(self) -> float:
        self.events.append("clock")
        self.now += 1.0
        return self.now

    @contextlib.asynccontextmanager
    async def source(self, n):
        self.events.append("setup")
        yield n
        self.events.append("teardown")

    def async_factory(self, n):
        self.events.append("create")
        rec = self

        async def gen():
            for i in range(n):
                rec.events.append("item")
                yield i

        return gen()

    def sync_factory(self, n):
        self.events.append("create")
        for i in range(n):
            self.events.append("item")
            yield i


@pytest.mark.parametrize("loop_name", AVAILABLE_LOOPS)
@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("per_loop_source", [True, False], ids=["source-per-loop", "batch"])
def test_only_creation_and_iteration_sit_between_the_clock_reads(loop_name, is_async, per_loop_source):
    rec = Recorder()
    runner = LoopRunner(loop_name)
    try:
        factory = rec.async_factory if is_async else rec.sync_factory
        time_func = make_time_func(runner.loop, factory, rec.source, 2, is_async, clock=rec.clock,
                                   per_loop_source=per_loop_source)
        total = time_func(3)
    finally:
        runner.close()
    iteration = ["create", "item", "item"]
    if per_loop_source:
        assert rec.events == (["setup", "clock", *iteration, "clock", "teardown"]) * 3
        assert total == 3.0  # each loop's two reads are one fake second apart
    else:
        assert rec.events == ["setup", "clock", *iteration * 3, "clock", "teardown"]
        assert total == 1.0
