"""The order inside rounds: cells, sizes and sides each take every place equally often, independently."""

from __future__ import annotations

import collections
import itertools

import pytest

from aiterbench.measure.worker import measuring_order
from aiterbench.orchestrate.rounds import balance_unit, balanced_rounds, side_order, slot


@pytest.mark.parametrize("cells, sizes", [(3, 3), (2, 3), (5, 3), (1, 3), (4, 2)])
def test_every_cell_and_size_pair_takes_every_slot_equally_often(cells, sizes):
    names = [f"c{i}" for i in range(cells)]
    ns = [16 * 16**i for i in range(sizes)]
    unit = balance_unit(cells, sizes)
    slots = collections.Counter()
    for rnd in range(3 * unit):
        for place, (cell, order) in enumerate(measuring_order(names, ns, rnd)):
            for size_place, n in enumerate(order):
                slots[(cell, n, place, size_place)] += 1
    assert set(slots.values()) == {3}  # every (cell, size) in every (cell place, size place), three times
    assert len(slots) == (cells * sizes) ** 2


def test_the_cell_that_opens_a_process_opens_it_at_every_size():
    """Rotated by one index, cells and sizes pinned each cell to one opening size (class_anext at n=16)."""
    heads = {(order[0][0], order[0][1][0]) for rnd in range(9)
             for order in [measuring_order(["a", "b", "c"], [16, 256, 4096], rnd)]}
    assert len(heads) == 9


@pytest.mark.parametrize("cells, sizes", [(1, 3), (2, 2), (3, 3), (4, 3)])
def test_side_order_is_balanced_independently_of_cell_and_size_order(cells, sizes):
    unit = balance_unit(cells, sizes, 2)
    combos = collections.Counter()
    names, ns = [f"c{i}" for i in range(cells)], [16 * 16**i for i in range(sizes)]
    for rnd in range(unit):
        first_side = side_order(rnd, 2)[0]
        order = measuring_order(names, ns, slot(rnd, 2))
        combos[(first_side, order[0][0], order[0][1][0])] += 1
    assert set(combos.values()) == {1} and len(combos) == 2 * cells * sizes


def test_every_two_rounds_of_ab_put_each_side_first_once():
    """Sides are the fastest digit: wherever a sequential ab stops (after an even round), they are balanced."""
    for stop in range(2, 40, 2):
        firsts = collections.Counter(side_order(rnd, 2)[0] for rnd in range(stop))
        assert firsts[0] == firsts[1] == stop // 2
    # and both sides of a round measure in one order: the round's slot, shared by the pair
    assert slot(6, 2) == slot(7, 2) == 3


@pytest.mark.parametrize("rounds, cells, sides, sizes, expected", [(15, 5, 1, 3, 15), (15, 3, 1, 3, 18), (16, 1, 2, 3, 18),
                                                                    (5, 2, 1, 2, 8), (6, 1, 1, 2, 6)])
def test_rounds_are_rounded_up_to_whole_units(rounds, cells, sides, sizes, expected):
    assert balanced_rounds(rounds, cells, sizes, sides) == expected
    assert all(balanced_rounds(r, cells, sizes, sides) % balance_unit(cells, sizes, sides) == 0
               for r in itertools.islice(range(1, 40), 10))


@pytest.mark.parametrize("workload", ["queue", "stream"])
def test_queue_and_stream_are_measured_from_one_batch_up_by_default(workload):
    """Below one batch (64) a queue never fills and a stream is one read: another regime, kept out of the fit."""
    from aiterbench import impls
    from aiterbench.orchestrate.rounds import AB_QUICK, FULL, QUICK, STEADY_SIZES

    for budget in (QUICK, FULL, AB_QUICK):
        assert min(budget.sizes_for(workload)) >= impls.STEADY_FROM[workload]
        assert len(budget.sizes_for(workload)) == len(budget.sizes)  # the same balance unit for every group
    assert FULL.sizes_for(workload) == STEADY_SIZES
    assert FULL.sizes_for("none") == FULL.sizes == (16, 256, 4096)
    # run --quick and ab --quick read slopes only: the smallest and the largest size of each.
    for budget in (QUICK, AB_QUICK):
        assert budget.sizes_for(workload) == (STEADY_SIZES[0], STEADY_SIZES[-1])
        assert budget.sizes_for("none") == budget.sizes == (16, 4096)


def test_sizes_asked_for_apply_to_every_workload_with_a_note(capsys):
    import argparse

    from aiterbench.cli._common import budget
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.rounds import below_steady

    args = argparse.Namespace(quick=True, sizes="16,256", rounds=None, min_time=None, cell_timeout=None, values=None,
                              seconds=None, latency=False)
    chosen = budget(args)
    cells = [Cell("asyncgen", "queue", "asyncio"), Cell("asyncgen", "none", "asyncio")]
    assert chosen.sizes_for("queue") == chosen.sizes_for("none") == (16, 256)
    note = below_steady(cells, chosen)
    assert note and "queue below n=64" in note and "mixes" in note
    args.sizes = "64,256"
    assert below_steady(cells, budget(args)) is None
    args.sizes = None
    assert below_steady(cells, budget(args)) is None


def test_a_worker_of_a_queue_group_is_given_the_queue_sizes(tmp_path):
    from aiterbench.model.cells import Cell
    from aiterbench.orchestrate.rounds import FULL, STEADY_SIZES, Side, _worker_cmd

    cmd = _worker_cmd(Side(), [Cell("asyncgen", "queue", "asyncio")], FULL, (), str(tmp_path / "o.json"), [])
    assert cmd[cmd.index("--sizes") + 1] == ",".join(map(str, STEADY_SIZES))
    assert [n for n in FULL.names(Cell("asyncgen", "queue", "asyncio"))] == [
        f"asyncgen/queue/asyncio@n={n}" for n in STEADY_SIZES]
