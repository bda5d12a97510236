"""``python -m bench`` / ``aiterbench``: one function per command, picked from one table."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from typing import Sequence

from ._version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input: reported as one line, exit 2."""


def _registry(modules: Sequence[str]):
    import impls

    try:
        return impls.registry().extended(modules)
    except impls.RegistryError as exc:
        raise UsageError(str(exc)) from None


def cmd_list(args) -> int:
    from . import _loops

    registry = _registry(args.impl_module)
    import impls

    data = {
        "impls": [{"name": i.name, "family": i.family, "workloads": list(i.workloads), "module": i.module} for i in registry.impls],
        "workloads": list(impls.workloads()),
        "loops": _loops.describe(),
        "default_loops": list(_loops.DEFAULT_LOOPS),
    }
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return EXIT_OK
    width = max(len(i["name"]) for i in data["impls"])
    print("impls:")
    for i in data["impls"]:
        print(f"  {i['name']:<{width}}  family={i['family']:<16} workloads={','.join(i['workloads'])}")
    print("workloads:")
    print("  " + ", ".join(data["workloads"]))
    print("loops:")
    for loop in data["loops"]:
        state = f"installed {loop['version']}" if loop["available"] else f"not installed ({loop['install']})"
        default = " (default)" if loop["name"] in data["default_loops"] else ""
        print(f"  {loop['name']:<8} {state}{default}")
    return EXIT_OK


def _default_output() -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    impl = platform.python_implementation().lower()
    ver = "".join(platform.python_version_tuple()[:2])
    return os.path.join("results", f"aiterbench-{impl}{ver}-{stamp}.json")


