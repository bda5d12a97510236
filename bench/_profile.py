"""``profile``: where one cell's time goes, per item, with cProfile or pyinstrument.

The profiled process sets up the loop, checks the cell, opens every source
and drains one iterator unprofiled (specialization and caches settle); only
then does the profiler start, around the drains and nothing else. Figures
are divided by the items drained: calls per item are exact with cProfile,
times per item include the profiler's own cost per call, so they rank
functions against each other and are not ``run``'s ns/item.
A profile is never written as a timing result.
"""

from __future__ import annotations

import json
import os
import tempfile

PYINSTRUMENT_EXTRA = "pip install 'aiterbench[profile]'"
PROFILE_TIMEOUT = 600.0
#: pyinstrument samples: it profiles at least this long (more iterators), so that a function gets samples.
SAMPLED_SECONDS = 1.0
#: Sources held open at once for the workloads that need one each (a socket pair, a producer task).
MAX_SOURCES = 200


class ProfileError(ValueError):
    """Bad input or a missing profiler: one line, exit 2."""


# --- inside the profiled process ------------------------------------------------------------

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
    import asyncio
    import contextlib
    import math
    import time

    from ._worker import cell_setup
    from ._timing import check_cell, is_async_cell, prime

    parser = argparse.ArgumentParser(prog="bench._worker --profile")
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
    impls, registry, cell, factory, open_source, loop = cell_setup(args.cell, args.impl_module, args.side_path)
    stateless = cell.workload in impls.STATELESS

    async def drain(source, kind: bool) -> None:
        if kind:
            async for _ in factory(source):
                pass
        else:
            for _ in factory(source):
                pass

    async def profiled(repeat: int, kind: bool, profiler):
        async with contextlib.AsyncExitStack() as stack:
            if stateless:
                sources = [args.n] * repeat
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
            repeat = min(repeat, 100_000 if stateless else MAX_SOURCES)
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
        asyncio.set_event_loop(None)
        loop.close()
    out = {"cell": cell.name, "tool": args.tool, "n": args.n, "repeat": repeat, "items": args.n * repeat,
           "seconds": seconds, "rows": rows}
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f)


# --- the parent -----------------------------------------------------------------------------

def run_profile(cell, tool: str, n: int, repeat: int, modules, env, data_path: str | None) -> dict:
    """Profile ``cell`` in a worker process; its figures, and (if asked) the profile at ``data_path``."""
    from ._boot import command
    from ._results import write_atomic
    from ._run import CHECK_TIMEOUT
    from ._cells import run_for_json

    with tempfile.TemporaryDirectory(prefix="aiterbench-profile-") as tmp:
        out = os.path.join(tmp, "out.json")
        data = os.path.join(tmp, "data")
        cmd = command("--profile", ["--cell", cell.name, "-n", str(n), "--repeat", str(repeat), "--tool", tool,
                                    "--check-timeout", repr(CHECK_TIMEOUT), "-o", out] + (["--data", data] if data_path else []),
                      modules)
        result = run_for_json(cmd, out, PROFILE_TIMEOUT, env, CHECK_TIMEOUT, "profiling")
        if data_path:
            with open(data, "rb") as f:
                write_atomic(data_path, f.read())
    return result


def top_rows(result: dict, top: int) -> list[dict]:
    """The ``top`` functions by own time, with calls and times per item."""
    items = result["items"]
    rows = sorted(result["rows"], key=lambda r: (-r["self_s"], r["function"]))[:top]
    return [{"function": r["function"],
             "calls_per_item": None if r["calls"] is None else r["calls"] / items,
             "self_ns_per_item": r["self_s"] / items * 1e9, "cum_ns_per_item": r["cum_s"] / items * 1e9}
            for r in rows]


def format_profile(result: dict, top: int, fmt: str) -> str:
    from ._table import render

    rows = top_rows(result, top)
    if fmt == "json":
        return json.dumps({"kind": "profile", "cell": result["cell"], "tool": result["tool"], "n": result["n"],
                           "iterators": result["repeat"], "items": result["items"],
                           "profiled_seconds": result["seconds"], "functions": rows}, indent=2) + "\n"
    head = ("function", "calls/item", "own ns/item", "cumulative ns/item")
    body = [(r["function"], "-" if r["calls_per_item"] is None else f"{r['calls_per_item']:.6g}",
             f"{r['self_ns_per_item']:.1f}", f"{r['cum_ns_per_item']:.1f}") for r in rows]
    what = ("calls are exact; times include cProfile's cost per call" if result["tool"] == "cprofile"
            else "pyinstrument samples: no call counts, times from samples")
    foot = (f"{result['cell']}: {result['repeat']} iterators of {result['n']} items ({result['items']:,} items) "
            f"profiled with {result['tool']} in {result['seconds']:.2f} s; {what}. Rank functions with these "
            "figures; take ns/item from 'run'.\n")
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot
