"""The measuring process: a pyperf benchmark script for one or more cells (on one loop) at each size.

``aiterbench run`` starts it in pyperf's worker mode: once per cell to check and
calibrate it, then once per round for each group of cells compared together
(same workload and loop), so that the cells of a ratio share a process.
It also runs alone as a normal pyperf script, whose workers then get the cell
options through ``add_cmdline_args``::

    python -m aiterbench.measure.worker --cell asyncgen/none/asyncio --cell class_anext/none/asyncio --sizes 16,1024 -o out.json

``aiterbench run`` and ``ab`` start it as ``python -c BOOT FOLDERS ...``
(``aiterbench.measure.boot``), so that the harness comes from the installed
suite whatever the interpreter and its working folder; ``--side-path`` puts a source folder first on
``sys.path`` for the impls and plug-in modules. ``--probe`` describes the
interpreter instead of measuring, for ``ab``.

It imports pyperf, the impls, and the cell's event loop: nothing else.
"""

from __future__ import annotations

import asyncio
import json
import sys

from .._version import FORMAT_VERSION, __version__
from ..model.cells import Cell
from ..model.environ import recorded
from ..model.loops import LOOPS
from .boot import FOLDERS, load_impls
from .build import build_facts
from .cell import close_cell
from .check import check_cell, is_async_cell
from .sources import Held, slow_setup, workload_of, workloads_of
from .timing import LATENCY, LATENCY_LOOPS, make_latency_func, make_time_func

#: pyperf's minimum time while calibrating a cell whose every drain pays a slow set-up: its first
#: loop count, one drain per value, is kept (``aiterbench.measure.sources``).
ONE_DRAIN = 1e-9


def _sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def _add_cmdline_args(cmd: list, args) -> None:
    for cell in args.cell:
        cmd.extend(("--cell", cell))
    cmd.extend(("--sizes", args.sizes))
    for module in args.impl_module:
        cmd.extend(("--impl-module", module))
    if args.side_path:
        cmd.extend(("--side-path", args.side_path))
    if args.latency:
        cmd.append("--latency")


def _rotated(items: list, k: int | None) -> list:
    if k is None or not items:
        return items
    k %= len(items)
    return items[k:] + items[:k]


