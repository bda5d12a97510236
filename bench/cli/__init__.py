"""``python -m aiterbench`` / ``aiterbench``: argument parsing, and one function per command picked from one table.

The commands live in ``_measure`` (list, run, count, memory, profile), ``_explain`` (explain),
``_regress`` (compare, ab, calibrate) and ``_results`` (show, report, history);
what they share in ``_common``; exit codes in ``_exit``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .._version import __version__
from . import _common as common
from ._exit import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from ._explain import add_parser as _add_explain
from ._explain import cmd_explain
from ._measure import cmd_count, cmd_list, cmd_memory, cmd_profile, cmd_run
from ._regress import cmd_ab, cmd_calibrate, cmd_compare
from ._results import cmd_history, cmd_report, cmd_show

__all__ = ["COMMANDS", "build_parser", "main"]


COMMANDS = {"list": cmd_list, "run": cmd_run, "show": cmd_show, "report": cmd_report, "compare": cmd_compare,
            "ab": cmd_ab, "calibrate": cmd_calibrate, "count": cmd_count, "memory": cmd_memory,
            "profile": cmd_profile, "history": cmd_history, "explain": cmd_explain}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage line, then one error line, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"aiterbench: error: {message}\n")


def _baseline(p) -> None:
    p.add_argument("--baseline", metavar="IMPL",
                   help="the impl every ratio is taken to, in its workload and loop (default: the class_anext-family "
                        "impl of each impl's own module, else the built-in class_anext)")


def _selection(p, loops_help="comma-separated loop globs (default: asyncio,uvloop)") -> None:
    p.add_argument("-i", "--impl", metavar="GLOBS", help="comma-separated impl globs (default: all)")
    p.add_argument("-w", "--workload", metavar="GLOBS", help="comma-separated workload globs (default: all)")
    p.add_argument("-l", "--loop", metavar="GLOBS", help=loops_help)
    p.add_argument("--impl-module", action="append", default=[], metavar="MODULE",
                   help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")
    p.add_argument("--inherit-environ", action="append", metavar="VAR,...",
                   help="pass these environment variables to the workers (by default they start clean); repeatable")


def _budget_options(p) -> None:
    p.add_argument("--quick", action="store_true",
                   help="the CI-sized budget (run: two sizes, each group until its figures are within +-5%% at 95%%, "
                        "at most 20 rounds)")
    p.add_argument("--sizes", metavar="N,N,...", help="sizes n to fit the per-item slope on (at least two)")
    p.add_argument("--rounds", type=int, metavar="R",
                   help="worker processes per cell (at least two; six for a 95%% interval); rounded up so that the "
                        "order is balanced")
    p.add_argument("--values", type=int, metavar="V", help="values per size per process")
    p.add_argument("--min-time", type=float, metavar="SECONDS", help="minimum duration of one value")
    p.add_argument("--cell-timeout", type=float, metavar="SECONDS", help="per-worker time limit before a cell counts as hung")
    common.add_check_timeout(p)
    p.add_argument("--seconds", type=float, metavar="SECONDS",
                   help="after the rounds, keep adding balanced rounds until this much time has passed "
                        "('ab --quick': 50)")


def _verdict_options(p) -> None:
    p.add_argument("--threshold", metavar="PCT",
                   help="smallest change that counts (default 5%%; 1%% for instruction counts)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text",
                   help="text for people, md for a CI job summary, json for programs")
    p.add_argument("--fail-on", choices=("regression", "inconclusive"), default="regression",
                   help="exit 1 on a regression (default), or also when a cell is undecided (a strict gate)")


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
    p.add_argument("--precision", metavar="PCT",
                   help="stop measuring a group once every per-item figure and ratio has a 95%% interval within "
                        "+-PCT%% of it (--rounds is then the most it gets); --quick: 5, on the ratios to the class "
                        "form alone")
    p.add_argument("--max-seconds", type=float, metavar="SECONDS",
                   help="no group begins a balanced set of rounds after this many seconds of rounds; with a "
                        "precision, none that its rounds so far say would end after them; each group gets at least "
                        "one set (--quick: 50)")
    p.add_argument("--wide", action="store_true",
                   help="print every column even when the table is wider than the terminal")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add runs to an existing result file")
    mode.add_argument("--force", action="store_true", help="replace an existing result file")
    _baseline(p)

    p = sub.add_parser("show", help="print a result file's table", description="Per-cell ns/item, fixed cost, ratios and overheads.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("text", "md", "json"), default="text")
    p.add_argument("--wide", action="store_true",
                   help="print every column even when the table is wider than the terminal")
    _baseline(p)

    p = sub.add_parser("report", help="HTML page, markdown summary, CSV and charts from result files",
                       description="Write index.html (self-contained), summary.md, data.csv and one SVG/PNG per chart; count files "
                                   "add instructions per item, explain documents a Why section.")
    p.add_argument("results", nargs="*", metavar="RESULTS",
                   help="result, count and memory files, explain documents, or folders of them "
                        "(several Pythons, loops, machines or dates)")
    p.add_argument("--history", metavar="DB", help="also draw each cell's trend from this history database")
    p.add_argument("--readme", metavar="FILE",
                   help="also rewrite FILE's generated blocks (between <!-- aiterbench:results:start --> and its end, "
                        "and the same for 'why') from the same files: what the suite found, on the front page")
    p.add_argument("-o", "--output", metavar="DIR", default="report", help="output folder (default: report)")
    p.add_argument("--force", action="store_true",
                   help="write into a folder that holds other files than an earlier report: files of the report's names "
                        "(index.html, summary.md, data.csv, charts) are replaced, all others are left as they are")

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
    p.add_argument("--count", action="store_true",
                   help="judge instructions per item under valgrind instead of time: exact, unmoved by the "
                        "machine's load (threshold 1%%; --sizes N1,N2, default 1000,3000)")
    p.add_argument("--explain", action="store_true",
                   help="with --count: for every cell that is not unchanged, the functions whose instructions per item "
                        "differ, from the same callgrind runs (largest rows in text and md, all in json and in "
                        "PREFIX-explain-CELL.json)")

    p = sub.add_parser("calibrate", help="A/A runs: the smallest change this machine detects",
                       description="Measure the same side twice (A/A) within a time budget and report, per cell, the "
                                   "smallest change 'ab' detects here: evidence for --threshold.")
    _selection(p)
    p.add_argument("--budget", type=float, default=120.0, metavar="SECONDS", help="time to spend measuring (default 120)")
    common.add_check_timeout(p)

    p = sub.add_parser("count", help="instructions per item under valgrind (deterministic)",
                       description="Count instructions per item with callgrind at two sizes (the difference quotient, so "
                                   "fixed costs cancel). Counts ignore the machine's speed and load.")
    _selection(p)
    p.add_argument("--sizes", default="1000,3000", metavar="N1,N2", help="the two sizes (default 1000,3000)")
    common.add_check_timeout(p)
    p.add_argument("-o", "--output", metavar="FILE", help="count file (default: results/count-<time>.json)")
    p.add_argument("--force", action="store_true", help="replace an existing count file")

    _add_explain(sub)

    p = sub.add_parser("memory", help="bytes a suspended iterator holds, allocations per item (tracemalloc, memray)",
                       description="Per cell: bytes held by a live suspended iterator (alone, and with the loop's "
                                   "asyncgen hooks), the peak for many alive at once, and blocks and bytes allocated "
                                   "per item while draining (memray, if installed). Written as a pyperf file.")
    _selection(p)
    p.add_argument("--live", type=int, default=10_000, metavar="N", help="iterators alive at once (default 10000)")
    common.add_check_timeout(p)
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
    common.add_check_timeout(p)
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
