"""``memory``, the parent half: worker processes per cell, and the memory file they make.

What each figure is: ``aiterbench.model.memory``; how it is measured:
``aiterbench.measure.memory``.
"""

from __future__ import annotations

import os
import tempfile
import time

from ..model.memory import FIGURES, LIVE, MEMRAY_EXTRA, SIZES
from ..model.results import KIND_MEMORY
from .children import CHECK_TIMEOUT

#: Processes per cell: the figures of each are shown side by side (they agree, or the table says so).
PROCESSES = 2
MEMORY_TIMEOUT = 120.0

__all__ = ["LIVE", "MEMRAY_EXTRA", "MemoryError_", "SIZES", "measure_cell", "run_memory", "to_suite"]


class MemoryError_(ValueError):
    """Bad input: one line, exit 2."""


def measure_cell(cell, modules, env, live: int, sizes, processes: int, check_timeout: float) -> dict:
    """Run ``processes`` workers for one cell; their figures (RuntimeError with a one-line reason on failure)."""
    from .children import run_for_json
    from .workers import command

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

    from .._version import FORMAT_VERSION, __version__
    from ..model.environ import recorded
    from ..model.loops import LOOPS

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
                if r.get("aiterbench_build"):
                    md["aiterbench_build"] = r["aiterbench_build"]  # how the measuring interpreter was built
                runs.append(pyperf.Run([value], metadata=md, collect_metadata=True))
            if runs:
                benchmarks.append(pyperf.Benchmark(runs))
    return pyperf.BenchmarkSuite(sorted(benchmarks, key=lambda b: b.get_name()))


def check_live(live: int) -> None:
    if not 1 <= live <= 1_000_000:
        raise MemoryError_(f"--live {live}: expected 1 to 1000000 iterators")


def run_memory(cells, modules, env, live: int = LIVE, sizes=SIZES, processes: int = PROCESSES, notes=(),
               check_timeout: float = CHECK_TIMEOUT):
    """Trace every cell, two at a time. Returns (the memory file's pyperf suite or None, the failures, interrupted).
    ``check_timeout``: the limit on each cell's equivalence check."""
    from .. import impls
    from .children import each_cell

    check_live(live)
    registry = impls.registry().extended(modules)
    measured, failures, interrupted = each_cell(
        cells, lambda cell: measure_cell(cell, modules, env, live, sizes, processes, check_timeout), "memory", notes)
    if not measured:
        return None, failures, interrupted
    return to_suite(sorted(measured, key=lambda m: m["cell"]), registry, env, sizes), failures, interrupted
