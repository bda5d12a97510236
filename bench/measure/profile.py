"""``profile``, inside the profiled process: the profiler around the drains and nothing else.

The loop, the check, every source and one unprofiled warm-up drain come
first; the parent half (``aiterbench.orchestrate.profile``) reads the rows this
process writes as JSON.
"""

from __future__ import annotations

import json
import os

#: pyinstrument samples: it profiles at least this long (more iterators), so that a function gets samples.
SAMPLED_SECONDS = 1.0
#: Sources held open at once for the workloads that need one each (a socket pair, a producer task).
MAX_SOURCES = 200


def _where(filename: str, line: int, func: str) -> str:
    if filename == "~":  # a built-in: pstats spells it {method 'x' of 'y' objects}
        return func
    parent = os.path.basename(os.path.dirname(filename))
    return f"{parent}/{os.path.basename(filename)}:{line}({func})"


def _cprofile_rows(profiler) -> list[dict]:
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        if "_lsprof.Profiler" in func:
            continue  # the profiler switching itself off
        rows.append({"function": _where(filename, line, func), "calls": calls, "self_s": tottime, "cum_s": cumtime})
    return rows


def _pyinstrument_rows(session) -> list[dict]:
    totals: dict = {}

    def walk(frame) -> None:
        if (frame.function or "").startswith("["):  # pyinstrument's [self], [await]: its parent counts that time
            return
        key = _where(frame.file_path or "~", frame.line_no or 0, frame.function or "?")
        row = totals.setdefault(key, {"function": key, "calls": None, "self_s": 0.0, "cum_s": 0.0})
        row["self_s"] += frame.total_self_time
        row["cum_s"] += frame.time
        for child in frame.children:
            walk(child)

    root = session.root_frame()
    if root is not None:
        walk(root)
    return list(totals.values())


class _Switch:
    """A profiler's on and off, by any names."""

    def __init__(self, start, stop) -> None:
        self.start, self.stop = start, stop


def profile_worker(argv) -> None:
    import argparse
    import contextlib
    import math
    import time

    from .check import check_cell, is_async_cell
    from .timing import prime
    from .sources import Held
    from .cell import cell_setup, close_cell

    parser = argparse.ArgumentParser(prog="aiterbench.measure.worker --profile")
    parser.add_argument("--cell", required=True)
    parser.add_argument("-n", type=int, required=True)
    parser.add_argument("--repeat", type=int, required=True)
    parser.add_argument("--tool", choices=("cprofile", "pyinstrument"), required=True)
    parser.add_argument("--impl-module", action="append", default=[])
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--check-timeout", type=float, default=10.0)
    parser.add_argument("--data", default=None, help="write pstats data / pyinstrument HTML here")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    _, registry, cell, factory, workload, loop = cell_setup(args.cell, args.impl_module, args.side_path)
    batched = workload.batched  # one source value serves every drain (none, sleep0)
    held = Held()
    open_source = held.opener(workload)  # a shared source (http's server) opened once, a drain's part each time

    async def drain(source, kind: bool) -> None:
        if kind:
            async for _ in factory(source):
                pass
        else:
            for _ in factory(source):
                pass

    async def profiled(repeat: int, kind: bool, profiler):
        async with contextlib.AsyncExitStack() as stack:
            if batched:
                sources = [await stack.enter_async_context(open_source(args.n))] * repeat
            else:
                sources = [await stack.enter_async_context(open_source(args.n)) for _ in range(repeat)]
            await prime()  # producers started, first bytes read: not the iteration's work
            # Profiled region: the drains only. The loop, the sources (socket pairs, producer tasks)
            # and the look-ups were made above; the sources close after the profiler stops.
            start = time.perf_counter()
            profiler.start()
            for source in sources:
                await drain(source, kind)
            profiler.stop()
            return time.perf_counter() - start

    try:
        check_cell(loop, registry, cell, [args.n], args.check_timeout)
        kind = is_async_cell(loop, registry, cell)
        warm = loop.run_until_complete(profiled(1, kind, _Switch(lambda: None, lambda: None)))  # unprofiled: warm-up, and one drain's time
        repeat = args.repeat
        if args.tool == "pyinstrument":
            from pyinstrument import Profiler

            repeat = max(repeat, math.ceil(SAMPLED_SECONDS / max(warm, 1e-6)))
            repeat = min(repeat, 100_000 if batched else MAX_SOURCES)
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            seconds = loop.run_until_complete(profiled(repeat, kind, profiler))
            rows = _pyinstrument_rows(profiler.last_session)
            if args.data:
                with open(args.data, "w", encoding="utf-8") as f:
                    f.write(profiler.output_html())
        else:
            import cProfile

            profiler = cProfile.Profile()
            seconds = loop.run_until_complete(profiled(repeat, kind, _Switch(profiler.enable, profiler.disable)))
            rows = _cprofile_rows(profiler)
            if args.data:
                profiler.dump_stats(args.data)
    finally:
        close_cell(loop, held)
    out = {"cell": cell.name, "tool": args.tool, "n": args.n, "repeat": repeat, "items": args.n * repeat,
           "seconds": seconds, "rows": rows}
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f)
