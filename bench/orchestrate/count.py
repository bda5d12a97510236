"""``count``, the parent half: instructions per item under valgrind, a deterministic second signal.

Cells run in one process under callgrind per loop (and side), each in a child
forked from one prepared state, so that a cell counts nearly the same whatever
was counted with it (within a few hundredths of a percent: ``groups``). The
counted region is a call to ``functools.reduce`` (its C
name on each CPython: ``TOGGLES``): the child wraps exactly the iteration in
it, once at each of two sizes, and callgrind dumps before and after each such
call; the dumps after are the regions, and a child with any other number of
them is refused. The difference quotient (I(n2) - I(n1)) / (n2 - n1) is the
per-item cost: interpreter start-up, imports and the loop's creation are
outside the counted calls, and what the two calls share (``run_until_complete``,
the iteration's creation) cancels. With hash randomization and address-space
randomization off, repeats give identical counts. The process starts
uninstrumented and asks callgrind to instrument just before its first cell
(``aiterbench.measure.callgrind``): start-up and imports, most of a small
count's time, run several times faster, and the counts are the same. Each child reports as it
finishes, so Ctrl-C keeps every cell counted before it, in a group too. The
dumps are whole callgrind profiles: ``explain`` keeps them, parsed.

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
from typing import Sequence
import tempfile

from ..analysis.callgrind import CallgrindError, parse
from .children import CHECK_TIMEOUT

#: The C function of ``functools.reduce``, around whose calls callgrind dumps: ``functools_reduce`` on CPython 3.10
#: to 3.13; from 3.14 on, Argument Clinic's ``_functools_reduce`` (the wrapper, which calls
#: ``_functools_reduce_impl``). A binary has one of the two. callgrind matches whole names, so each pattern
#: matches one function of one call chain and a call is dumped around once: a wrapper and its impl both
#: matched would split the call into two regions.
TOGGLES = ("functools_reduce", "_functools_reduce")
#: What the count files record as the tool.
COUNT_TOOL = "callgrind " + " ".join(f"--dump-before={name} --dump-after={name}" for name in TOGGLES)
#: valgrind is ~50x slower than the CPU: a cell gets this long.
COUNT_TIMEOUT = 600.0


class CountError(ValueError):
    """Bad input or a missing tool: one line, exit 2."""


@dataclasses.dataclass(frozen=True)
class Count:
    cell: object
    sizes: tuple[int, int]
    instructions: tuple[int, int]
    seconds: float  # wall time of the cell's counting child, under valgrind (the shared start-up not in it)
    #: ``explain``: callgrind's two dumps, parsed (self instructions per function, calls per caller).
    profiles: tuple | None = None
    #: ``explain``: bytecode instructions per Python function at each size, from the run without valgrind,
    #: and how they were counted: ((counts at n1, counts at n2), tool), or None.
    bytecodes: tuple | None = None

    @property
    def per_item(self) -> float:
        return (self.instructions[1] - self.instructions[0]) / (self.sizes[1] - self.sizes[0])


def _valgrind(outfile: str, late: bool = False) -> list:
    prefix = []
    setarch = shutil.which("setarch")
    if setarch:
        prefix = [setarch, os.uname().machine, "-R"]  # no address-space randomization: identical repeats
    # A dump after each counted call: those are a child's counted regions, and how many says whether anything
    # else called functools.reduce. Collection on throughout, and a dump before and after each counted call: the after-dumps are the counted
    # regions. callgrind counts calls on an arc even while collection is off and resets them only when it dumps
    # the arc with a cost, so with collection toggled a region's calls would include every call since the arc
    # was last dumped (warm-up, set-up): with collection on, the dump before the call takes all of those.
    regions = [arg for name in TOGGLES for arg in (f"--dump-before={name}", f"--dump-after={name}")]
    # late: the process asks callgrind to instrument from its first cell on (aiterbench.measure.callgrind):
    # start-up and imports run uninstrumented, twice as fast for a count of two cells, and the counts are the
    # same, to the instruction (40 cells' totals compared). Otherwise an option of the same length that is
    # callgrind's default: valgrind's argument lengths move the client's addresses, and so its counts.
    when = "--instr-atstart=no" if late else "--collect-jumps=no"
    return prefix + [shutil.which("valgrind"), "--tool=callgrind", *regions, when, f"--callgrind-out-file={outfile}"]


def _worker(cells, sizes, modules, side, reports: str) -> list:
    from .workers import command

    args = ["--sizes", ",".join(map(str, sizes)), "--reports", reports]
    for cell in cells:
        args += ["--cell", cell.name]
    return command("--count", args, modules, getattr(side, "path", None), getattr(side, "python", None))


def _dumps(outfile: str) -> list[tuple[str, bool, int]]:
    """callgrind's dumps of one process, in dump order: (file, whether it was dumped after a counted call, total)."""
    def number(path: str) -> int:
        m = re.search(r"\.(\d+)$", path)
        return int(m.group(1)) if m else 0

    out = []
    for path in sorted(glob.glob(outfile + ".*"), key=number):
        if number(path) == 0:
            continue
        after, total = False, None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("desc: Trigger:"):
                    after = "--dump-after=" in line
                elif line.startswith("totals:") or line.startswith("summary:"):
                    total = int(line.split()[1])
                    break
        if total is not None:
            out.append((path, after, total))
    return out


