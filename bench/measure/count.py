"""``count``, inside the counted process: the iteration wrapped in ``functools.reduce`` for callgrind.

callgrind counts only inside ``functools.reduce`` (``--toggle-collect``), which
this process calls once per size around exactly the iteration; the parent half
(``aiterbench.orchestrate.count``) runs it under valgrind and reads the totals.
"""

from __future__ import annotations

def count_worker(argv) -> None:
    """Run under callgrind: check the cell, warm it up, then iterate at each size inside ``functools.reduce``."""
    import argparse
    import asyncio
    import functools

    from .check import check_cell, is_async_cell
    from .worker import cell_setup

    parser = argparse.ArgumentParser(prog="aiterbench.measure.worker --count")
    parser.add_argument("--cell", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--impl-module", action="append", default=[])
    parser.add_argument("--side-path", default=None)
    parser.add_argument("--check-timeout", type=float, default=None, help="watchdog on the check (not under valgrind)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    _, registry, cell, factory, open_source, loop = cell_setup(args.cell, args.impl_module, args.side_path)
    try:
        check_cell(loop, registry, cell, sizes, args.check_timeout)

        async def drain_async(source):
            async for _ in factory(source):
                pass

        async def drain_sync(source):
            for _ in factory(source):
                pass

        drain = drain_async if is_async_cell(loop, registry, cell) else drain_sync

        def once(n: int, counted: bool) -> None:
            source_cm = open_source(n)
            source = loop.run_until_complete(source_cm.__aenter__())
            try:
                if counted:
                    # Counted region: callgrind counts only inside functools.reduce, which calls the
                    # lambda once: run_until_complete of the iteration (creation, every __anext__, the
                    # last). The source was set up above and is torn down below, outside the count.
                    functools.reduce(lambda acc, _: loop.run_until_complete(drain(source)), [None], None)
                else:
                    loop.run_until_complete(drain(source))
            finally:
                loop.run_until_complete(source_cm.__aexit__(None, None, None))

        once(sizes[0], counted=False)  # warm-up: specialization and caches settle before counting
        for n in sizes:
            once(n, counted=True)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
