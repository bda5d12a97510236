"""The measuring commands: list, run, count, memory, profile."""

from __future__ import annotations

import os
import sys

from . import _common as common
from ._exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError


def cmd_list(args) -> int:
    from ..model import loops
    from ..model.documents import dumps

    reg = common.registry(args.impl_module)
    data = {
        "impls": [{"name": i.name, "family": i.family, "workloads": list(i.workloads), "module": i.module}
                  for i in reg.impls],
        "workloads": [{"name": w.name, "module": w.module, "available": w.available, "install": w.install}
                      for w in reg.workloads],
        "loops": loops.describe(),
        "default_loops": list(loops.DEFAULT_LOOPS),
    }
    if args.format == "json":
        print(dumps("list", data), end="")
        return EXIT_OK
    width = max(len(i["name"]) for i in data["impls"])
    print("impls:")
    for i in data["impls"]:
        print(f"  {i['name']:<{width}}  family={i['family']:<16} workloads={','.join(i['workloads'])}")
    print("workloads:")
    width = max(len(w["name"]) for w in data["workloads"])
    for w in data["workloads"]:
        state = "" if w["available"] else f"  not installed ({w['install']})"
        print(f"  {w['name']:<{width}}  module={w['module']}{state}")
    print("loops:")
    for loop in data["loops"]:
        state = f"installed {loop['version']}" if loop["available"] else f"not installed ({loop['install']})"
        default = " (default)" if loop["name"] in data["default_loops"] else ""
        print(f"  {loop['name']:<8} {state}{default}")
    return EXIT_OK


def rounds_text(cells, budget, sides: int = 1) -> str:
    from ..orchestrate.rounds import planned_rounds

    rounds = planned_rounds(cells, budget, sides)
    if budget.precision:
        limit = f" or {budget.max_seconds:g} s" if budget.max_seconds else ""
        what = "ratios to the class form are" if budget.precision_of == "ratios" else "per-item figures and ratios are"
        return (f"at most {rounds} rounds{limit} (a group stops once its {what} within "
                f"±{budget.precision * 100:g}% at 95%)")
    text = f"{rounds} rounds"
    if rounds != budget.rounds:
        text += (f" ({budget.rounds} rounded up so that every cell, size{' and side' if sides > 1 else ''} takes every "
                 "place equally often)")
    if budget.seconds:
        text += f", then more until {budget.seconds:g} s have passed"
    return text


def cmd_run(args) -> int:
    from ..model.environ import recorded
    from ..model.results import ResultError, check_appendable, load_suite
    from ..orchestrate.progress import progress
    from ..orchestrate.precision import short_of
    from ..orchestrate.rounds import SaveError, below_steady, run_to_files, steps

    cells, notes = common.select(args)
    if args.baseline is not None and args.baseline not in {c.impl for c in cells}:
        raise UsageError(f"--baseline {args.baseline}: not among the impls measured "
                         f"({', '.join(dict.fromkeys(c.impl for c in cells))}); add it with -i")
    budget = common.budget(args)
    modules = common.modules(args)
    env, env_note = common.worker_env(args)
    output = common.output(args, "aiterbench", "result", append=args.append, can_append=True)
    base = None
    if args.append and os.path.exists(output):
        try:
            base = load_suite(output)
            check_appendable(base, output, recorded(env))
        except ResultError as exc:
            raise UsageError(f"--append: {exc}") from None

    bar = progress(steps(cells, budget))
    low = below_steady(cells, budget)
    for note in notes + ([env_note] if env_note else []) + ([low] if low else []):
        bar.note(note)
    bar.note(f"measuring {len(cells)} cells x {rounds_text(cells, budget)} at n={budget.described({c.workload for c in cells})} "
             f"into {output}")
    try:
        outcome, written = run_to_files(cells, budget, modules, [output], bar, env=env, bases=[base],
                                        short_of=short_of(budget.precision, args.baseline, budget.precision_of)
                                        if budget.precision else None)
    except SaveError as exc:
        common.say(f"aiterbench: error: {exc}")
        return EXIT_FAILED
    for failure in outcome.failures:
        print(f"FAILED {failure.cell.name}: {failure.reason}", file=sys.stderr)
    if written:
        print(_table(output, "text", args.baseline, common.table_width(args)), end="")
        print(f"wrote {output}")
    elif outcome.interrupted:
        kept = f"; {output} is as it was" if os.path.exists(output) else ""
        common.say(f"aiterbench: interrupted before the first round was measured: nothing written{kept}")
        return EXIT_INTERRUPTED
    else:
        common.say("no cell was measured; nothing written")
    if outcome.interrupted:
        # Under a precision each group has its own count of rounds (the table's last line gives them).
        done = (f"{common.plural(outcome.rounds_done, 'round')} (the most any group had)" if outcome.stops
                else common.plural(outcome.rounds_done, 'full round'))
        common.say(f"aiterbench: interrupted after {done}; kept what was measured")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.failures else EXIT_OK


def _table(path: str, fmt: str, baseline: str | None = None, width: int | None = None) -> str:
    """The table of a file just written (a file that cannot be read back is one line, not a traceback)."""
    from ..analysis.show import format_file
    from ..model.results import ResultError

    try:
        return format_file(path, fmt, baseline, width)
    except ResultError as exc:
        raise UsageError(str(exc)) from None