def _regions(dumps: list[tuple[str, bool, int]]) -> tuple[list[str], list[int]]:
    """The files and totals of the counted regions: the dumps after each counted call (those before hold
    nothing: collection is off outside the regions)."""
    kept = [(path, total) for path, after, total in dumps if after]
    return [p for p, _ in kept], [t for _, t in kept]


def _regions_refused(totals: list[int], expected: int, before: int | None = None) -> str | None:
    """Why a child's dumps are not its cell's counts (one line), or None: one dump per counted call, none empty."""
    if not totals:
        return (f"callgrind saw no counted region: this interpreter's binary has no symbol {' or '.join(TOGGLES)} "
                "(use an unstripped build, such as pyenv's)")
    if len(totals) != expected or (before is not None and before != expected):
        n = max(len(totals), before or 0)
        return (f"callgrind saw {n} counted regions, expected {expected}: something else in the process "
                "calls functools.reduce (the impl, its source or a library), and its calls cannot be told from the "
                "count's")
    if 0 in totals:
        return f"callgrind counted nothing inside {' or '.join(TOGGLES)}"
    return None


def _bytecodes(report: dict, sizes) -> tuple | None:
    """((counts at n1, counts at n2), tool) from a checking child's report line; counts: (qualname, file, line)
    -> {opname: executed}. None when the child counted none."""
    data = report.get("bytecodes")
    if not data:
        return None
    per_size = tuple({(q, f, int(ln)): dict(ops) for q, f, ln, ops in data["counts"][str(n)]} for n in sizes)
    return per_size, str(data.get("tool", ""))


