"""``count``, inside the counted process: the iteration wrapped in ``functools.reduce`` for callgrind.

callgrind dumps its counts before and after each call to ``functools.reduce``,
which each forked child calls once per size around exactly the iteration; the parent
half (``aiterbench.orchestrate.count``) runs the process under valgrind and
reads each child's totals.
"""

from __future__ import annotations

def count_worker(argv) -> None:
    """Run under callgrind: prepare once, then count each cell in a child forked from that same state.

    Every cell starts from the state the parent reached before its first fork
    (interpreter, imports, registry), whatever cells were counted before it, so
    a cell counts the same alone or in any group. Each child checks its cell
    (unless the native run did), warms it up, then iterates at each size inside
    ``functools.reduce``: two dumps per child. One JSON line per cell, appended
    to the ``--reports`` file the moment its child is done, says which child
    counted it, how it ended and how long it took: a parent that kills this
    process keeps every cell reported before (its dumps are complete by then).
    """
    import argparse
    import gc
    import json
    import os
    import sys
    import time

    from ..model.cells import Cell
    from ..model.loops import LOOPS  # noqa: F401 - imported before the forks: every child starts with it
    from .check import Refused  # the check's module imported before the forks, as the loops are
    from .boot import load_impls

    parser = argparse.ArgumentParser(prog="aiterbench.measure.worker --count")
    parser.add_argument("--cell", action="append", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--reports", required=True, help="file to append one JSON line per finished cell to")
    parser.add_argument("--impl-module", action="append", default=[])
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--check-timeout", type=float, default=None, help="watchdog on the check (not under valgrind)")
    parser.add_argument("--no-check", action="store_true", help="the native run before this one checked the cells")
    parser.add_argument("--metadata", action="store_true", help="print this interpreter's pyperf metadata (JSON)")
    parser.add_argument("--instrumentation", choices=("late", "full"), default=None,
                        help="under callgrind: 'late' when started with --instr-atstart=no (the process asks it to "
                             "instrument from the first cell on), 'full' when instrumented from start-up (one "
                             "length for both: valgrind's argv moves the client's addresses)")
    parser.add_argument("--bytecodes", action="store_true",
                        help="also count the bytecode instructions each Python function executes at each size "
                             "(explain; in the run without valgrind)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    impls = load_impls(args.side_path)
    registry = impls.registry().extended(args.impl_module)

    def report(line: dict) -> None:
        # One write to a file opened for appending: the line is whole or absent, whoever is killed when.
        fd = os.open(args.reports, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
        finally:
            os.close(fd)

    from . import callgrind  # imported in every run, so that every counted process starts from the same state

    why_not = callgrind.available()  # asked in every run, for the same reason
    if args.instrumentation == "late":
        # Start-up and imports ran uninstrumented (fast); the children fork from here, instrumented. The
        # counted regions are whole either way: a region's instructions are the program's, whenever
        # instrumentation began before it. A request that cannot be made, or that valgrind did not see, would
        # leave nothing counted: each cell says so instead.
        if why_not is None and not callgrind.running_on_valgrind():
            why_not = "valgrind did not see it"
        if why_not is not None:
            for name in args.cell:
                report({"cell": name, "pid": os.getpid(),
                        "error": f"could not ask callgrind to start instrumenting: {why_not}"})
            return
        callgrind.start_instrumentation()

    # What the process made before its first cell (interpreter, imports, registry) is moved out of the
    # collector's sight, as the gc module's documentation advises before forking: each child's gc.collect() before a
    # counted call then scans only what its cell made, not the whole heap again at valgrind's pace (a quarter
    # of a 7-cell count's CPU: 6.9 s -> 5.3 s). The counted regions are the same code, and the frozen objects
    # the same for every cell: a cell still counts the same alone or in any group, and repeats agree.
    gc.freeze()
    for name in args.cell:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: count this cell, say how it went, and leave without clean-up
            start = time.monotonic()
            code, bytecodes = 0, None
            try:
                bytecodes = _count_one(impls, registry, Cell.parse(name)[0], sizes,
                                       None if args.no_check else args.check_timeout, args.no_check, args.bytecodes)
                error = None
            except Refused as exc:  # refused by its check: the line says why
                code, error = REPORTED, str(exc)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
                code, error = REPORTED, f"{type(exc).__name__}: {exc}"
            sys.stderr.flush()
            # Last, after its counted calls have returned (callgrind dumped each as it returned).
            line = {"cell": name, "pid": os.getpid(), "error": error, "seconds": time.monotonic() - start}
            if bytecodes is not None and error is None:
                line["bytecodes"] = bytecodes
            report(line)
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if not os.WIFEXITED(status):
            report({"cell": name, "pid": pid, "error": f"the counting child died ({status})"})
        elif os.WEXITSTATUS(status) not in (0, REPORTED) and args.check_timeout:  # the check's watchdog (faulthandler: 1)
            report({"cell": name, "pid": pid, "error": "hung in its equivalence check: no answer within "
                                                       f"{args.check_timeout:g} s"})
    if args.metadata:
        import pyperf

        from ..model.loops import LOOPS

        here = pyperf.Run([1.0], metadata={"name": "probe", "unit": "second"}, collect_metadata=True).get_metadata()
        out = {k: v for k, v in here.items() if k not in ("name", "unit")}
        # This interpreter's loop versions (another side's Python may have another uvloop).
        out.update({f"aiterbench_loop_{name}": spec.version for name, spec in LOOPS.items() if spec.available})
        from .build import build_facts

        out["aiterbench_build"] = build_facts()  # shared or static libpython, PGO, LTO, JIT, GIL: never pooled
        # Whether this interpreter can ask callgrind to start instrumenting (else it instruments from start-up).
        print(json.dumps({"metadata": out, "late_instrumentation": why_not}, default=str))


#: Exit code of a counting child that printed its own report (an error included).
REPORTED = 2


def _count_one(impls, registry, cell, sizes, check_timeout, no_check: bool, bytecodes: bool = False):
    """Count one cell at each size; with ``bytecodes`` (never under valgrind), return the bytecode
    instructions each Python function executed inside each counted call, for the report line."""
    import asyncio
    import functools
    import gc

    from ..model.loops import LOOPS
    from .check import check_cell, is_async_cell

    from .sources import workload_of

    factory = registry.factory(cell.impl, cell.workload)
    open_source = workload_of(impls, registry, cell.workload).open
    loop = LOOPS[cell.loop].new_loop()
    asyncio.set_event_loop(loop)
    try:
        if not no_check:
            check_cell(loop, registry, cell, sizes, check_timeout, exits=False)

        async def drain_async(source):
            async for _ in factory(source):
                pass

        async def drain_sync(source):
            for _ in factory(source):
                pass

        drain = drain_async if is_async_cell(loop, registry, cell) else drain_sync

        def once(n: int, counted: bool, around=None) -> None:
            source_cm = open_source(n)
            source = loop.run_until_complete(source_cm.__aenter__())
            try:
                if counted:
                    # Counted region: callgrind dumps before and after functools.reduce, which calls the
                    # lambda once: run_until_complete of the iteration (creation, every __anext__, the
                    # last). The source was set up above and is torn down below, outside the count.
                    # Any other call to functools.reduce (the impl's, a library's, inside this one or not)
                    # dumps counts of its own, and the parent refuses the cell.
                    # The collector's counters start from zero in every counted call, so that the number
                    # of collections inside it depends only on the items, not on what the process (its
                    # paths, its argv, the cells counted before) allocated earlier: a collection more or
                    # less at one size moved a cell's per-item figure by tens of instructions.
                    gc.collect()

                    def region():
                        functools.reduce(lambda acc, _: loop.run_until_complete(drain(source)), [None], None)

                    region() if around is None else around(region)
                else:
                    loop.run_until_complete(drain(source))
            finally:
                loop.run_until_complete(source_cm.__aexit__(None, None, None))

        once(sizes[0], counted=False)  # warm-up: specialization and caches settle before counting
        if not bytecodes:
            for n in sizes:
                once(n, counted=True)
            return None
        import sys

        from .bytecodes import count_bytecodes

        tool = "sys.monitoring" if sys.version_info >= (3, 12) else "sys.settrace"

        per_size = {}
        for n in sizes:
            found = {}
            once(n, counted=True, around=lambda region: found.update(count_bytecodes(region)))
            per_size[str(n)] = [[q, f, line, ops] for (q, f, line), ops in sorted(found.items())]
        return {"tool": tool, "counts": per_size}
    finally:
        asyncio.set_event_loop(None)
        loop.close()
