"""The behaviour tests' loop runner: a scenario's own leak still fails its test, whatever ran before it."""

from __future__ import annotations

import pytest

from .conftest import AVAILABLE_LOOPS, on_loop


async def _never() -> None:
    pass


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_a_coroutine_left_unawaited_in_a_cycle_warns_inside_its_own_scenario(loop):
    """The runner hides what was alive before the scenario from the collector (gc.freeze), and collects fully
    at its end: a cycle the scenario made, holding a coroutine never awaited, is found then."""
    import gc

    before = [object() for _ in range(1000)]  # an earlier test's objects, frozen by the runner

    async def scenario():
        cycle: list = []
        cycle.append(cycle)
        cycle.append(_never())

    with pytest.warns(RuntimeWarning, match="never awaited"):
        on_loop(loop, scenario)
    assert gc.get_freeze_count() >= len(before)
