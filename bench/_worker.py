"""The measuring process: a pyperf benchmark script for one cell at each size.

``bench run`` starts it in pyperf's worker mode, one process per cell and round.
It also runs alone as a normal pyperf script, whose workers then get the cell
options through ``add_cmdline_args``::

    python -m bench._worker --cell asyncgen/none/asyncio --sizes 16,1024 -o out.json

It imports pyperf, the impls, and the cell's event loop: nothing else.
"""

from __future__ import annotations

import asyncio
import sys

import pyperf

from ._loops import LOOPS
from ._matrix import Cell
from ._timing import NotEquivalent, check_equivalence, make_time_func
from ._version import FORMAT_VERSION, __version__

EXIT_NOT_EQUIVALENT = 3


def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def _size_loops(text: str) -> dict[int, int]:
    return {int(n): int(loops) for n, loops in (item.split(":") for item in text.split(",") if item)}


def _add_cmdline_args(cmd: list, args) -> None:
    cmd.extend(("--cell", args.cell, "--sizes", args.sizes))
    for module in args.impl_module:
        cmd.extend(("--impl-module", module))


def main(argv=None) -> None:
    runner = pyperf.Runner(add_cmdline_args=_add_cmdline_args, program_args=("-m", "bench._worker"))
    parser = runner.argparser
    parser.add_argument("--cell", required=True, help="impl/workload/loop")
    parser.add_argument("--sizes", default="16,256,4096", help="comma-separated n")
    parser.add_argument("--impl-module", action="append", default=[], help="plug-in module or .py path")
    parser.add_argument("--round", type=int, default=None, help="round index (rotates the size order)")
    parser.add_argument("--run-id", default="", help="identifies one 'bench run' invocation; pairs its rounds")
    parser.add_argument("--size-loops", default="", help="n:loops,... (per-size loops in worker mode)")
    args = runner.parse_args(argv)

    import impls

    cell, _ = Cell.parse(args.cell)
    sizes = _sizes(args.sizes)
    registry = impls.registry().extended(args.impl_module)
    factory = registry.factory(cell.impl, cell.workload)
    open_source = impls.SOURCES[cell.workload]
    spec = LOOPS[cell.loop]
    loop = spec.new_loop()
    impl = registry.get(cell.impl)
    runner.metadata.update(
        {
            "aiterbench_format": FORMAT_VERSION,
            "aiterbench_version": __version__,
            "impl": cell.impl,
            "family": impl.family,
            "workload": cell.workload,
            "loop": cell.loop,
            "loop_module": spec.module,
            "loop_version": spec.version,
            "sizes": args.sizes,
        }
    )
    if args.round is not None:
        runner.metadata["aiterbench_round"] = args.round
        runner.metadata["aiterbench_run"] = args.run_id

    asyncio.set_event_loop(loop)
    try:
        if not args.worker or args.calibrate_loops:
            # Before anything is timed: the cell must yield 0..n-1 on this loop.
            try:
                loop.run_until_complete(check_equivalence(registry, cell.impl, cell.workload, sizes))
            except NotEquivalent as exc:
                print(f"{cell.name}: {exc}", file=sys.stderr)
                sys.exit(EXIT_NOT_EQUIVALENT)
        is_async = loop.run_until_complete(_is_async(registry, cell))
        order = sizes
        if args.round is not None:  # rotate, so no size always runs first in its process
            k = args.round % len(sizes)
            order = sizes[k:] + sizes[:k]
        size_loops = _size_loops(args.size_loops)
        for n in order:
            if n in size_loops:
                runner.args.loops = size_loops[n]  # pyperf reads it when the task is built
            time_func = make_time_func(loop, factory, open_source, n, is_async,
                                       per_loop_source=cell.workload not in impls.STATELESS)
            runner.bench_time_func(cell.bench_name(n), time_func, inner_loops=n, metadata={"n": n})
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def _is_async(registry, cell: Cell) -> bool:
    async with registry.open(cell.impl, 0, cell.workload) as iterator:
        return hasattr(iterator, "__aiter__")


if __name__ == "__main__":
    main()
