"""``count``: instructions per item under valgrind, a deterministic second signal.

Each cell runs in one process under callgrind, which counts only inside
``functools.reduce`` (``--toggle-collect``): the process wraps exactly the
iteration in a call to it, once at each of two sizes, and callgrind dumps the
count after each call. The difference quotient (I(n2) - I(n1)) / (n2 - n1) is
the per-item cost: interpreter start-up, imports and the loop's creation are
outside the counted calls, and what the two calls share (``run_until_complete``,
the iterator's creation) cancels. With hash randomization and address-space
randomization off, repeats give identical counts.

Counts miss what instructions do not show: time spent waiting in the loop's
selector and in the kernel (syscalls are not counted), cache misses and branch
mispredictions. They are the signal to compare across machines and on noisy
runners; timings are the one that says what a user waits for.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

#: The C function callgrind counts inside; ``functools_reduce`` on CPython 3.10 to 3.13.
TOGGLE = "functools_reduce"
#: valgrind is ~50x slower than the CPU: a cell gets this long.
COUNT_TIMEOUT = 600.0


class CountError(ValueError):
    """Bad input or a missing tool: one line, exit 2."""


# --- inside the counted process -------------------------------------------------------------

def count_worker(argv) -> None:
    """Run under callgrind: check the cell, warm it up, then iterate at each size inside ``functools.reduce``."""
    import argparse
    import asyncio
    import functools

    from ._worker import cell_setup
    from ._timing import check_cell, is_async_cell

    parser = argparse.ArgumentParser(prog="bench._worker --count")
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


# --- the parent -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Count:
    cell: object
    sizes: tuple[int, int]
    instructions: tuple[int, int]
    seconds: float  # wall time of the counting process, under valgrind

    @property
    def per_item(self) -> float:
        return (self.instructions[1] - self.instructions[0]) / (self.sizes[1] - self.sizes[0])


def _command(cell, sizes, modules, outfile: str) -> list:
    from ._boot import command

    prefix = []
    setarch = shutil.which("setarch")
    if setarch:
        prefix = [setarch, os.uname().machine, "-R"]  # no address-space randomization: identical repeats
    return prefix + [shutil.which("valgrind"), "--tool=callgrind", "--collect-atstart=no",
                     f"--toggle-collect={TOGGLE}", f"--dump-after={TOGGLE}", f"--callgrind-out-file={outfile}",
                     *command("--count", ["--cell", cell.name, "--sizes", ",".join(map(str, sizes))], modules)]


def _totals(outfile: str) -> list[int]:
    """The instruction totals of callgrind's dumps, in dump order."""
    def number(path: str) -> int:
        m = re.search(r"\.(\d+)$", path)
        return int(m.group(1)) if m else 0

    out = []
    for path in sorted(glob.glob(outfile + ".*"), key=number):
        if number(path) == 0:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    out.append(int(line.split()[1]))
                    break
    return out


def count_cell(cell, sizes, modules, env, tmpdir: str) -> Count:
    """Count one cell; RuntimeError with a one-line reason when it fails."""
    from ._cells import failure_reason, run_child

    outfile = os.path.join(tmpdir, cell.name.replace("/", "_") + ".cg")
    cmd = _command(cell, sizes, modules, outfile)
    from ._run import CHECK_TIMEOUT

    # Natively, the equivalence check at the real sizes has a watchdog (under valgrind it would be 50x slower).
    native = cmd[cmd.index(sys.executable):] + ["--check-timeout", repr(CHECK_TIMEOUT)]
    # First without valgrind: a wrong, broken or hung cell fails in seconds, and any bytecode
    # cache the imports write is written now. A process that writes .pyc files allocates differently
    # from one that reads them, which would shift the counted calls by a few hundred instructions.
    for command, timeout in ((native, 60.0), (cmd, COUNT_TIMEOUT)):
        start = time.monotonic()
        try:
            proc = run_child(command, timeout, env)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"hung: no count within {timeout:g} s") from None
        if proc.returncode != 0:
            break
    if proc.returncode != 0:
        raise RuntimeError(failure_reason(proc, CHECK_TIMEOUT, "counting", ignore=lambda ln: ln.startswith("==")))
    seconds = time.monotonic() - start
    totals = _totals(outfile)
    if len(totals) < 2 or 0 in totals[-2:]:
        raise RuntimeError(f"callgrind counted nothing inside {TOGGLE}: this interpreter's binary has no symbols "
                           "(use an unstripped build, such as pyenv's)")
    return Count(cell, tuple(sizes), tuple(totals[-2:]), seconds)