def _write_cells(suite, failures, interrupted: bool, output: str, show) -> int:
    """Write what ``count`` or ``memory`` measured (all of it, or the cells finished before Ctrl-C) and say so."""
    from ..model.files import dump_suite

    if suite is None:
        if interrupted:
            common.say("aiterbench: interrupted before any cell was finished: nothing written")
            return EXIT_INTERRUPTED
        common.say("no cell was measured; nothing written")
        return EXIT_FAILED
    dump_suite(suite, output)
    show(output)
    if interrupted:
        common.say("aiterbench: interrupted; wrote the cells finished so far")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failures else EXIT_OK


def cmd_count(args) -> int:
    from ..orchestrate.count import CountError, check_counting, run_counts

    cells, notes = common.select(args)
    env, env_note = common.worker_env(args)
    check_timeout = common.check_timeout(args)  # bad input before any folder is made
    try:
        sizes = check_counting(tuple(int(s) for s in args.sizes.split(",")))
    except ValueError as exc:
        if isinstance(exc, CountError):
            raise UsageError(str(exc)) from None
        raise UsageError(f"--sizes {args.sizes!r}: expected two comma-separated integers") from None
    output = common.output(args, "count", "count")
    notes = notes + ([env_note] if env_note else [])
    notes.append(f"counting {len(cells)} cells at n={sizes[0]},{sizes[1]} under callgrind into {output}")
    suite, failures, interrupted = run_counts(cells, sizes, common.modules(args), env, notes,
                                              check_timeout=check_timeout)

    def show(path: str) -> None:
        print(_table(path, "text"), end="")
        print(f"wrote {path}")

    return _write_cells(suite, failures, interrupted, output, show)


def cmd_memory(args) -> int:
    import importlib.util

    from ..orchestrate.memory import MEMRAY_EXTRA, PROCESSES, SIZES, MemoryError_, check_live, run_memory

    check_timeout = common.check_timeout(args)  # bad input before any folder is made
    cells, notes = common.select(args)
    env, env_note = common.worker_env(args)
    try:
        check_live(args.live)
    except MemoryError_ as exc:
        raise UsageError(str(exc)) from None
    output = common.output(args, "memory", "memory")
    notes = notes + ([env_note] if env_note else [])
    if importlib.util.find_spec("memray") is None:
        notes.append(f"note: memray is not installed: no allocations per item ({MEMRAY_EXTRA})")
    notes.append(f"tracing {len(cells)} cells, {PROCESSES} processes each, into {output}")
    suite, failures, interrupted = run_memory(cells, common.modules(args), env, live=args.live, sizes=SIZES,
                                              notes=notes, check_timeout=check_timeout)

    def show(path: str) -> None:
        print(_table(path, args.format), end="")
        print(f"wrote {path}", file=sys.stderr if args.format == "json" else sys.stdout)

    return _write_cells(suite, failures, interrupted, output, show)


def cmd_profile(args) -> int:
    import importlib.util

    from ..analysis.profile import format_profile
    from ..model.cells import Cell, SelectionError, select
    from ..orchestrate.profile import MAX_SOURCES, PYINSTRUMENT_EXTRA, run_profile

    if any(ch in args.cell for ch in "*?[,"):
        raise UsageError(f"{args.cell!r}: profile takes one cell, not globs or lists")
    try:
        cell, n = Cell.parse(args.cell)
        if n is not None:
            raise SelectionError(f"{args.cell!r}: give the cell without '@n=' (-n sets the items)")
        reg = common.registry(args.impl_module)
        cells, _ = select(reg, cell.impl, cell.workload, cell.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= args.n <= 10_000_000:
        raise UsageError(f"-n {args.n}: expected 1 to 10000000 items")
    most = 100_000 if reg.workload(cells[0].workload).batched else MAX_SOURCES
    if not 1 <= args.repeat <= most:
        raise UsageError(f"--repeat {args.repeat}: expected 1 to {most} iterators for {cells[0].workload} "
                         "(each holds its source open while the profiler runs)" if most == MAX_SOURCES else
                         f"--repeat {args.repeat}: expected 1 to {most} iterators")
    if not 1 <= args.top <= 1000:
        raise UsageError(f"--top {args.top}: expected 1 to 1000 functions")
    check_timeout = common.check_timeout(args)
    if args.tool == "pyinstrument" and importlib.util.find_spec("pyinstrument") is None:
        raise UsageError(f"profile --tool pyinstrument needs pyinstrument: {PYINSTRUMENT_EXTRA}")
    if args.output:
        suffixes = (".html", ".htm") if args.tool == "pyinstrument" else (".prof", ".pstats", ".out")
        if not args.output.endswith(suffixes):
            raise UsageError(f"-o {args.output}: a {args.tool} profile is written as {' or '.join(suffixes)} "
                             "(a profile is never a result file)")
        common.output(args, "profile", "profile")
    env, env_note = common.worker_env(args)
    if env_note:
        common.say(env_note)
    from ..orchestrate.children import CHILDREN

    try:
        with CHILDREN.watching():
            result = run_profile(cells[0], args.tool, args.n, args.repeat, common.modules(args), env, args.output,
                                 check_timeout)
    except RuntimeError as exc:
        print(f"FAILED {cells[0].name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(format_profile(result, args.top, args.format), end="")
    if args.output:
        common.say(f"wrote {args.output}")
    return EXIT_OK
