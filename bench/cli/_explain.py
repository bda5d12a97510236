"""``explain``: why one per-item count differs from another, function by function."""

from __future__ import annotations

import sys

from . import _common as common
from ._exit import EXIT_FAILED, EXIT_OK, UsageError

_SIDE_OPTIONS = ("base_python", "new_python", "base_path", "new_path")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain", help="why NEW costs more or less per item than BASE: instructions per function (callgrind)",
        description="Count two cells (BASE NEW), or one cell on two sides (--base-python/--new-python, "
                    "--base-path/--new-path), under callgrind at two sizes, and give per function its self "
                    "instructions per item on each side, the difference, its category and its callers; beside "
                    "them, the bytecode instructions per item of each Python function. Deterministic.")
    p.add_argument("cells", nargs="+", metavar="CELL", help="BASE NEW (two cells), or one cell with side options; "
                                                           "impl/workload/loop, e.g. class_anext/none/asyncio")
    for side in ("base", "new"):
        p.add_argument(f"--{side}-python", metavar="PATH", help=f"interpreter of the {side} side (default: this one)")
        p.add_argument(f"--{side}-path", metavar="DIR",
                       help=f"source folder put first on sys.path for impls and plug-ins on the {side} side")
    p.add_argument("--impl-module", action="append", default=[], metavar="MODULE",
                   help="add the impls of a plug-in module (dotted name on PYTHONPATH, or a .py path); repeatable")
    p.add_argument("--inherit-environ", action="append", metavar="VAR,...",
                   help="pass these environment variables to the counted processes; repeatable")
    p.add_argument("--sizes", default="1000,3000", metavar="N1,N2", help="the two sizes (default 1000,3000)")
    common.add_check_timeout(p)
    p.add_argument("--top", type=int, default=15, metavar="K", help="functions shown in text and md (default 15; "
                                                                     "json has them all)")
    p.add_argument("--format", choices=("text", "md", "json"), default="text",
                   help="text for people, md for a CI job summary, json (versioned 'explain' document) for programs")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output there instead of printing it")
    p.add_argument("--chart", metavar="STEM", help="also draw the largest differences: STEM.svg and STEM.png "
                                                   "(needs the report extra)")
    p.add_argument("--force", action="store_true", help="replace existing output files")


def _one_cell(text: str):
    from ..model.cells import Cell, SelectionError

    if any(ch in text for ch in "*?[,"):
        raise UsageError(f"{text!r}: explain takes cells, not globs or lists")
    try:
        cell, n = Cell.parse(text)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
    if n is not None:
        raise UsageError(f"{text!r}: give the cell without '@n=' (--sizes sets the sizes)")
    return cell


def _check_cells(cells, reg) -> None:
    """Each cell exists here and can run: UsageError naming the first that cannot."""
    from ..model.cells import SelectionError, select

    for cell in cells:
        try:
            select(reg, cell.impl, cell.workload, cell.loop)
        except SelectionError as exc:
            raise UsageError(f"{cell.name}: {exc}") from None


def _outputs(args) -> tuple[str | None, str | None]:
    from ..model.files import OutputError, prepare_output

    chart = None
    try:
        if args.output:
            prepare_output(args.output, force=args.force, what="explain output")
        if args.chart:
            stem = args.chart[:-4] if args.chart.endswith((".svg", ".png")) else args.chart
            for path in (stem + ".svg", stem + ".png"):
                prepare_output(path, force=args.force, what="chart", option="--chart")
            chart = stem
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    if args.chart:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--chart needs matplotlib: pip install 'aiterbench[report]'")
    return args.output, chart


def cmd_explain(args) -> int:
    from ..analysis.explain import format_explanation
    from ..orchestrate.count import CountError, check_counting
    from ..orchestrate.explain import ExplainFailed, explain_cells, explain_sides

    sides = any(getattr(args, name) for name in _SIDE_OPTIONS)
    if len(args.cells) > 2:
        raise UsageError(f"explain takes BASE NEW (two cells) or one cell with side options, not {len(args.cells)}")
    if len(args.cells) == 2 and sides:
        raise UsageError("two cells are compared on this interpreter: give one cell with "
                         "--base-python/--new-python/--base-path/--new-path, or two cells without them")
    if len(args.cells) == 1 and not sides:
        raise UsageError(f"{args.cells[0]}: one cell needs two sides (--base-python/--new-python/--base-path/"
                         "--new-path); or give BASE NEW, two cells")
    cells = [_one_cell(c) for c in args.cells]
    check_timeout = common.check_timeout(args)
    if not 1 <= args.top <= 1000:
        raise UsageError(f"--top {args.top}: expected 1 to 1000 functions")
    try:
        sizes = check_counting(tuple(int(s) for s in args.sizes.split(",")))
    except CountError as exc:
        raise UsageError(str(exc)) from None
    except ValueError:
        raise UsageError(f"--sizes {args.sizes!r}: expected two comma-separated integers") from None
    output, chart = _outputs(args)
    modules = common.modules(args)
    if sides:
        from ._regress import _probe_sides

        probes, env, env_note = _probe_sides(args)
        for p in probes:
            _check_cells(cells, p)
        notes = [f"explaining {cells[0].name}: {' against '.join(reversed([p.side.name for p in probes]))}, "
                 f"counted at n={sizes[0]},{sizes[1]} under callgrind"]
    else:
        env, env_note = common.worker_env(args)
        _check_cells(cells, common.registry(args.impl_module))
        notes = [f"explaining {cells[1].name} against {cells[0].name}, counted at n={sizes[0]},{sizes[1]} under "
                 "callgrind"]
    if env_note:
        notes.insert(0, env_note)
    try:
        if sides:
            explanation = explain_sides(cells[0], probes, sizes, modules, env, notes, check_timeout)
        else:
            explanation = explain_cells(cells[0], cells[1], sizes, modules, env, notes, check_timeout)
    except ExplainFailed as exc:
        print(f"FAILED {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = format_explanation(explanation, args.format, args.top)
    if output:
        from ..model.files import write_atomic

        write_atomic(output, text)
        common.say(f"wrote {output}")
    else:
        print(text, end="")
    if chart:
        from ..reports import write_explain_chart

        for path in write_explain_chart(explanation, chart):
            common.say(f"wrote {path}")
    return EXIT_OK


__all__ = ["add_parser", "cmd_explain"]
