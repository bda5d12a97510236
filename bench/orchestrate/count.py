"""``count``, the parent half: instructions per item under valgrind, a deterministic second signal.

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
    from .workers import command

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
    from .children import CHECK_TIMEOUT, failure_reason, run_child

    outfile = os.path.join(tmpdir, cell.name.replace("/", "_") + ".cg")
    cmd = _command(cell, sizes, modules, outfile)

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

    from .._version import FORMAT_VERSION, __version__
    from ..model.environ import recorded
    from ..model.loops import LOOPS

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


def check_counting(sizes) -> tuple[int, int]:
    """The two sizes, sorted; CountError (bad input) for bad sizes or without valgrind."""
    if len(sizes) != 2 or sizes[0] == sizes[1] or min(sizes) < 1:
        raise CountError(f"--sizes {','.join(map(str, sizes))}: expected two different sizes >= 1")
    if not shutil.which("valgrind"):
        raise CountError("count needs valgrind: apt-get install valgrind (or your system's package)")
    return tuple(sorted(sizes))


def run_counts(cells, sizes, modules, env, notes=()):
    """Count every cell (two at a time: counts do not mind a neighbour).

    Returns (the count file's pyperf suite, or None when no cell was counted; the failures; whether Ctrl-C
    stopped it, in which case the suite holds the cells finished).
    """
    from .. import impls
    from .children import each_cell

    registry = impls.registry().extended(modules)
    env = {**env, "PYTHONHASHSEED": "0"}  # set iteration orders fixed: identical repeats
    with tempfile.TemporaryDirectory(prefix="aiterbench-count-") as tmpdir:
        counts, failures, interrupted = each_cell(cells, lambda cell: count_cell(cell, sizes, modules, env, tmpdir), "count", notes)
    if not counts:
        return None, failures, interrupted
    return _suite(sorted(counts, key=lambda c: c.cell), registry, env), failures, interrupted
