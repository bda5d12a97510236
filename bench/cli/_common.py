"""What several commands share: the registry and selection, budgets, the workers' environment, output paths."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from ._exit import UsageError


def registry(modules: Sequence[str]):
    """The built-in impls and workloads with the plug-in modules'."""
    from .. import impls

    try:
        return impls.registry().extended(modules)
    except impls.RegistryError as exc:
        raise UsageError(str(exc)) from None


def select(args):
    """The cells the filters pick (and notes on loops skipped); UsageError when they pick none."""
    from ..model.cells import SelectionError, select as pick

    try:
        return pick(registry(args.impl_module), args.impl, args.workload, args.loop)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None


def modules(args) -> list:
    """Plug-in modules as workers get them: ``.py`` paths made absolute (workers start elsewhere)."""
    return [os.path.abspath(m) if m.endswith(".py") else m for m in args.impl_module]


def budget(args, quick=None):
    import dataclasses

    from ..orchestrate.rounds import FULL, QUICK

    chosen = (quick or QUICK) if args.quick else FULL
    changes = {}
    if args.sizes:
        try:
            changes["sizes"] = tuple(int(s) for s in args.sizes.split(","))
            changes["workload_sizes"] = ()  # the sizes asked for, for every workload
        except ValueError:
            raise UsageError(f"--sizes {args.sizes!r}: expected comma-separated integers") from None
    check_timeout(args)  # its own message, as count's
    for name in ("rounds", "min_time", "cell_timeout", "check_timeout", "values", "seconds", "max_seconds"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name, None)
    if getattr(args, "latency", False):
        changes["latency"] = True
    if getattr(args, "precision", None) is not None:
        from ..stats.precision import parse_precision

        try:
            changes["precision"] = parse_precision(args.precision)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    try:
        return dataclasses.replace(chosen, **changes)
    except ValueError as exc:
        raise UsageError(f"budget: {exc}") from None


def add_check_timeout(p) -> None:
    """``--check-timeout``, one option for every command that checks its cells before measuring or counting."""
    p.add_argument("--check-timeout", type=float, metavar="SECONDS",
                   help="time limit on a cell's equivalence check, which takes milliseconds, before the cell counts "
                        "as hung (default 10, and never past --cell-timeout; a slow source's set-up may need more)")


def check_timeout(args) -> float:
    """``--check-timeout``, checked, or the default limit when not given (the commands without a timing budget
    take it as it is; ``budget`` puts it in run's and ab's, where --cell-timeout caps it)."""
    from ..orchestrate.children import CHECK_TIMEOUT

    value = getattr(args, "check_timeout", None)
    if value is not None and not 0 < value <= 3600:
        raise UsageError(f"--check-timeout {value:g}: expected seconds in (0, 3600]")
    return CHECK_TIMEOUT if value is None else value


def worker_env(args):
    """The workers' environment and a note on what it leaves out (None when nothing influential was dropped)."""
    from ..model.environ import check_names, worker_environ

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


def output(args, kind: str, what: str, *, append: bool = False, can_append: bool = False, suffix: str = ".json") -> str:
    """The output path (``-o``, or ``results/<kind>-<time>``), checked before anything is measured."""
    from ..model.files import OutputError, default_output, prepare_output

    path = args.output or default_output(kind, suffix)
    try:
        prepare_output(path, default=args.output is None, force=getattr(args, "force", False), append=append,
                       what=what, can_append=can_append)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
    return path


def table_width(args) -> int | None:
    """The terminal's width a text table is fitted to: None (every column) with --wide, or when stdout is not a
    terminal (a pipe, a file, CI), which always get everything."""
    import shutil

    if getattr(args, "wide", False) or not sys.stdout.isatty():
        return None
    return max(shutil.get_terminal_size().columns, 40)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def say(text: str) -> None:
    print(text, file=sys.stderr)
