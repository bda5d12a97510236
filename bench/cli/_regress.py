"""The regression commands: compare, ab, calibrate."""

from __future__ import annotations

import os
import sys

from . import _common as common
from ._exit import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError


def _threshold(args, kind: str) -> float:
    from ..stats.verdict import DEFAULT_COUNT_THRESHOLD, DEFAULT_THRESHOLD, parse_threshold

    if args.threshold is None:
        return DEFAULT_COUNT_THRESHOLD if kind == "count" else DEFAULT_THRESHOLD
    try:
        return parse_threshold(args.threshold)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _load(paths):
    from ..model.results import ResultError, load_results

    try:
        return load_results(paths)
    except ResultError as exc:
        raise UsageError(str(exc)) from None


def _compare(base_paths, new_paths, args, failed=()):
    from ..analysis.compare import compare_sets, one_environment

    if args.threshold is not None:
        _threshold(args, "time")  # a bad threshold is bad input before any file is read
    try:
        base = one_environment(_load(base_paths), " ".join(base_paths))
        new = one_environment(_load(new_paths), " ".join(new_paths))
        return compare_sets(base, new, _threshold(args, base.kind), failed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _verdict_exit(comparison, args=None) -> int:
    strict = getattr(args, "fail_on", "regression") == "inconclusive" and comparison.count("inconclusive")
    return EXIT_FAILED if comparison.regressed or comparison.failed or strict else EXIT_OK


def cmd_compare(args) -> int:
    from ..analysis.compare import render, summary
    from ..model.files import OutputError, make_folder, write_atomic

    if args.output and os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: is a directory")
    comparison = _compare([args.base], [args.new], args)
    text = render(comparison, args.format)
    if not args.output:
        print(text, end="")
        return _verdict_exit(comparison, args)
    try:
        make_folder(args.output)
        write_atomic(args.output, text)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write ({exc.strerror or exc})") from None
    print(f"{summary(comparison)}; wrote {args.output}")
    return _verdict_exit(comparison, args)


def _probe_sides(args, names=("base", "new")):
    from ..orchestrate.children import CHILDREN
    from ..orchestrate.sides import SideError, make_side, probe

    env, env_note = common.worker_env(args)
    try:
        sides = [make_side(n, getattr(args, f"{n}_python"), getattr(args, f"{n}_path")) for n in names]
        with CHILDREN.watching():  # Ctrl-C stops a probe at once, and no probe outlives the command
            probes = [probe(side, common.modules(args), env) for side in sides]
    except SideError as exc:
        raise UsageError(str(exc)) from None
    return probes, env, env_note


def _select(probes, args):
    from ..model.cells import SelectionError
    from ..orchestrate.sides import select_cells

    try:
        return select_cells(probes, args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None


def cmd_ab(args) -> int:
    from ..model.files import OutputError, default_output, prepare_output
    from ..orchestrate.ab import run_ab, run_ab_count
    from ..orchestrate.rounds import AB_QUICK

    threshold = _threshold(args, "count" if args.count else "time")  # bad input before anything runs
    check_timeout = common.check_timeout(args)
    if getattr(args, "explain", False) and not args.count:
        raise UsageError("--explain needs --count: the functions behind a difference are counted by callgrind")
    if args.output and os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: is a directory, expected a file prefix")
    sizes = _count_sizes(args) if args.count else None
    budget = None if args.count else common.budget(args, AB_QUICK)
    probes, env, env_note = _probe_sides(args)
    cells, notes = _select(probes, args)
    prefix = args.output or default_output("ab", suffix="")
    paths = [f"{prefix}-{p.side.name}.json" for p in probes]
    try:
        for path in paths:
            prepare_output(path, default=args.output is None, force=args.force)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    notes = notes + ([env_note] if env_note else [])
    if args.count:
        ignored = [f"--{n.replace('_', '-')}" for n in ("quick", "rounds", "values", "min_time", "seconds", "latency",
                                                        "cell_timeout")
                   if getattr(args, n, None) not in (None, False)]
        if ignored:
            notes.append(f"note: {', '.join(ignored)} set the timing budget; counts have none, so "
                         f"{'it is' if len(ignored) == 1 else 'they are'} not used")
        outcome = run_ab_count(probes, cells, sizes, common.modules(args), env, paths, notes,
                               explain=getattr(args, "explain", False), check_timeout=check_timeout)
    else:
        outcome = run_ab(probes, cells, budget, common.modules(args), env, paths, threshold, notes)
    return _ab_result(outcome, args)


def _ab_result(outcome, args) -> int:
    """Print what an ``ab`` job did: its FAILED cells, the verdicts ``compare`` gives its files, and the exit code."""
    from ..analysis.compare import render

    if outcome.error:
        common.say(f"aiterbench: error: {outcome.error}")
        return EXIT_FAILED
    counted = "counted" if args.count else "measured"
    for cell, side, reason in outcome.failed:
        print(f"FAILED {cell} ({side} side): {reason}", file=sys.stderr)
    if not outcome.written:
        if outcome.interrupted:
            common.say(f"aiterbench: interrupted before any cell was {counted} on both sides: nothing written")
            return EXIT_INTERRUPTED
        common.say(f"no cell was {counted} on both sides; nothing written")
        return EXIT_FAILED
    base, new = outcome.paths
    comparison = _compare([base], [new], args, outcome.failed)
    explained = _explanations(outcome, comparison, args)
    print(_with_explanations(render(comparison, args.format), explained, args.format), end="")
    common.say(f"wrote {base} and {new} (re-judge with: aiterbench compare {base} {new})")
    if outcome.interrupted:
        done = f"after {common.plural(outcome.rounds_done, 'full round')}" if not args.count else "before the end"
        common.say(f"aiterbench: interrupted {done}; verdicts on what was {counted} on both sides")
        return EXIT_INTERRUPTED
    return _verdict_exit(comparison, args)


#: Functions an explanation shows in text and md after ``ab``'s verdicts.
EXPLAIN_TOP = 10


def _explanations(outcome, comparison, args) -> list:
    """``ab --count --explain``: (cell name, Explanation, its file) for every cell that is not unchanged, each
    written beside the result files (all rows)."""
    if not getattr(args, "explain", False):
        return []
    import json

    from ..analysis.explain import to_document
    from ..model.files import write_atomic
    from ..orchestrate.explain import explain_path

    names = [v.cell.name for v in comparison.cells if v.verdict is None or v.verdict.kind != "unchanged"]
    prefix = outcome.paths[0][: -len("-base.json")]
    out = []
    for name, explanation in outcome.explain(names):
        path = explain_path(prefix, name)
        write_atomic(path, json.dumps(to_document(explanation), indent=2) + "\n")
        out.append((name, explanation, path))
    if out:
        common.say(f"wrote {len(out)} explanation{'s' if len(out) > 1 else ''}: {', '.join(p for _, _, p in out)}")
    return out


def _with_explanations(text: str, explained, fmt: str) -> str:
    """The verdicts, then each explanation: its largest rows in text and md; every row in json."""
    if not explained:
        return text
    from ..analysis.explain import format_explanation, to_document

    if fmt == "json":
        import json

        data = json.loads(text)
        data["explanations"] = [{"cell": name, "file": path, **to_document(e)} for name, e, path in explained]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parts = [text]
    for name, e, _ in explained:
        body = format_explanation(e, fmt, EXPLAIN_TOP)
        parts.append(f"\n{body}" if fmt == "md" else f"\nWhy: {body}")
    return "".join(parts)


def _count_sizes(args) -> tuple[int, int]:
    from ..orchestrate.count import CountError, check_counting

    try:
        return check_counting(tuple(int(s) for s in (args.sizes or "1000,3000").split(",")))
    except CountError as exc:
        raise UsageError(str(exc)) from None
    except ValueError:
        raise UsageError(f"--sizes {args.sizes!r}: expected two comma-separated integers with --count") from None


def cmd_calibrate(args) -> int:
    from ..analysis.calibration import format_calibration
    from ..orchestrate.calibrate import calibrate

    if not (args.budget > 0 and args.budget < 86400):
        raise UsageError(f"--budget {args.budget:g}: expected seconds between 0 and 86400")
    check_timeout = common.check_timeout(args)
    args.base_python = args.new_python = None
    args.base_path = args.new_path = None
    probes, env, env_note = _probe_sides(args)
    cells, notes = _select(probes, args)
    result = calibrate(cells, [p.side for p in probes], common.modules(args), env, args.budget,
                       notes + ([env_note] if env_note else []), check_timeout)
    print(format_calibration(result), end="")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if result.failures else EXIT_OK
