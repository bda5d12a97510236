"""``memory``, inside the traced process: bytes held by suspended iterators, allocations per item.

The parent half (``aiterbench.orchestrate.memory``) starts this process per
cell and reads the JSON it writes; ``aiterbench.model.memory`` says what each
figure is.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

#: Iterators made, advanced and closed before tracing: specialization and caches settle first.
WARMUP = 32
#: memray records that give memory back rather than take it.
_FREES = frozenset({"FREE", "MUNMAP", "PYMALLOC_FREE"})


async def _advanced(iterable, is_async: bool):
    """The iterator, as ``async for`` gets it (an iterable, aiohttp's StreamReader, hands out another), one item in."""
    if is_async:
        it = iterable.__aiter__()
        await it.__anext__()
    else:
        it = iter(iterable)
        next(it)
    return it


async def _close(it) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()
    elif hasattr(it, "close"):
        it.close()


async def _held(factory, open_source, live: int, is_async: bool, hooks: bool) -> tuple[int, int]:
    """(bytes traced for ``live`` suspended iterators, tracemalloc's peak above the start while making them)."""
    import gc
    import tracemalloc

    async with open_source(live + WARMUP) as source:  # one item for each iterator to take
        saved = sys.get_asyncgen_hooks()
        if not hooks:
            sys.set_asyncgen_hooks(firstiter=None, finalizer=None)
        kept: list = [None] * live  # allocated before tracing starts
        try:
            for _ in range(WARMUP):
                it = await _advanced(factory(source), is_async)
                await _close(it)
            it = None
            gc.collect()
            gc.disable()
            try:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                for i in range(live):
                    kept[i] = await _advanced(factory(source), is_async)
                it = None
                after, peak = tracemalloc.get_traced_memory()
            finally:
                gc.enable()
        finally:
            for it in kept:
                if it is not None:
                    await _close(it)
            kept = []
            sys.set_asyncgen_hooks(*saved)
    return after - before, peak - before


async def _allocations(factory, open_source, n: int, is_async: bool, path: str) -> tuple[int, int]:
    """(blocks, bytes) memray sees allocated while one iterator of ``n`` items is drained."""
    import memray

    async with open_source(n) as source:
        it = factory(source)
        # Tracked region: the drain only (every __anext__, the last one included); the source and
        # the loop were set up before it. Blocks freed again are counted too: that is the point.
        with memray.Tracker(path, trace_python_allocators=True, native_traces=False):
            if is_async:
                async for _ in it:
                    pass
            else:
                for _ in it:
                    pass
        await _close(it)
    blocks = size = 0
    with memray.FileReader(path) as reader:
        for record in reader.get_allocation_records():
            if memray.AllocatorType(record.allocator).name not in _FREES:
                blocks += record.n_allocations
                size += record.size
    os.unlink(path)
    return blocks, size


def memory_worker(argv) -> None:
    """Measure one cell; write its figures as JSON to ``-o``."""
    import argparse
    import importlib.util
    import tracemalloc

    from .build import build_facts
    from .check import check_cell, is_async_cell
    from .sources import Held
    from .cell import cell_setup, close_cell

    parser = argparse.ArgumentParser(prog="aiterbench.measure.worker --memory")
    parser.add_argument("--cell", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--live", type=int, required=True)
    parser.add_argument("--impl-module", action="append", default=[])
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--check-timeout", type=float, default=10.0)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    _, registry, cell, factory, workload, loop = cell_setup(args.cell, args.impl_module, args.side_path)
    held = Held()
    open_source = held.opener(workload)  # a shared source (http's server) opened once, a drain's part each time
    try:
        check_cell(loop, registry, cell, sizes, args.check_timeout)
        kind = is_async_cell(loop, registry, cell)
        out: dict = {"live": args.live}
        tracemalloc.start()
        alone, _ = loop.run_until_complete(_held(factory, open_source, args.live, kind, hooks=False))
        hooked, out["peak"] = loop.run_until_complete(_held(factory, open_source, args.live, kind, hooks=True))
        out["held"], out["held_hooked"] = alone / args.live, hooked / args.live  # bytes per iterator
        tracemalloc.stop()
        out["memray"] = importlib.util.find_spec("memray") is not None
        if out["memray"]:
            with tempfile.TemporaryDirectory(prefix="aiterbench-memray-") as tmp:
                loop.run_until_complete(_allocations(factory, open_source, sizes[0], kind, os.path.join(tmp, "w")))
                for n in sizes:
                    out[f"allocs@{n}"], out[f"allocated@{n}"] = loop.run_until_complete(
                        _allocations(factory, open_source, n, kind, os.path.join(tmp, f"{n}.bin")))
    finally:
        close_cell(loop, held)
    # How this interpreter was built, read here (after the loop, the impls and memray were imported), for the
    # parent to record as the runs' ``aiterbench_build``.
    out["aiterbench_build"] = build_facts()
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f)
