"""The commands that read what was measured: show, report, history."""

from __future__ import annotations

import importlib.util
import os

from . import _common as common
from ._exit import EXIT_OK, UsageError


def cmd_show(args) -> int:
    from ..analysis.show import format_file
    from ..model.results import ResultError

    if os.path.isdir(args.file):
        raise UsageError(f"{args.file}: is a directory, expected a result file")
    try:
        text = format_file(args.file, args.format, args.baseline, common.table_width(args))
    except ResultError as exc:
        raise UsageError(str(exc)) from None
    print(text, end="")
    return EXIT_OK


def cmd_report(args) -> int:
    try:
        import jinja2  # noqa: F401  (checked here so that the message names the extra)
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"reports need {exc.name}: pip install 'aiterbench[report]'") from None
    from .. import reports
    from ..reports import check_folder

    try:
        if not args.results and not args.history:
            raise UsageError("report needs RESULTS, --history DB, or both")
        if args.history and importlib.util.find_spec("ruptures") is None:
            raise UsageError("report --history needs ruptures for its change points: pip install 'aiterbench[history]'")
        check_folder(args.output, args.force)  # before reading anything: a folder of someone else's is never written
        written = reports.build(args.results, args.output, args.history, getattr(args, "readme", None))
    except reports.ReportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write the report ({exc.strerror or exc})") from None
    if getattr(args, "readme", None) in written:
        written.remove(args.readme)
        print(f"rewrote the generated blocks of {args.readme}")
    print(f"wrote {len(written)} files to {args.output}: open {os.path.join(args.output, 'index.html')}")
    return EXIT_OK


def cmd_history(args) -> int:
    from ..analysis.history import format_history, prepare
    from ..model.files import OutputError, prepare_output
    from ..model.history import DEFAULT_DB, HISTORY_EXTRA, HistoryError, add, git_revision, read

    db = args.db or DEFAULT_DB
    try:
        if args.action == "add":
            runs = prepare(args.results)  # every file read and checked before the database is touched
            if args.db is None:
                try:
                    prepare_output(db, default=True, append=True, what="history", option="--db")
                except OutputError as exc:
                    raise UsageError(str(exc)) from None
            revision = args.revision if args.revision is not None else git_revision()
            add(db, runs, revision)  # nothing is said of the runs until they are in
            if args.revision is None and revision:
                common.say(f"note: no --revision: stamped the current checkout's {revision} (git HEAD) on every "
                           "run added; pass --revision for results measured at another revision")
            for run in runs:
                print(f"added {os.path.basename(run.source)}: {run.environment.short}, {len(run.estimates)} cells")
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
