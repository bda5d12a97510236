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
    from ..analysis.compare import render
    from ..model.files import OutputError, default_output, prepare_output
    from ..orchestrate.progress import progress
    from ..orchestrate.rounds import AB_QUICK, SaveError, below_steady, run_to_files, steps
    from ..orchestrate.sides import describe
    from ..stats.sequential import DESIGN, looks_until

    threshold = _threshold(args, "time")  # a bad threshold is bad input before anything runs
    if args.output and os.path.isdir(args.output):
        raise UsageError(f"-o {args.output}: is a directory, expected a file prefix")
    sizes = _count_sizes(args) if args.count else None
    probes, env, env_note = _probe_sides(args)
    cells, notes = _select(probes, args)
    budget = None if args.count else common.budget(args, AB_QUICK)
    prefix = args.output or default_output("ab", suffix="")
    paths = [f"{prefix}-{p.side.name}.json" for p in probes]
    try:
        for path in paths:
            prepare_output(path, default=args.output is None, force=args.force)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    if args.count:
        return _ab_count(args, probes, cells, sizes, env, notes + ([env_note] if env_note else []), paths)

    sides = [p.side for p in probes]
    bar = progress(steps(cells, budget, len(sides), sequential=True))
    low = below_steady(cells, budget)
    for note in notes + ([env_note] if env_note else []) + ([low] if low else []):
        bar.note(note)
    bar.note(f"ab: {describe(probes)}")
    bar.note(f"measuring {len(cells)} cells on both sides into {', '.join(paths)}, each until its verdict is decided "
             f"(looks at {', '.join(map(str, looks_until(24)))}, ... pairs) or the budget is spent: "
             f"{_budget_text(budget)}")
    try:
        outcome, written = run_to_files(cells, budget, common.modules(args), paths, bar, sides=sides, env=env,
                                        settle=_settle(threshold), worker_args=["--sequential", str(DESIGN)])
    except SaveError as exc:
        common.say(f"aiterbench: error: {exc}")
        return EXIT_FAILED
    failed = tuple((f.cell.name, f.side or "both", f.reason) for f in outcome.failures)
    for cell, side, reason in failed:
        print(f"FAILED {cell} ({side} side): {reason}", file=sys.stderr)
    if not written:
        if outcome.interrupted:
            common.say("aiterbench: interrupted before the first round was measured: nothing written")
            return EXIT_INTERRUPTED
        common.say("no cell was measured on both sides; nothing written")
        return EXIT_FAILED
    comparison = _compare([paths[0]], [paths[1]], args, failed)
    print(render(comparison, args.format), end="")
    common.say(f"wrote {paths[0]} and {paths[1]} (re-judge with: aiterbench compare {paths[0]} {paths[1]})")
    if outcome.interrupted:
        common.say(f"aiterbench: interrupted after {common.plural(outcome.rounds_done, 'full round')}; verdicts on "
                   "what was measured")
        return EXIT_INTERRUPTED
    return _verdict_exit(comparison, args)


def _budget_text(budget) -> str:
    rounds = -(-budget.rounds // 2) * 2
    return f"{rounds} rounds" + (f" and {budget.seconds:g} s of rounds" if budget.seconds else "")


def _settle(threshold: float):
    """ab's question after every second round: which cells are decided (``analysis.compare.settled``)."""

    def settle(benchmarks, live):
        import pyperf

        from ..analysis.compare import settled
        from ..model.results import ResultError, cells

        try:
            base, new = (cells(pyperf.BenchmarkSuite(list(b.values()))) if b else {} for b in benchmarks)
        except (ResultError, ValueError):
            return []  # nothing judged yet: measure on; the files are judged in full at the end
        return settled(base, new, threshold, live)

    return settle


def _count_sizes(args) -> tuple[int, int]:
    from ..orchestrate.count import CountError, check_counting

    try:
        return check_counting(tuple(int(s) for s in (args.sizes or "1000,3000").split(",")))
    except CountError as exc:
        raise UsageError(str(exc)) from None
    except ValueError:
        raise UsageError(f"--sizes {args.sizes!r}: expected two comma-separated integers with --count") from None


def _ab_count(args, probes, cells, sizes, env, notes, paths) -> int:
    """``ab --count``: both sides under callgrind, then compare's verdicts on instructions per item."""
    from ..analysis.compare import render
    from ..model.files import dump_suite
    from ..orchestrate.count import run_ab_counts
    from ..orchestrate.sides import describe

    ignored = [f"--{n.replace('_', '-')}" for n in ("quick", "rounds", "values", "min_time", "seconds", "latency")
               if getattr(args, n, None) not in (None, False)]
    notes = list(notes) + [f"ab: {describe(probes)}"]
    if ignored:
        notes.append(f"note: {', '.join(ignored)} set the timing budget; counts have none, so "
                     f"{'it is' if len(ignored) == 1 else 'they are'} not used")
    notes.append(f"counting {len(cells)} cells at n={sizes[0]},{sizes[1]} under callgrind on both sides into "
                 f"{', '.join(paths)}")
    families = {i.name: i.family for p in probes for i in p.impls}
    suites, failures, interrupted = run_ab_counts(cells, [p.side for p in probes], sizes, common.modules(args), env,
                                                  notes, families)
    failed = tuple((cell.name, side, reason) for cell, side, reason in failures)
    if not all(suites):
        if interrupted:
            common.say("aiterbench: interrupted before any cell was counted on both sides: nothing written")
            return EXIT_INTERRUPTED
        common.say("no cell was counted on both sides; nothing written")
        return EXIT_FAILED
    try:
        for suite, path in zip(suites, paths):
            dump_suite(suite, path)
    except OSError as exc:
        common.say(f"aiterbench: error: cannot write {exc.filename or paths[0]}: {exc.strerror or exc}")
        return EXIT_FAILED
    comparison = _compare([paths[0]], [paths[1]], args, failed)
    print(render(comparison, args.format), end="")
    common.say(f"wrote {paths[0]} and {paths[1]} (re-judge with: aiterbench compare {paths[0]} {paths[1]})")
    if interrupted:
        common.say("aiterbench: interrupted; verdicts on the cells counted on both sides")
        return EXIT_INTERRUPTED
    return _verdict_exit(comparison, args)


def cmd_calibrate(args) -> int:
    from ..analysis.calibration import format_calibration
    from ..orchestrate.calibrate import calibrate

    if not (args.budget > 0 and args.budget < 86400):
        raise UsageError(f"--budget {args.budget:g}: expected seconds between 0 and 86400")
    args.base_python = args.new_python = None
    args.base_path = args.new_path = None
    probes, env, env_note = _probe_sides(args)
    cells, notes = _select(probes, args)
    result = calibrate(cells, [p.side for p in probes], common.modules(args), env, args.budget,
                       notes + ([env_note] if env_note else []))
    print(format_calibration(result), end="")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if result.failures else EXIT_OK