def _budget(args, quick=None):
    import dataclasses

    from ._run import FULL, QUICK

    budget = (quick or QUICK) if args.quick else FULL
    changes = {}
    if args.sizes:
        try:
            changes["sizes"] = tuple(int(s) for s in args.sizes.split(","))
        except ValueError:
            raise UsageError(f"--sizes {args.sizes!r}: expected comma-separated integers") from None
    for name in ("rounds", "min_time", "cell_timeout", "values", "seconds"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if getattr(args, "latency", False):
        changes["latency"] = True
    try:
        return dataclasses.replace(budget, **changes)
    except ValueError as exc:
        raise UsageError(f"budget: {exc}") from None


def _worker_env(args):
    """The workers' environment and a note on what it leaves out (None when nothing influential was dropped)."""
    from ._environ import check_names, worker_environ

    names = [n.strip() for text in (args.inherit_environ or []) for n in text.split(",") if n.strip()]
    try:
        inherit = check_names(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env, dropped = worker_environ(inherit)
    note = None
    if dropped:
        note = (f"note: workers start from a clean environment; left out {', '.join(dropped)} "
                "(--inherit-environ NAME,... passes one on purpose)")
    return env, note


def _check_output(output: str, append: bool = False, force: bool = False, can_append: bool = True):
    """Fail before measuring if ``output`` cannot be written; the loaded suite when appending."""
    from ._results import ResultError, check_writable, load_suite

    if os.path.isdir(output):
        raise UsageError(f"{output}: is a directory, expected a result file path")
    base = None
    if os.path.exists(output):
        if append:
            try:
                base = load_suite(output)
            except ResultError as exc:
                raise UsageError(f"--append: {exc}") from None
        elif not force:
            hint = "pass --append to add to it or --force to replace it" if can_append else "pass --force to replace it"
            raise UsageError(f"{output} exists: {hint}")
    try:
        check_writable(output)
    except ResultError as exc:
        raise UsageError(str(exc)) from None
    return base


def _makedirs_for(output: str) -> None:
    folder = os.path.dirname(output)
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {folder}/ for the results ({exc.strerror}); pass -o") from None


def cmd_run(args) -> int:
    from ._environ import recorded
    from ._progress import progress
    from ._results import ResultError, check_appendable
    from ._run import run_matrix, save, steps

    cells, notes = _select(args)
    budget = _budget(args)
    modules = _modules(args)
    env, env_note = _worker_env(args)

    output = args.output or _default_output()
    if args.output is None:
        _makedirs_for(output)
    base = _check_output(output, args.append, args.force)
    if base is not None:
        try:
            check_appendable(base, output, recorded(env))
        except ResultError as exc:
            raise UsageError(f"--append: {exc}") from None

    bar = progress(steps(cells, budget))
    for note in notes + ([env_note] if env_note else []):
        bar.note(note)
    bar.note(f"measuring {len(cells)} cells x {_rounds_text(cells, budget)} at n={','.join(map(str, budget.sizes))} into {output}")
    written = []

    def on_round(benchmarks) -> None:
        if save(benchmarks[0], output, base):
            written.append(output)

    try:
        outcome = run_matrix(cells, budget, modules, on_step=bar.step, on_round=on_round, env=env)
    finally:
        bar.close()
    if outcome.interrupted and outcome.rounds_done:
        save(outcome.benchmarks[0], output, base)  # the rounds done, and what the last one measured
    for failure in outcome.failures:
        print(f"FAILED {failure.cell.name}: {failure.reason}", file=sys.stderr)
    if written:
        _print_table(output, "text")
        print(f"wrote {output}")
    elif outcome.interrupted:
        kept = f"; {output} is as it was" if os.path.exists(output) else ""
        print(f"aiterbench: interrupted before the first round was measured: nothing written{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    else:
        print("no cell was measured; nothing written", file=sys.stderr)
    if outcome.interrupted:
        print(f"aiterbench: interrupted after {_plural(outcome.rounds_done, 'full round')}; kept what was measured",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.failures else EXIT_OK


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rounds_text(cells, budget, sides: int = 1) -> str:
    from ._run import planned_rounds

    rounds = planned_rounds(cells, budget, sides)
    text = f"{rounds} rounds"
    if rounds != budget.rounds:
        text += f" ({budget.rounds} rounded up so that every cell{' and side' if sides > 1 else ''} runs first equally often)"
    if budget.seconds:
        text += f", then more until {budget.seconds:g} s have passed"
    return text


def _select(args):
    """The cells the filters pick (and notes on loops skipped); UsageError when they pick none."""
    from ._matrix import SelectionError, select

    try:
        return select(_registry(args.impl_module), args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None


def _modules(args) -> list:
    return [os.path.abspath(m) if m.endswith(".py") else m for m in args.impl_module]


def _load(paths):
    from .analysis import ResultError, load_results

    try:
        return load_results(paths)
    except ResultError as exc:
        raise UsageError(str(exc)) from None


def _print_memory(path: str, fmt: str) -> bool:
    """Print a memory file's tables; False if ``path`` holds something else."""
    from .analysis import KIND_MEMORY, ResultError, format_memory, kind_of, labels, load_suite
    from .analysis import memory_of as from_suite

    try:
        suite = load_suite(path)
        if kind_of(suite, path) != KIND_MEMORY:
            return False
        parts = from_suite(suite, path)
    except ResultError as exc:
        raise UsageError(str(exc)) from None
    if not parts:
        raise UsageError(f"{path}: holds no measured benchmarks")
    names = labels([env for env, _ in parts])
    if fmt == "json":
        docs = [{"environment": label, **json.loads(format_memory(m, "json"))} for label, (_, m) in zip(names, parts)]
        print(json.dumps(docs[0] if len(docs) == 1 else {"environments": docs}, indent=2))
        return True
    for label, (_, memories) in zip(names, parts):
        if len(parts) > 1:
            print(f"{'## ' if fmt == 'md' else '== '}{label}{'' if fmt == 'md' else ' =='}\n")
        print(format_memory(memories, fmt), end="")
    return True


def _print_table(path: str, fmt: str) -> None:
    from .analysis import KIND_COUNT, analyze, format_json, format_md, format_text, labels

    if _print_memory(path, fmt):
        return
    sets = _load([path])
    names = labels([s.environment for s in sets])
    if fmt == "json" and len(sets) > 1:  # one document: a list of environments, each with its table
        docs = []
        for label, rs in zip(names, sets):
            if rs.kind == KIND_COUNT:
                from ._count import format_counts

                doc = json.loads(format_counts(rs, "json"))
            else:
                doc = json.loads(format_json(analyze(rs.cells)))
            docs.append({"environment": label, **doc})
        print(json.dumps({"environments": docs}, indent=2))
        return
    for label, rs in zip(names, sets):
        if len(sets) > 1:
            print(f"{'## ' if fmt == 'md' else '== '}{label}{'' if fmt == 'md' else ' =='}\n")
        if rs.kind == KIND_COUNT:
            from ._count import format_counts

            print(format_counts(rs, fmt), end="")
            continue
        rows = analyze(rs.cells)
        print({"text": format_text, "md": format_md, "json": format_json}[fmt](rows), end="")


def cmd_show(args) -> int:
    if os.path.isdir(args.file):
        raise UsageError(f"{args.file}: is a directory, expected a result file")
    _print_table(args.file, args.format)
    return EXIT_OK


def _threshold(args, kind: str) -> float:
    from ._verdict import DEFAULT_COUNT_THRESHOLD, DEFAULT_THRESHOLD, parse_threshold

    if args.threshold is None:
        return DEFAULT_COUNT_THRESHOLD if kind == "count" else DEFAULT_THRESHOLD
    try:
        return parse_threshold(args.threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _emit(text: str, output: str | None, summary: str) -> None:
    """Print ``text``, or write it atomically to ``output`` and print ``summary``."""
    from ._results import write_atomic

    if output:
        try:
            write_atomic(output, text)
        except OSError as exc:
            raise UsageError(f"{output}: cannot write ({exc.strerror or exc})") from None
        print(summary)
    else:
        print(text, end="")


def _compare(base_paths, new_paths, args, failed=()):
    from ._compare import compare_sets, one_environment

    if args.threshold is not None:
        _threshold(args, "time")  # a bad threshold is bad input before any file is read
    try:
        base = one_environment(_load(base_paths), " ".join(base_paths))
        new = one_environment(_load(new_paths), " ".join(new_paths))
        return compare_sets(base, new, _threshold(args, base.kind), failed)
    except ValueError as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(str(exc)) from None


def _verdict_exit(comparison) -> int:
    return EXIT_FAILED if comparison.regressed or comparison.failed else EXIT_OK


def cmd_compare(args) -> int:
    from ._compare import _summary, render

    if args.output and os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: is a directory")
    comparison = _compare([args.base], [args.new], args)
    _emit(render(comparison, args.format), args.output, f"{_summary(comparison)}; wrote {args.output}")
    return _verdict_exit(comparison)


def _probe_sides(args, names=("base", "new")):
    from ._ab import SideError, make_side, probe

    env, env_note = _worker_env(args)
    try:
        sides = [make_side(n, getattr(args, f"{n}_python"), getattr(args, f"{n}_path")) for n in names]
        probes = [probe(side, _modules(args), env) for side in sides]
    except SideError as exc:
        raise UsageError(str(exc)) from None
    return probes, env, env_note


def cmd_ab(args) -> int:
    from ._ab import describe, select_cells
    from ._compare import render
    from ._matrix import SelectionError
    from ._progress import progress
    from ._run import run_matrix, save, steps

    _threshold(args, "time")  # a bad threshold is bad input before anything runs
    if args.output and os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: is a directory, expected a file prefix")
    probes, env, env_note = _probe_sides(args)
    try:
        cells, notes = select_cells(probes, args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    from ._run import AB_QUICK

    budget = _budget(args, AB_QUICK)
    prefix = args.output or os.path.join("results", "ab-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if args.output is None:
        _makedirs_for(prefix)
    paths = [f"{prefix}-{p.side.name}.json" for p in probes]
    for path in paths:
        _check_output(path, force=args.force)

    sides = [p.side for p in probes]
    bar = progress(steps(cells, budget, len(sides)))
    for note in notes + ([env_note] if env_note else []):
        bar.note(note)
    bar.note(f"ab: {describe(probes)}")
    bar.note(f"measuring {len(cells)} cells x {_rounds_text(cells, budget, 2)} on both sides into {', '.join(paths)}")
    written = []

    def on_round(benchmarks) -> None:
        ok = [save(b, path) for b, path in zip(benchmarks, paths)]
        if all(ok):
            written[:] = paths

    try:
        outcome = run_matrix(cells, budget, _modules(args), on_step=bar.step, on_round=on_round, sides=sides, env=env)
    finally:
        bar.close()
    if outcome.interrupted and outcome.rounds_done:
        for b, path in zip(outcome.benchmarks, paths):
            save(b, path)
    failed = tuple((f.cell.name, f.side or "both", f.reason) for f in outcome.failures)
    for cell, side, reason in failed:
        print(f"FAILED {cell} ({side} side): {reason}", file=sys.stderr)
    if not written:
        if outcome.interrupted:
            print("aiterbench: interrupted before the first round was measured: nothing written", file=sys.stderr)
            return EXIT_INTERRUPTED
        print("no cell was measured on both sides; nothing written", file=sys.stderr)
        return EXIT_FAILED
    comparison = _compare([paths[0]], [paths[1]], args, failed)
    print(render(comparison, args.format), end="")
    print(f"wrote {paths[0]} and {paths[1]} (re-judge with: aiterbench compare {paths[0]} {paths[1]})", file=sys.stderr)
    if outcome.interrupted:
        print(f"aiterbench: interrupted after {_plural(outcome.rounds_done, 'full round')}; verdicts on what was "
              "measured", file=sys.stderr)
        return EXIT_INTERRUPTED
    return _verdict_exit(comparison)


def cmd_calibrate(args) -> int:
    from ._ab import select_cells
    from ._calibrate import calibrate, format_calibration
    from ._matrix import SelectionError

    if not (args.budget > 0 and args.budget < 86400):
        raise UsageError(f"--budget {args.budget:g}: expected seconds between 0 and 86400")
    args.base_python = args.new_python = None
    args.base_path = args.new_path = None
    probes, env, env_note = _probe_sides(args)
    try:
        cells, notes = select_cells(probes, args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    result = calibrate(cells, [p.side for p in probes], _modules(args), env, args.budget,
                       notes + ([env_note] if env_note else []))
    print(format_calibration(result), end="")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if result.failures else EXIT_OK


def cmd_count(args) -> int:
    from ._count import CountError, run_counts

    cells, notes = _select(args)
    env, env_note = _worker_env(args)
    output = args.output or os.path.join("results", "count-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    try:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    except ValueError:
        raise UsageError(f"--sizes {args.sizes!r}: expected two comma-separated integers") from None
    try:
        return run_counts(cells, sizes, _modules(args), env, output, args.output is None, args.force,
                          notes + ([env_note] if env_note else []))
    except CountError as exc:
        raise UsageError(str(exc)) from None


def cmd_memory(args) -> int:
    from ._memory import SIZES, MemoryError_, run_memory

    cells, notes = _select(args)
    env, env_note = _worker_env(args)
    output = args.output or os.path.join("results", "memory-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    try:
        return run_memory(cells, _modules(args), env, output, args.output is None, args.force, args.format,
                          live=args.live, sizes=SIZES, notes=notes + ([env_note] if env_note else []))
    except MemoryError_ as exc:
        raise UsageError(str(exc)) from None


def cmd_profile(args) -> int:
    import importlib.util

    from ._matrix import Cell, SelectionError, select
    from ._profile import MAX_SOURCES, PYINSTRUMENT_EXTRA, format_profile, run_profile

    if any(ch in args.cell for ch in "*?[,"):
        raise UsageError(f"{args.cell!r}: profile takes one cell, not globs or lists")
    try:
        cell, n = Cell.parse(args.cell)
        if n is not None:
            raise SelectionError(f"{args.cell!r}: give the cell without '@n=' (-n sets the items)")
        cells, _ = select(_registry(args.impl_module), cell.impl, cell.workload, cell.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= args.n <= 10_000_000:
        raise UsageError(f"-n {args.n}: expected 1 to 10000000 items")
    import impls

    most = 100_000 if cells[0].workload in impls.STATELESS else MAX_SOURCES
    if not 1 <= args.repeat <= most:
        raise UsageError(f"--repeat {args.repeat}: expected 1 to {most} iterators for {cells[0].workload} "
                         "(each holds its source open while the profiler runs)" if most == MAX_SOURCES else
                         f"--repeat {args.repeat}: expected 1 to {most} iterators")
    if not 1 <= args.top <= 1000:
        raise UsageError(f"--top {args.top}: expected 1 to 1000 functions")
    if args.tool == "pyinstrument" and importlib.util.find_spec("pyinstrument") is None:
        raise UsageError(f"profile --tool pyinstrument needs pyinstrument: {PYINSTRUMENT_EXTRA}")
    if args.output:
        suffixes = (".html", ".htm") if args.tool == "pyinstrument" else (".prof", ".pstats", ".out")
        if not args.output.endswith(suffixes):
            raise UsageError(f"-o {args.output}: a {args.tool} profile is written as {' or '.join(suffixes)} "
                             "(a profile is never a result file)")
        _check_output(args.output, force=args.force, can_append=False)
    env, env_note = _worker_env(args)
    if env_note:
        print(env_note, file=sys.stderr)
    try:
        result = run_profile(cells[0], args.tool, args.n, args.repeat, _modules(args), env, args.output)
    except RuntimeError as exc:
        print(f"FAILED {cells[0].name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(format_profile(result, args.top, args.format), end="")
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_history(args) -> int:
    import importlib.util

    from ._history import DEFAULT_DB, HISTORY_EXTRA, HistoryError, add, format_history, git_revision, prepare, read

    db = args.db or DEFAULT_DB
    try:
        if args.action == "add":
            runs = prepare(args.results)  # every file read and checked before the database is touched
            if args.db is None:
                _makedirs_for(db)
            revision = args.revision
            if revision is None:
                revision = git_revision()
                if revision:
                    print(f"note: no --revision: stamped the current checkout's {revision} (git HEAD) on every run "
                          "added; pass --revision for results measured at another revision", file=sys.stderr)
            add(db, runs, revision)
            for run in runs:
                print(f"added {os.path.basename(run.source)}: {run.environment.short}, {len(run.rows)} cells")
            print(f"history: {db}")
            return EXIT_OK
        if importlib.util.find_spec("ruptures") is None:
            raise UsageError(f"history show needs ruptures for its change points: {HISTORY_EXTRA}")
        rows = read(db, args.cells)
    except HistoryError as exc:
        raise UsageError(str(exc)) from None
    if not rows:
        raise UsageError(f"{db}: no such cell in the history ({', '.join(args.cells)})" if args.cells else
                         f"{db}: the history is empty")
    print(format_history(rows, args.format), end="")
    return EXIT_OK


def cmd_report(args) -> int:
    try:
        import jinja2  # noqa: F401  (checked here so that the message names the extra)
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"reports need {exc.name}: pip install 'aiterbench[report]'") from None
    import reports

    try:
        if not args.results and not args.history:
            raise UsageError("report needs RESULTS, --history DB, or both")
        if args.history:
            import importlib.util

            if importlib.util.find_spec("ruptures") is None:
                raise UsageError("report --history needs ruptures for its change points: pip install 'aiterbench[history]'")
        written = reports.build(args.results, args.output, args.history)
    except reports.ReportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write the report ({exc.strerror or exc})") from None
    print(f"wrote {len(written)} files to {args.output}: open {os.path.join(args.output, 'index.html')}")
    return EXIT_OK


COMMANDS = {"list": cmd_list, "run": cmd_run, "show": cmd_show, "report": cmd_report, "compare": cmd_compare,
            "ab": cmd_ab, "calibrate": cmd_calibrate, "count": cmd_count, "memory": cmd_memory,
            "profile": cmd_profile, "history": cmd_history}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage line, then one error line, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"aiterbench: error: {message}\n")


def _selection(p, loops_help="comma-separated loop globs (default: asyncio,uvloop)") -> None:
    p.add_argument("-i", "--impl", metavar="GLOBS", help="comma-separated impl globs (default: all)")
    p.add_argument("-w", "--workload", metavar="GLOBS", help="comma-separated workload globs (default: all)")
    p.add_argument("-l", "--loop", metavar="GLOBS", help=loops_help)
    p.add_argument("--impl-module", action="append", default=[], metavar="MODULE",
                   help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")
    p.add_argument("--inherit-environ", action="append", metavar="VAR,...",
                   help="pass these environment variables to the workers (by default they start clean); repeatable")


def _budget_options(p) -> None:
    p.add_argument("--quick", action="store_true", help="the CI-sized budget")
    p.add_argument("--sizes", metavar="N,N,...", help="sizes n to fit the per-item slope on (at least two)")
    p.add_argument("--rounds", type=int, metavar="R",
                   help="worker processes per cell (at least two; six for a 95%% interval); rounded up so that the "
                        "order is balanced")
    p.add_argument("--values", type=int, metavar="V", help="values per size per process")
    p.add_argument("--min-time", type=float, metavar="SECONDS", help="minimum duration of one value")
    p.add_argument("--cell-timeout", type=float, metavar="SECONDS", help="per-worker time limit before a cell counts as hung")
    p.add_argument("--seconds", type=float, metavar="SECONDS",
                   help="after the rounds, keep adding balanced rounds until this much time has passed "
                        "('ab --quick': 50)")


def _verdict_options(p) -> None:
    p.add_argument("--threshold", metavar="PCT",
                   help="smallest change that counts (default 5%%; 1%% for instruction counts)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text",
                   help="text for people, md for a CI job summary, json for programs")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aiterbench", description="Per-item cost of Python's async iteration, per event loop.")
    parser.add_argument("--version", action="version", version=f"aiterbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="impls, workloads and loops", description="List impls, workloads and event loops.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--impl-module", action="append", default=[], metavar="MODULE",
                   help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")

    p = sub.add_parser("run", help="measure the matrix", description="Measure impl x workload x loop cells with pyperf.")
    _selection(p)
    _budget_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="result file (default: results/aiterbench-<python>-<time>.json)")
    p.add_argument("--latency", action="store_true",
                   help="also time each cell's first item and closing it half-consumed (CELL#first_item, CELL#close)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add runs to an existing result file")
    mode.add_argument("--force", action="store_true", help="replace an existing result file")

    p = sub.add_parser("show", help="print a result file's table", description="Per-cell ns/item, fixed cost, ratios and overheads.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("text", "md", "json"), default="text")

    p = sub.add_parser("report", help="HTML page, markdown summary, CSV and charts from result files",
                       description="Write index.html (self-contained), summary.md, data.csv and one SVG/PNG per chart.")
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help="result and memory files or folders (several Pythons, loops, machines or dates)")
    p.add_argument("--history", metavar="DB", help="also draw each cell's trend from this history database")
    p.add_argument("-o", "--output", metavar="DIR", default="report", help="output folder (default: report)")

    p = sub.add_parser("compare", help="regression verdicts: NEW against BASE",
                       description="One verdict per cell (regression, improvement, unchanged, inconclusive) on NEW/BASE "
                                   "per item, with its 95%% interval. Exit 1 when a cell regressed.")
    p.add_argument("base", metavar="BASE", help="result file, or a folder of them (one environment)")
    p.add_argument("new", metavar="NEW", help="result file, or a folder of them (one environment)")
    _verdict_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the verdicts there instead of printing them")

    p = sub.add_parser("ab", help="measure two interpreters or source trees side by side and judge",
                       description="Measure BASE and NEW in the same job, alternating worker processes round by round, "
                                   "then print compare's verdicts. Exit 1 when a cell regressed.")
    for side in ("base", "new"):
        p.add_argument(f"--{side}-python", metavar="PATH", help=f"interpreter of the {side} side (default: this one)")
        p.add_argument(f"--{side}-path", metavar="DIR",
                       help=f"source folder put first on sys.path for impls and plug-ins on the {side} side")
    _selection(p)
    _budget_options(p)
    _verdict_options(p)
    p.add_argument("-o", "--output", metavar="PREFIX", help="write PREFIX-base.json and PREFIX-new.json "
                                                             "(default: results/ab-<time>)")
    p.add_argument("--force", action="store_true", help="replace existing result files")

    p = sub.add_parser("calibrate", help="A/A runs: the smallest change this machine detects",
                       description="Measure the same side twice (A/A) within a time budget and report, per cell, the "
                                   "smallest change 'ab' detects here: evidence for --threshold.")
    _selection(p)
    p.add_argument("--budget", type=float, default=120.0, metavar="SECONDS", help="time to spend measuring (default 120)")

    p = sub.add_parser("count", help="instructions per item under valgrind (deterministic)",
                       description="Count instructions per item with callgrind at two sizes (the difference quotient, so "
                                   "fixed costs cancel). Counts ignore the machine's speed and load.")
    _selection(p)
    p.add_argument("--sizes", default="1000,3000", metavar="N1,N2", help="the two sizes (default 1000,3000)")
    p.add_argument("-o", "--output", metavar="FILE", help="count file (default: results/count-<time>.json)")
    p.add_argument("--force", action="store_true", help="replace an existing count file")

    p = sub.add_parser("memory", help="bytes a suspended iterator holds, allocations per item (tracemalloc, memray)",
                       description="Per cell: bytes held by a live suspended iterator (alone, and with the loop's "
                                   "asyncgen hooks), the peak for many alive at once, and blocks and bytes allocated "
                                   "per item while draining (memray, if installed). Written as a pyperf file.")
    _selection(p)
    p.add_argument("--live", type=int, default=10_000, metavar="N", help="iterators alive at once (default 10000)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text", help="table format (default text)")
    p.add_argument("-o", "--output", metavar="FILE", help="memory file (default: results/memory-<time>.json)")
    p.add_argument("--force", action="store_true", help="replace an existing memory file")

    p = sub.add_parser("profile", help="where one cell's time goes: calls and time per item",
                       description="Profile the steady state of one cell (the loop and the source are set up before "
                                   "the profiler starts) and print the top functions with calls and time per item. "
                                   "Nothing is stored as a timing result.")
    p.add_argument("cell", metavar="CELL", help="impl/workload/loop, e.g. class_anext/none/asyncio")
    p.add_argument("--tool", choices=("cprofile", "pyinstrument"), default="cprofile",
                   help="cprofile (deterministic: exact call counts) or pyinstrument (sampling; needs the profile extra)")
    p.add_argument("-n", type=int, default=10_000, metavar="N", help="items per iterator (default 10000)")
    p.add_argument("--repeat", type=int, default=20, metavar="R", help="iterators drained while profiling (default 20)")
    p.add_argument("--top", type=int, default=15, metavar="K", help="functions to show (default 15)")
    p.add_argument("--impl-module", action="append", default=[], metavar="MODULE",
                   help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")
    p.add_argument("--inherit-environ", action="append", metavar="VAR,...",
                   help="pass these environment variables to the profiled process; repeatable")
    p.add_argument("--format", choices=("text", "md", "json"), default="text", help="table format (default text)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also write the profile: pstats data (cprofile; 'python -m pstats FILE') or HTML (pyinstrument)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")

    p = sub.add_parser("history", help="runs over time in SQLite, and the change points per cell",
                       description="Keep runs in a SQLite history (git revision, environment, date, every cell's "
                                   "per-item estimate) and show each cell's trend with its change points.")
    hsub = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    h = hsub.add_parser("add", help="store result files in the history",
                        description="Store every run of the result files (or folders); a run already there is refused "
                                    "and nothing is added.")
    h.add_argument("results", nargs="+", metavar="RESULTS")
    h.add_argument("--db", metavar="PATH", help="history database (default: results/history.sqlite)")
    h.add_argument("--revision", metavar="REV", help="the revision measured (default: git rev-parse HEAD, if any)")
    h = hsub.add_parser("show", help="each cell's trend and change points",
                        description="Per cell and environment: the runs, the latest ns/item and the change points "
                                    "(a step that persists, not one noisy run).")
    h.add_argument("cells", nargs="*", metavar="CELL", help="cells to show (default: all)")
    h.add_argument("--db", metavar="PATH", help="history database (default: results/history.sqlite)")
    h.add_argument("--format", choices=("text", "md", "json"), default="text", help="table format (default text)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"aiterbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aiterbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
