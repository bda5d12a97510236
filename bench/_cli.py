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


def _budget(args):
    import dataclasses

    from ._run import FULL, QUICK

    budget = QUICK if args.quick else FULL
    changes = {}
    if args.sizes:
        try:
            changes["sizes"] = tuple(int(s) for s in args.sizes.split(","))
        except ValueError:
            raise UsageError(f"--sizes {args.sizes!r}: expected comma-separated integers") from None
    for name in ("rounds", "min_time", "cell_timeout", "values"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    try:
        return dataclasses.replace(budget, **changes)
    except ValueError as exc:
        raise UsageError(f"budget: {exc}") from None


def cmd_run(args) -> int:
    from ._matrix import SelectionError, select
    from ._results import ResultError, check_appendable, check_writable, load_suite
    from ._run import run_matrix, save, steps
    from ._progress import progress

    registry = _registry(args.impl_module)
    try:
        cells, notes = select(registry, args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    budget = _budget(args)
    modules = [os.path.abspath(m) if m.endswith(".py") else m for m in args.impl_module]

    output = args.output or _default_output()
    if args.output is None:
        try:
            os.makedirs(os.path.dirname(output), exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {os.path.dirname(output)}/ for the results ({exc.strerror}); pass -o FILE") from None
    base = None
    if os.path.isdir(output):
        raise UsageError(f"{output}: is a directory, expected a result file path")
    if os.path.exists(output):
        if args.append:
            try:
                base = load_suite(output)
                check_appendable(base, output)
            except ResultError as exc:
                raise UsageError(f"--append: {exc}") from None
        elif not args.force:
            raise UsageError(f"{output} exists: pass --append to add to it or --force to replace it")
    try:
        check_writable(output)
    except ResultError as exc:
        raise UsageError(str(exc)) from None

    bar = progress(steps(cells, budget))
    for note in notes:
        bar.note(note)
    bar.note(f"measuring {len(cells)} cells x {budget.rounds} rounds at n={','.join(map(str, budget.sizes))} into {output}")
    try:
        outcome = run_matrix(
            cells, budget, modules,
            on_step=bar.step,
            on_round=lambda benchmarks: save(benchmarks, output, base),
        )
    finally:
        bar.close()
    if outcome.interrupted:
        save(outcome.benchmarks, output, base)  # a partial round is still measured data
    for failure in outcome.failures:
        print(f"FAILED {failure.cell.name}: {failure.reason}", file=sys.stderr)
    if outcome.benchmarks:
        _print_table(output, "text")
        print(f"wrote {output}")
    else:
        print("no cell was measured; nothing written", file=sys.stderr)
    if outcome.interrupted:
        print(f"interrupted after {outcome.rounds_done} full rounds; kept what was measured", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if outcome.failures else EXIT_OK


def _print_table(path: str, fmt: str) -> None:
    from ._results import cells, load_suite
    from ._table import analyze, format_json, format_md, format_text

    rows = analyze(cells(load_suite(path), path))
    print({"text": format_text, "md": format_md, "json": format_json}[fmt](rows), end="")


def cmd_show(args) -> int:
    from ._results import ResultError

    try:
        _print_table(args.file, args.format)
    except ResultError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_report(args) -> int:
    try:
        import matplotlib  # noqa: F401  (checked here so that the message names the extra)
    except ImportError:
        raise UsageError("reports need matplotlib: pip install 'aiterbench[report]'") from None
    import reports

    try:
        written = reports.build(args.results, args.output)
    except reports.ReportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write the report ({exc.strerror or exc})") from None
    print(f"wrote {len(written)} files to {args.output}: open {os.path.join(args.output, 'index.html')}")
    return EXIT_OK


COMMANDS = {"list": cmd_list, "run": cmd_run, "show": cmd_show, "report": cmd_report}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage line, then one error line, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"aiterbench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aiterbench", description="Per-item cost of Python's async iteration, per event loop.")
    parser.add_argument("--version", action="version", version=f"aiterbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plugin = dict(action="append", default=[], metavar="MODULE",
                  help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")

    p = sub.add_parser("list", help="impls, workloads and loops", description="List impls, workloads and event loops.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--impl-module", **plugin)

    p = sub.add_parser("run", help="measure the matrix", description="Measure impl x workload x loop cells with pyperf.")
    p.add_argument("-i", "--impl", metavar="GLOBS", help="comma-separated impl globs (default: all)")
    p.add_argument("-w", "--workload", metavar="GLOBS", help="comma-separated workload globs (default: all)")
    p.add_argument("-l", "--loop", metavar="GLOBS", help="comma-separated loop globs (default: asyncio,uvloop)")
    p.add_argument("--impl-module", **plugin)
    p.add_argument("--quick", action="store_true", help="the CI-sized budget (about a minute for the default matrix)")
    p.add_argument("-o", "--output", metavar="FILE", help="result file (default: results/aiterbench-<python>-<time>.json)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add runs to an existing result file")
    mode.add_argument("--force", action="store_true", help="replace an existing result file")
    p.add_argument("--sizes", metavar="N,N,...", help="sizes n to fit the per-item slope on (at least two)")
    p.add_argument("--rounds", type=int, metavar="R", help="worker processes per cell (at least two; six for a 95%% interval)")
    p.add_argument("--values", type=int, metavar="V", help="values per size per process")
    p.add_argument("--min-time", type=float, metavar="SECONDS", help="minimum duration of one value")
    p.add_argument("--cell-timeout", type=float, metavar="SECONDS", help="per-worker time limit before a cell counts as hung")

    p = sub.add_parser("show", help="print a result file's table", description="Per-cell ns/item, fixed cost, ratios and overheads.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("text", "md", "json"), default="text")

    p = sub.add_parser("report", help="HTML page, markdown summary, CSV and charts from result files",
                       description="Write index.html (self-contained), summary.md, data.csv and one SVG/PNG per chart.")
    p.add_argument("results", nargs="+", metavar="RESULTS", help="result files (several Pythons, loops, machines or dates)")
    p.add_argument("-o", "--output", metavar="DIR", default="report", help="output folder (default: report)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"aiterbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aiterbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
