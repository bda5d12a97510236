"""``memory``: what an iterator holds while suspended, and what it allocates per item.

Per cell, in a worker process of its own (clean environment, like every
measuring process):

- **held**: bytes held by one live, suspended iterator (made, advanced by one
  item, not finished), traced by tracemalloc. Averaged over ``live``
  iterators alive at once, so that a list or a set growing in steps, or a
  free list, does not decide the figure. Measured twice: with the
  asyncgen hooks switched off (the object alone) and with the loop's own
  hooks, which keep a weak reference to every async generator they see;
- **peak**: tracemalloc's peak over those ``live`` iterators, loop hooks on:
  a server holding one iterator per connection;
- **allocations per item** and **bytes allocated per item** while draining,
  every block counted (freed or not) by memray, at two sizes; the
  difference quotient cancels the iterator's creation and its last step.
  tracemalloc only sees what is still alive, so it cannot count these;
  without memray the two columns stay empty.

Figures are stored as a pyperf file (``aiterbench_kind`` ``memory``), one
benchmark per cell and figure, one run per worker process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

from ._results import KIND_MEMORY

#: Iterators alive at once for ``held`` and ``peak``.
LIVE = 10_000
#: The two sizes of the allocation slope.
SIZES = (1000, 3000)
#: Processes per cell: the figures of each are shown side by side (they agree, or the table says so).
PROCESSES = 2
#: Iterators made, advanced and closed before tracing: specialization and caches settle first.
WARMUP = 32
MEMORY_TIMEOUT = 120.0
MEMRAY_EXTRA = "pip install 'aiterbench[memory]'"
#: memray records that give memory back rather than take it.
_FREES = frozenset({"FREE", "MUNMAP", "PYMALLOC_FREE"})


class MemoryError_(ValueError):
    """Bad input: one line, exit 2."""


# --- inside the measuring process -----------------------------------------------------------

async def _advance(it, is_async: bool) -> None:
    if is_async:
        await it.__anext__()
    else:
        next(it)


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
                it = factory(source)
                await _advance(it, is_async)
                await _close(it)
            it = None
            gc.collect()
            gc.disable()
            try:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                for i in range(live):
                    it = factory(source)
                    await _advance(it, is_async)
                    kept[i] = it
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
    import asyncio
    import importlib.util
    import tracemalloc

    from ._worker import cell_setup
    from ._timing import check_cell, is_async_cell

    parser = argparse.ArgumentParser(prog="bench._worker --memory")
    parser.add_argument("--cell", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--live", type=int, required=True)
    parser.add_argument("--impl-module", action="append", default=[])
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--check-timeout", type=float, default=10.0)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    _, registry, cell, factory, open_source, loop = cell_setup(args.cell, args.impl_module, args.side_path)
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
        asyncio.set_event_loop(None)
        loop.close()
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(out, f)


# --- the parent -----------------------------------------------------------------------------

#: Benchmark suffixes in a memory file: figure -> (pyperf unit, what it is).
FIGURES = {
    "held": ("byte", "bytes per suspended iterator, the object alone (asyncgen hooks off)"),
    "held_hooked": ("byte", "bytes per suspended iterator with the loop's asyncgen hooks"),
    "peak": ("byte", "tracemalloc peak for LIVE suspended iterators alive at once, loop hooks on"),
    "allocs": ("integer", "blocks allocated (memray) while draining n items"),
    "allocated": ("byte", "bytes allocated (memray) while draining n items"),
}


@dataclasses.dataclass(frozen=True)
class Memory:
    """One cell's figures, per process: every list holds one value per worker process."""

    cell: object
    live: int
    held: tuple[float, ...]
    held_hooked: tuple[float, ...]
    peak: tuple[float, ...]
    #: Per process: blocks and bytes allocated per item (difference quotient over two sizes); empty without memray.
    allocs_per_item: tuple[float, ...] = ()
    bytes_per_item: tuple[float, ...] = ()
    sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (self.held and len(self.held) == len(self.held_hooked) == len(self.peak)):
            raise ValueError(f"{self.cell}: memory figures of unequal length")

    @property
    def hooks_cost(self) -> float:
        """Bytes the loop's asyncgen hooks add per iterator (median over processes)."""
        return statistics.median(self.held_hooked) - statistics.median(self.held)