def _read_reports(path: str) -> dict:
    """Cell name -> its counting child's report, for every cell reported so far (one JSON line each)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):  # whole lines only: one write each, so a kill leaves none half written
            report = json.loads(line)
            out[report["cell"]] = report
    return out


@dataclasses.dataclass(frozen=True)
class Group:
    """Cells counted in one process under valgrind, one after the other (their start-up paid once)."""

    cells: tuple
    side: object = None  # an ``ab`` side (aiterbench.orchestrate.sides.Side), or None for this interpreter

    @property
    def name(self) -> str:  # for the progress bar
        where = f" ({self.side.name} side)" if getattr(self.side, "name", "") else ""
        return (self.cells[0].name if len(self.cells) == 1 else f"{len(self.cells)} cells") + where


def _fixed_length_side(side, tmpdir: str):
    """``side`` with its source folder reached through a link in ``tmpdir`` whose name has the same length for
    every side: the counted process gets the folder in its argv and on sys.path, and two checkouts at paths of
    different lengths (``base/``, ``planted/``) moved an unchanged cell by 4.6 instructions per item."""
    import dataclasses
    import hashlib

    path = getattr(side, "path", None)
    if not path:
        return side
    link = os.path.join(tmpdir, "side-" + hashlib.sha256(path.encode()).hexdigest()[:12])
    try:
        os.symlink(path, link, target_is_directory=True)
    except FileExistsError:
        pass  # made for another group of this side
    except OSError:
        return side  # no symlinks here: the real folder
    return dataclasses.replace(side, path=link)


def count_group(group: Group, sizes, modules, env, tmpdir: str, explain: bool = False,
                check_timeout: float = CHECK_TIMEOUT) -> tuple[list[Count], dict, list]:
    """Count a group's cells in one valgrind process, a forked child per cell.

    Returns (counts, the interpreter's pyperf metadata, failures as (cell, reason)); RuntimeError with a
    one-line reason when the whole process fails before any cell is counted. After Ctrl-C (the children
    killed) or a hang, the cells whose children had reported are kept: each child's counts are whole.
    ``explain``: each count also keeps its dumps, parsed, and the run without valgrind counts bytecodes.
    """
    import hashlib
    import json

    from .children import CHILDREN, failure_reason, run_child

    # Under valgrind, the client's addresses (address-space randomization is off) move with whatever valgrind
    # itself was given: its arguments and its working folder (a longer folder name moved a cell by 3
    # instructions per item). Addresses steer alignment and hash orders, so the counted process runs in the
    # temporary folder and is given names relative to it, of fixed length and the same in every run: a repeat
    # counts the same from any folder. %p: each child's own dumps.
    key = "|".join([getattr(group.side, "name", "")] + [c.name for c in group.cells])
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    base = os.path.join(tmpdir, name)
    outfile = base + ".%p"
    # First without valgrind, with the equivalence check at the real sizes under a watchdog: a wrong,
    # broken or hung cell fails in seconds, the interpreter says what it is (pyperf metadata), and any
    # bytecode cache the imports write is written now (a process that writes .pyc files allocates
    # differently from one that reads them, which would shift the counts by a few hundred instructions).
    native = _worker(group.cells, sizes, modules, group.side, base + ".checked") + [
        "--check-timeout", repr(check_timeout), "--metadata"] + (["--bytecodes"] if explain else [])
    limit = 60.0 + 2 * check_timeout * len(group.cells)
    try:
        proc = run_child(native, limit, env)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"hung: the check did not finish within {limit:g} s") from None
    try:
        checked = _read_reports(base + ".checked")
        lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
        said = next((ln for ln in lines if "metadata" in ln), {})
        metadata = said.get("metadata", {})
        # The interpreter can make callgrind's client request (None), or why not: then instrumented throughout.
        late = "late_instrumentation" in said and said["late_instrumentation"] is None
    except ValueError:
        checked, metadata, late = {}, {}, False
    if proc.returncode != 0 or not metadata:
        raise RuntimeError(failure_reason(proc, check_timeout, "counting"))
    failures = [(c, checked.get(c.name, {}).get("error") or "no report from its check") for c in group.cells
                if checked.get(c.name, {}).get("error") is not None or c.name not in checked]
    good = [c for c in group.cells if c not in {f[0] for f in failures}]
    if not good:
        return [], metadata, failures
    # Each child appends its line once its counts are dumped, so what was reported survives the process.
    timeout, stopped, interrupted = COUNT_TIMEOUT * len(good), None, False
    try:
        proc = run_child(_valgrind(name + ".%p", late) + _worker(good, sizes, modules,
                                                                _fixed_length_side(group.side, tmpdir), name + ".counted")
                         + ["--no-check", "--instrumentation=" + ("late" if late else "full")], timeout, env,
                         cwd=tmpdir)  # one length either way
        if proc.returncode != 0:
            stopped = failure_reason(proc, check_timeout, "counting", ignore=lambda ln: ln.startswith("=="))
    except subprocess.TimeoutExpired:
        stopped = f"hung: no count within {timeout:g} s"
    except KeyboardInterrupt:
        if not CHILDREN.requested:
            raise
        interrupted = True  # Ctrl-C killed the process: the cells not reported are not counted, nor failed
    try:
        counted = _read_reports(base + ".counted")
    except (ValueError, KeyError) as exc:
        raise RuntimeError(f"unreadable report from the counting process ({exc})") from None
    if stopped and not counted:
        raise RuntimeError(stopped)
    counts = []
    for cell in good:
        report = counted.get(cell.name)
        if report is None:
            if not interrupted:
                failures.append((cell, stopped or "no report from its counting child"))
            continue
        if report.get("error"):
            failures.append((cell, report["error"]))
            continue
        dumps = _dumps(outfile.replace("%p", str(report["pid"])))
        files, totals = _regions(dumps)
        refused = _regions_refused(totals, len(sizes), sum(1 for _, after, _ in dumps if not after))
        if refused:
            failures.append((cell, refused))
            continue
        try:
            profiles = tuple(parse(f) for f in files) if explain else None
        except CallgrindError as exc:
            failures.append((cell, f"unreadable callgrind output: {exc}"))
            continue
        counts.append(Count(cell, tuple(sizes), tuple(totals), report["seconds"], profiles,
                            _bytecodes(checked.get(cell.name, {}), sizes) if explain else None))
    return counts, metadata, failures


#: A process's start-up under valgrind (interpreter and imports, ~1.3 s of CPU here) is shared by at least this many
#: cells before a loop's cells are split across two processes: a none cell is ~0.3 s more (~0.55 s before the
#: process froze its heap before forking). Two cells split in two finished 9% sooner on an idle 2-core machine for
#: 75% more CPU (4 cells: 20% sooner for 55% more; measured before the freeze, which makes cells cheaper and a
#: split dearer still), and a busy machine (a CI runner, a test suite) only pays the CPU.
MIN_CELLS_PER_PROCESS = 2


def groups(cells, sides=(None,), parallel: int = 2) -> list[Group]:
    """The processes to count ``cells`` in: per side, one per loop, split until ``parallel`` can run at once,
    each part keeping at least ``MIN_CELLS_PER_PROCESS`` cells.

    Grouping saves valgrind's start-up (seconds) per cell. Each cell is counted in a child forked from the
    prepared state, but that state holds the group's own command line (its cells' names) and what the children
    before it left: a cell counted beside other cells can move by a few hundredths of a percent (class_anext/none:
    1567.0 instructions per item alone, 1566.1 beside asyncgen). The same command repeats to the instruction, and
    ``ab --count`` groups both sides alike.
    """
    by_loop: dict = {}
    for cell in cells:
        by_loop.setdefault(cell.loop, []).append(cell)
    parts = [list(cs) for cs in by_loop.values()]
    while len(parts) * len(sides) < parallel:
        big = max(parts, key=len)
        if len(big) < 2 * MIN_CELLS_PER_PROCESS:
            break
        parts.remove(big)
        parts += [big[: len(big) // 2], big[len(big) // 2:]]
    # Sides alternate, so that both make progress together and an interruption leaves both with cells.
    return [Group(tuple(part), side) for part in parts for side in sides]


def count_groups(todo: Sequence[Group], sizes, modules, env, notes=(), explain: bool = False,
                 check_timeout: float = CHECK_TIMEOUT) -> tuple[list, list, bool]:
    """Count every group, two at a time (counts do not mind a neighbour); a cell that fails is reported and
    the others of its group are counted.

    Returns ((group, counts, metadata) for every group or lone cell counted, failures as (Group, reason),
    whether Ctrl-C stopped it).
    """
    from .children import each_cell

    # Set iteration orders fixed: identical repeats. The counted processes run in a folder of their own, so a
    # relative PYTHONPATH entry (a plug-in module's folder) is made absolute first.
    env = {**env, "PYTHONHASHSEED": "0"}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else os.getcwd()
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    with tempfile.TemporaryDirectory(prefix="aiterbench-count-") as tmpdir:
        def measure(group: Group):
            counts, metadata, failed = count_group(group, sizes, modules, env, tmpdir, explain, check_timeout)
            return ([(group, counts, metadata)] if counts else []), [(dataclasses.replace(group, cells=(cell,)), reason)
                                                                     for cell, reason in failed]

        return each_cell(list(todo), measure, "count", notes, many=True)


def _suite(counted, family, env, side: str = "", module=None):
    """The count file's suite from (group, counts, metadata) triples: each run carries its interpreter's metadata."""
    import pyperf

    from .._version import FORMAT_VERSION, __version__
    from ..model.environ import recorded
    from ..model.loops import LOOPS

    benchmarks = []
    for c, metadata in sorted(((c, md) for _, cs, md in counted for c in cs), key=lambda x: x[0].cell):
        spec = LOOPS[c.cell.loop]
        for n, total in zip(c.sizes, c.instructions):
            md = {
                "name": c.cell.bench_name(n), "unit": "integer", "aiterbench_format": FORMAT_VERSION,
                "aiterbench_version": __version__, "aiterbench_kind": "count", "aiterbench_environ": recorded(env),
                "impl": c.cell.impl, "family": family(c.cell.impl), "workload": c.cell.workload,
                "loop": spec.name, "loop_module": spec.module,
                "loop_version": metadata.get(f"aiterbench_loop_{spec.name}", spec.version), "n": n,
                "sizes": ",".join(map(str, c.sizes)), "instructions": total, "count_tool": COUNT_TOOL,
            }
            if side:
                md["aiterbench_side"] = side
            if module is not None and module(c.cell.impl):
                md["impl_module"] = module(c.cell.impl)  # a plug-in's ratio is to its own module's class form
            md["duration"] = c.seconds  # pyperf would otherwise take the value for seconds
            run_md = {k: v for k, v in metadata.items() if not k.startswith("aiterbench_loop_")}
            benchmarks.append(pyperf.Benchmark([pyperf.Run([total / n], metadata={**run_md, **md},
                                                           collect_metadata=False)]))
    return pyperf.BenchmarkSuite(sorted(benchmarks, key=lambda b: b.get_name()))


def _families(registry):
    """impl -> its family, from the registry; ``?`` for an impl it does not have."""
    def family(impl: str) -> str:
        try:
            return registry.get(impl).family
        except Exception:  # an impl only the other side's checkout has
            return "?"

    return family


def check_counting(sizes) -> tuple[int, int]:
    """The two sizes, sorted; CountError (bad input) for bad sizes or without valgrind."""
    if len(sizes) != 2 or sizes[0] == sizes[1] or min(sizes) < 1:
        raise CountError(f"--sizes {','.join(map(str, sizes))}: expected two different sizes >= 1")
    if not shutil.which("valgrind"):
        raise CountError("count needs valgrind: apt-get install valgrind (or your system's package)")
    return tuple(sorted(sizes))


def run_counts(cells, sizes, modules, env, notes=(), check_timeout: float = CHECK_TIMEOUT):
    """Count every cell, in one valgrind process per loop (two at a time).

    Returns (the count file's pyperf suite, or None when no cell was counted; the failures as (cell, reason);
    whether Ctrl-C stopped it, in which case the suite holds the cells finished).
    """
    from .. import impls

    registry = impls.registry().extended(modules)
    counted, failures, interrupted = count_groups(groups(cells), sizes, modules, env, notes, check_timeout=check_timeout)
    failures = [(cell, reason) for group, reason in failures for cell in group.cells]
    if not counted:
        return None, failures, interrupted
    def module(impl: str) -> str | None:
        try:
            return registry.get(impl).module
        except Exception:  # noqa: BLE001 - not this registry's: no module recorded
            return None

    return _suite(counted, _families(registry), env, module=module), failures, interrupted


def run_ab_counts(cells, sides, sizes, modules, env, notes=(), families=None, explain: bool = False,
                  check_timeout: float = CHECK_TIMEOUT):
    """``ab --count``: both sides' cells, each side in its own processes, the sides interleaved.

    Returns ([base suite or None, new suite or None], failures as (cell, side name, reason), interrupted,
    side name -> cell -> (Count, that process's metadata)). Only cells counted on both sides are kept. ``families``: impl -> family, as the sides'
    probes reported them (the plug-in modules are the sides' to import, on their paths, not the parent's).
    ``explain``: the counts keep their parsed dumps and bytecodes (``Count.profiles``, ``Count.bytecodes``).
    """
    families = dict(families or {})
    counted, failures, interrupted = count_groups(groups(cells, sides), sizes, modules, env, notes, explain,
                                                  check_timeout)
    by_side: dict = {side.name: [] for side in sides}
    for group, counts, metadata in counted:
        by_side[group.side.name].append((group, counts, metadata))
    names = [{c.cell for _, cs, _ in by_side[s.name] for c in cs} for s in sides]
    both = set.intersection(*names) if names else set()
    suites = []
    for side in sides:
        kept = [(g, [c for c in cs if c.cell in both], md) for g, cs, md in by_side[side.name]]
        kept = [k for k in kept if k[1]]
        suites.append(_suite(kept, lambda impl: families.get(impl, "?"), env, side.name) if kept else None)
    per_side = {side.name: {c.cell: (c, md) for _, cs, md in by_side[side.name] for c in cs if c.cell in both}
                for side in sides}
    return (suites, [(cell, group.side.name, reason) for group, reason in failures for cell in group.cells],
            interrupted, per_side)
