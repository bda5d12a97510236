"""One cell in a process of its own (``memory``, ``profile``): set up on a fresh loop, then torn down.

Below ``worker``, which starts those halves: they import this, never the worker,
so the imports inside the measuring side point one way.
"""

from __future__ import annotations

import asyncio

from ..model.cells import Cell
from ..model.loops import LOOPS
from .boot import load_impls
from .sources import Held, workload_of


def cell_setup(cell_name: str, modules, side_path: str | None):
    """For the memory and profile processes: the cell, its factory and source, and a fresh loop, made current.

    Returns (impls package, registry, cell, factory, workload, loop); ``Held().opener(workload)(n)`` sets a
    drain's source up; the caller ends with ``close_cell``.
    """
    impls = load_impls(side_path)
    registry = impls.registry().extended(modules)
    cell, _ = Cell.parse(cell_name)
    factory = registry.factory(cell.impl, cell.workload)
    workload = workload_of(impls, registry, cell.workload)
    loop = LOOPS[cell.loop].new_loop()
    asyncio.set_event_loop(loop)
    return impls, registry, cell, factory, workload, loop


def close_cell(loop, held: Held) -> None:
    """The end of a measuring process (the worker's too): held sources torn down, then the loop closed."""
    try:
        loop.run_until_complete(held.close())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