def measure_cell(cell, modules, env, live: int, sizes, processes: int, check_timeout: float) -> dict:
    """Run ``processes`` workers for one cell; their figures (RuntimeError with a one-line reason on failure)."""
    from ._boot import command
    from ._cells import run_for_json

    runs = []
    with tempfile.TemporaryDirectory(prefix="aiterbench-memory-") as tmp:
        for k in range(processes):
            out = os.path.join(tmp, f"{k}.json")
            cmd = command("--memory", ["--cell", cell.name, "--live", str(live), "--sizes", ",".join(map(str, sizes)),
                                       "--check-timeout", repr(check_timeout), "-o", out], modules)
            start = time.monotonic()
            figures = run_for_json(cmd, out, MEMORY_TIMEOUT, env, check_timeout, "measuring")
            figures["seconds"] = time.monotonic() - start
            for name in ("held", "held_hooked", "peak"):
                if figures[name] <= 0:
                    raise RuntimeError(f"tracemalloc saw no bytes held by {live} live iterators ({name} "
                                       f"{figures[name]}): does the factory return a shared object?")
            runs.append(figures)
    return {"cell": cell, "runs": runs}


def to_suite(measured: list[dict], registry, env, sizes):
    """The pyperf suite of a memory file: benchmark ``CELL#FIGURE`` (``#allocs@N``), one run per process."""
    import pyperf

    from ._environ import recorded
    from ._loops import LOOPS
    from ._version import FORMAT_VERSION, __version__

    benchmarks = []
    for m in measured:
        cell = m["cell"]
        spec = LOOPS[cell.loop]
        names = ["held", "held_hooked", "peak"]
        if all(r.get("memray") for r in m["runs"]):
            names += [f"{f}@{n}" for f in ("allocs", "allocated") for n in sizes]
        for name in names:
            runs = []
            for r in m["runs"]:
                value = r[name]
                if value <= 0:  # pyperf stores positive values only; a drain that allocates nothing is left out
                    runs = []
                    break
                md = {"name": f"{cell.name}#{name}", "unit": FIGURES[name.split("@")[0]][0],
                      "aiterbench_format": FORMAT_VERSION, "aiterbench_version": __version__,
                      "aiterbench_kind": KIND_MEMORY, "aiterbench_environ": recorded(env),
                      "impl": cell.impl, "family": registry.get(cell.impl).family, "workload": cell.workload,
                      "loop": spec.name, "loop_module": spec.module, "loop_version": spec.version,
                      "live": r["live"], "sizes": ",".join(map(str, sizes)), "duration": r["seconds"]}
                runs.append(pyperf.Run([value], metadata=md, collect_metadata=True))
            if runs:
                benchmarks.append(pyperf.Benchmark(runs))
    return pyperf.BenchmarkSuite(sorted(benchmarks, key=lambda b: b.get_name()))


def from_suite(suite, path: str = "memory file") -> list[tuple[object, list[Memory]]]:
    """A memory file's figures, grouped by environment: [(Environment, [Memory per cell])]."""
    from ._results import ResultError

    try:
        return _from_suite(suite)
    except ResultError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ResultError(f"{path}: malformed memory file ({type(exc).__name__}: {exc})") from None


def _from_suite(suite) -> list[tuple[object, list[Memory]]]:
    from ._identity import group, run_environments
    from ._matrix import Cell

    environment = run_environments(suite)
    per_run = []
    for bench in suite.get_benchmarks():
        cell, _, figure = Cell.parse_any(bench.get_name())
        if figure is None:
            raise ValueError(f"{bench.get_name()!r} names no memory figure")
        for k, run in enumerate(bench.get_runs()):
            if run.values:
                per_run.append((environment(run.get_metadata()), (cell, figure, k, run.values[0], run.get_metadata())))
    out = []
    for env, items in group(per_run):
        table: dict = {}
        for cell, figure, k, value, md in items:
            entry = table.setdefault(cell, {"live": int(md.get("live", LIVE)), "figures": {}})
            entry["figures"].setdefault(figure, {})[k] = value
        memories = []
        for cell, entry in sorted(table.items()):
            f = entry["figures"]
            held, hooked, peak = (tuple(v for _, v in sorted(f[x].items())) for x in ("held", "held_hooked", "peak"))
            sizes = sorted({int(x.split("@")[1]) for x in f if x.startswith("allocs@")})
            allocs = per_byte = ()
            if len(sizes) >= 2:
                n1, n2 = sizes[0], sizes[-1]
                keys = sorted(set(f[f"allocs@{n1}"]) & set(f[f"allocs@{n2}"]))
                allocs = tuple((f[f"allocs@{n2}"][k] - f[f"allocs@{n1}"][k]) / (n2 - n1) for k in keys)
                keys = sorted(set(f.get(f"allocated@{n1}", {})) & set(f.get(f"allocated@{n2}", {})))
                per_byte = tuple((f[f"allocated@{n2}"][k] - f[f"allocated@{n1}"][k]) / (n2 - n1) for k in keys)
            memories.append(Memory(cell, entry["live"], held, hooked, peak, allocs, per_byte, tuple(sizes)))
        out.append((env, memories))
    return out