def _suite(counts, registry, env):
    import pyperf

    from ._environ import recorded
    from ._loops import LOOPS
    from ._version import FORMAT_VERSION, __version__

    benchmarks = []
    for c in counts:
        spec = LOOPS[c.cell.loop]
        for n, total in zip(c.sizes, c.instructions):
            md = {
                "name": c.cell.bench_name(n), "unit": "integer", "aiterbench_format": FORMAT_VERSION,
                "aiterbench_version": __version__, "aiterbench_kind": "count", "aiterbench_environ": recorded(env),
                "impl": c.cell.impl, "family": registry.get(c.cell.impl).family, "workload": c.cell.workload,
                "loop": spec.name, "loop_module": spec.module, "loop_version": spec.version, "n": n,
                "sizes": ",".join(map(str, c.sizes)), "instructions": total, "count_tool": f"callgrind --toggle-collect={TOGGLE}",
            }
            md["duration"] = c.seconds  # pyperf would otherwise take the value for seconds
            benchmarks.append(pyperf.Benchmark([pyperf.Run([total / n], metadata=md, collect_metadata=True)]))
    return pyperf.BenchmarkSuite(sorted(benchmarks, key=lambda b: b.get_name()))


def run_counts(cells, sizes, modules, env, output, default_output: bool, force: bool, notes=()) -> int:
    """Count every cell (two at a time: counts do not mind a neighbour), write the count file, print the table."""
    from ._cells import each_cell, prepare_output
    from ._cli import EXIT_FAILED, EXIT_OK
    from ._results import dump_suite, load_results

    if len(sizes) != 2 or sizes[0] == sizes[1] or min(sizes) < 1:
        raise CountError(f"--sizes {','.join(map(str, sizes))}: expected two different sizes >= 1")
    if not shutil.which("valgrind"):
        raise CountError("count needs valgrind: apt-get install valgrind (or your system's package)")
    sizes = tuple(sorted(sizes))
    try:
        prepare_output(output, default_output, force, "count")
    except ValueError as exc:
        raise CountError(str(exc)) from None
    import impls

    registry = impls.registry().extended(modules)
    env = {**env, "PYTHONHASHSEED": "0"}  # set iteration orders fixed: identical repeats
    notes = [*notes, f"counting {len(cells)} cells at n={sizes[0]},{sizes[1]} under callgrind into {output}"]
    with tempfile.TemporaryDirectory(prefix="aiterbench-count-") as tmpdir:
        counts, failures = each_cell(cells, lambda cell: count_cell(cell, sizes, modules, env, tmpdir), "count", notes)
    if not counts:
        print("no cell was counted; nothing written", file=sys.stderr)
        return EXIT_FAILED
    dump_suite(_suite(sorted(counts, key=lambda c: c.cell), registry, env), output)
    (rs,) = load_results([output])
    print(format_counts(rs, "text"), end="")
    print(f"wrote {output}")
    return EXIT_FAILED if failures else EXIT_OK


def format_counts(rs, fmt: str) -> str:
    """The table of a count file: instructions per item, and the totals it came from."""
    import json

    rows = []
    for cell, data in rs.cells.items():
        (by_n,) = data.per_round.values() if len(data.per_round) == 1 else (next(iter(data.per_round.values())),)
        (n1, v1), (n2, v2) = sorted(by_n.items())[:2]
        i1, i2 = round(v1 * n1), round(v2 * n2)
        rows.append((cell.name, (i2 - i1) / (n2 - n1), n1, i1, n2, i2))
    if fmt == "json":
        return json.dumps({"kind": "count", "cells": [
            {"cell": r[0], "instructions_per_item": r[1], "sizes": [r[2], r[4]], "instructions": [r[3], r[5]]}
            for r in rows]}, indent=2) + "\n"
    from ._table import render

    head = ("cell", "instructions/item", "sizes", "instructions (counted calls)")
    body = [(r[0], f"{r[1]:.1f}", f"{r[2]},{r[4]}", f"{r[3]:,} / {r[5]:,}") for r in rows]
    foot = ("Instructions per item: (I(n2) - I(n1)) / (n2 - n1), counted by callgrind inside the iteration only; "
            "deterministic for one interpreter build, blind to waiting, caches and branches.\n")
    return render(head, body, fmt) + ("\n" if fmt == "md" else "") + foot