def measuring_order(cells: list, sizes: list, rnd: int | None) -> list[tuple[object, list]]:
    """The cells in the order a round's process measures them, each with its sizes in order.

    Two digits of one mixed-radix count: the cells rotate with the round, the
    sizes with the round divided by the number of cells. Over ``len(cells) *
    len(sizes)`` consecutive rounds every (cell, size) pair takes every slot
    (the cell's place, the size's place) exactly once, so neither order effect
    is tied to a cell (rotating both by the round would pin each cell to one
    size at the head of the process).
    """
    if rnd is None:
        return [(cell, list(sizes)) for cell in cells]
    return [(cell, _rotated(list(sizes), rnd // max(len(cells), 1))) for cell in _rotated(list(cells), rnd)]


def main(argv=None) -> None:
    import pyperf

    runner = pyperf.Runner(add_cmdline_args=_add_cmdline_args, program_args=("-m", "aiterbench.measure.worker"))
    parser = runner.argparser
    parser.add_argument("--cell", action="append", required=True,
                        help="impl/workload/loop; repeat for several cells on the same loop")
    parser.add_argument("--sizes", default="16,256,4096", help="comma-separated n")
    parser.add_argument("--impl-module", action="append", default=[], help="plug-in module or .py path")
    parser.add_argument("--round", type=int, default=None, help="round index (rotates the cell and size orders)")
    parser.add_argument("--slot", type=int, default=None,
                        help="index that rotates the cell and size orders (default: the round; ab: round // 2)")
    parser.add_argument("--sequential", type=int, default=None,
                        help="the sequential design whose looks judge these rounds (ab), recorded in the metadata")
    parser.add_argument("--family", type=int, default=None,
                        help="the number of cells in the ab job, among which the sequential design shares its error "
                             "rate (design 3 on), recorded in the metadata")
    parser.add_argument("--run-id", default="", help="identifies one 'aiterbench run' invocation; pairs its rounds")
    parser.add_argument("--size-loops", default="{}", help="JSON {benchmark name: loops} (worker mode)")
    parser.add_argument("--side-path", default=None, help="folder put first on sys.path for impls and plug-ins")
    parser.add_argument("--side", default=None, help="the 'ab' side this process measures (base or new)")
    parser.add_argument("--check-timeout", type=float, default=10.0,
                        help="seconds the equivalence check may take before the cell counts as hung")
    parser.add_argument("--latency", action="store_true",
                        help="also time the first item and closing a half-consumed iterator (CELL#first_item, CELL#close)")
    args = runner.parse_args(argv)

    impls = load_impls(args.side_path)

    cells = [Cell.parse(name)[0] for name in args.cell]
    if len({c.loop for c in cells}) != 1:
        parser.error("all --cell must share one event loop")
    sizes = _sizes(args.sizes)
    registry = impls.registry().extended(args.impl_module)
    spec = LOOPS[cells[0].loop]
    loop = spec.new_loop()
    runner.metadata.update(
        {
            "aiterbench_format": FORMAT_VERSION,
            "aiterbench_version": __version__,
            "loop": spec.name,
            "loop_module": spec.module,
            "loop_version": spec.version,
            "sizes": args.sizes,
            # What this process got from the caller's environment (identity of the result).
            "aiterbench_environ": recorded(),
            # How the interpreter was built (libpython, PGO, LTO, JIT, GIL): read after the loop's import,
            # which may turn a free-threaded build's GIL back on.
            "aiterbench_build": build_facts(),
        }
    )
    if args.side:
        runner.metadata["aiterbench_side"] = args.side
    if args.sequential is not None:
        runner.metadata["aiterbench_sequential"] = args.sequential
    if args.family is not None:
        runner.metadata["aiterbench_family"] = args.family
    if args.round is not None:
        runner.metadata["aiterbench_round"] = args.round
        runner.metadata["aiterbench_run"] = args.run_id
    size_loops = json.loads(args.size_loops)
    asked_loops = runner.args.loops  # 0: pyperf calibrates; latency benchmarks set their own, then this comes back

    asyncio.set_event_loop(loop)
    held = Held()  # shared sources, opened once per size for this process
    asked_min_time = runner.args.min_time
    try:
        # Rotate, so that no cell and no size always runs first in its process (measuring_order).
        for cell, cell_sizes in measuring_order(cells, sizes, args.round if args.slot is None else args.slot):
            factory = registry.factory(cell.impl, cell.workload)
            workload = workload_of(impls, registry, cell.workload)
            if not args.worker or args.calibrate_loops:
                # Before anything of this cell is timed: it must yield what its workload says on this loop.
                check_cell(loop, registry, cell, sizes, args.check_timeout)
            open_source = held.opener(workload)
            # Through the process's own opener, at a size it opens anyway: a shared source (http's server and
            # session) is set up once per process and size, not once more for this question.
            is_async = is_async_cell(loop, registry, cell, open_source, cell_sizes[0])
            slow = (args.calibrate_loops or args.latency) and slow_setup(loop, workload, max(cell_sizes), open_source)
            impl = registry.get(cell.impl)
            # impl_module: a plug-in's impls get their ratio to the class form of their own module (analysis.table).
            metadata = {"impl": cell.impl, "family": impl.family, "impl_module": impl.module,
                        "workload": cell.workload}
            # A slow per-drain set-up: calibrating to min_time would pay it thousands of times per value.
            runner.args.min_time = ONE_DRAIN if slow and args.calibrate_loops else asked_min_time
            for n in cell_sizes:
                name = cell.bench_name(n)
                # pyperf reads it when the task is built: the calibrated count, else what was asked for.
                runner.args.loops = size_loops.get(name, asked_loops)
                time_func = make_time_func(loop, factory, open_source, n, is_async, per_loop_source=not workload.batched)
                runner.bench_time_func(name, time_func, inner_loops=n, metadata={**metadata, "n": n})
            runner.args.min_time = asked_min_time
            if args.latency:  # the same tasks in every process: pyperf's workers find theirs by index
                for metric in LATENCY:
                    name = cell.metric_name(metric)
                    # A fixed count, not calibrated: each loop sets a source up (a socket pair, a producer
                    # task) around a microsecond of timed work, and calibrating to min_time would spend
                    # seconds per value on set-up. The clock reads are ~50 ns apart at worst. A slow
                    # per-drain set-up gets one iterator per value.
                    runner.args.loops = 1 if slow else LATENCY_LOOPS
                    time_func = make_latency_func(loop, factory, open_source, metric, is_async)
                    runner.bench_time_func(name, time_func, metadata={**metadata, "aiterbench_metric": metric})
    finally:
        close_cell(loop, held)


def probe(argv) -> None:
    """Print, as JSON, what this interpreter offers a side of ``ab``: version, pyperf, loops and impls."""
    import argparse

    parser = argparse.ArgumentParser(prog="aiterbench.measure.worker --probe")
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--impl-module", action="append", default=[])
    args = parser.parse_args(argv)
    import importlib.util
    import platform

    out = {
        "executable": sys.executable,
        "implementation": platform.python_implementation().lower(),
        "version": platform.python_version(),
        "pyperf": importlib.util.find_spec("pyperf") is not None,
        "loops": {name: (spec.version if spec.available else None) for name, spec in LOOPS.items()},
    }
    try:
        impls = load_impls(args.side_path)
        registry = impls.registry().extended(args.impl_module)
        out["impls"] = [{"name": i.name, "family": i.family, "workloads": list(i.workloads)} for i in registry.impls]
        out["workloads"] = [{"name": w.name, "module": w.module, "available": w.available, "requires": w.requires,
                             "install": w.install} for w in workloads_of(impls, registry)]
    except Exception as exc:  # reported by the parent as bad input for this side
        out["error"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
    print(json.dumps(out))


def entry(folders=None) -> None:
    """``python -c BOOT FOLDERS [--probe|--count|--memory|--profile|--worker] ARGS``: probe the interpreter,
    count, trace memory or profile one cell, or else measure as a pyperf script."""
    FOLDERS.update(folders or {})
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "--probe":
        probe(sys.argv[2:])
    elif mode == "--count":
        from .count import count_worker

        count_worker(sys.argv[2:])
    elif mode == "--memory":
        from .memory import memory_worker

        memory_worker(sys.argv[2:])
    elif mode == "--profile":
        from .profile import profile_worker

        profile_worker(sys.argv[2:])
    else:
        main()


if __name__ == "__main__":
    main()