def _spread(values) -> str:
    """The median, and the range over processes when they differ."""
    if not values:
        return "-"
    med = statistics.median(values)
    lo, hi = min(values), max(values)
    text = f"{med:,.1f}" if abs(med) < 100 else f"{med:,.0f}"
    if hi - lo > max(1e-9, 0.005 * abs(med)):
        text += f" [{lo:,.1f}, {hi:,.1f}]" if abs(med) < 100 else f" [{lo:,.0f}, {hi:,.0f}]"
    return text


def rows(memories: list[Memory]) -> list[dict]:
    """One record per cell, medians over processes, as JSON and the tables use them."""
    out = []
    for m in memories:
        out.append({
            "cell": m.cell.name, "processes": len(m.held), "live": m.live,
            "held_bytes": statistics.median(m.held), "held_with_hooks_bytes": statistics.median(m.held_hooked),
            "peak_bytes": statistics.median(m.peak), "peak_per_iterator_bytes": statistics.median(m.peak) / m.live,
            "allocations_per_item": statistics.median(m.allocs_per_item) if m.allocs_per_item else None,
            "bytes_allocated_per_item": statistics.median(m.bytes_per_item) if m.bytes_per_item else None,
            "sizes": list(m.sizes),
            "per_process": {"held": list(m.held), "held_with_hooks": list(m.held_hooked), "peak": list(m.peak),
                            "allocations_per_item": list(m.allocs_per_item),
                            "bytes_allocated_per_item": list(m.bytes_per_item)},
        })
    return out


def memory_table(memories: list[Memory]) -> tuple[tuple[str, ...], list[tuple[str, ...]], str]:
    """(head, rows as text, footnote) of the memory table."""
    live = memories[0].live if memories else LIVE
    head = ("cell", "held B", "held+hooks B", f"peak for {live:,} MB", "allocs/item", "B allocated/item")
    body = [(m.cell.name, _spread(m.held), _spread(m.held_hooked), f"{statistics.median(m.peak) / 1e6:.2f}",
             _spread(m.allocs_per_item), _spread(m.bytes_per_item)) for m in memories]
    foot = (f"held: bytes per live suspended iterator (tracemalloc, mean over {live:,} alive at once), alone and with "
            "the loop's asyncgen hooks; allocs and bytes per item while draining, every block counted by memray, "
            "(A(n2) - A(n1)) / (n2 - n1); median over processes, [range] where they differ.\n")
    if any(not m.allocs_per_item for m in memories):
        foot += f"Empty allocation columns: memray is not installed ({MEMRAY_EXTRA}).\n"
    return head, body, foot


def format_memory(memories: list[Memory], fmt: str) -> str:
    """The memory table (text, md) or document (json) of one environment."""
    from ._table import render

    if fmt == "json":
        return json.dumps({"kind": KIND_MEMORY, "cells": rows(memories)}, indent=2) + "\n"
    head, body, foot = memory_table(memories)
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot


def run_memory(cells, modules, env, output: str, default_output: bool, force: bool, fmt: str = "text",
               live: int = LIVE, sizes=SIZES, processes: int = PROCESSES, notes=()) -> int:
    """Trace every cell, write the memory file, print its table."""
    import importlib.util

    import impls

    from ._cells import each_cell, prepare_output
    from ._cli import EXIT_FAILED, EXIT_OK
    from ._results import dump_suite, load_suite
    from ._run import CHECK_TIMEOUT

    if not 1 <= live <= 1_000_000:
        raise MemoryError_(f"--live {live}: expected 1 to 1000000 iterators")
    try:
        prepare_output(output, default_output, force, "memory")
    except ValueError as exc:
        raise MemoryError_(str(exc)) from None
    registry = impls.registry().extended(modules)
    notes = list(notes)
    if importlib.util.find_spec("memray") is None:
        notes.append(f"note: memray is not installed: no allocations per item ({MEMRAY_EXTRA})")
    notes.append(f"tracing {len(cells)} cells, {processes} processes each, into {output}")
    measured, failures = each_cell(
        cells, lambda cell: measure_cell(cell, modules, env, live, sizes, processes, CHECK_TIMEOUT), "memory", notes)
    if not measured:
        print("no cell was measured; nothing written", file=sys.stderr)
        return EXIT_FAILED
    dump_suite(to_suite(sorted(measured, key=lambda m: m["cell"]), registry, env, sizes), output)
    ((_, memories),) = from_suite(load_suite(output), output)
    print(format_memory(memories, fmt), end="")
    print(f"wrote {output}", file=sys.stderr if fmt == "json" else sys.stdout)
    return EXIT_FAILED if failures else EXIT_OK
