"""Result files: pyperf JSON whose benchmarks carry aiterbench metadata.

``python -m pyperf stats FILE`` and ``compare_to`` work on them as on any
pyperf file. The format version sits in every benchmark's metadata
(``aiterbench_format``); a file from a newer version is refused, not guessed at.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from typing import Mapping, Sequence

from .._version import FORMAT_VERSION, READS_FORMATS
from .cells import Cell, SelectionError
from .files import write_atomic
from .identity import Environment, group, run_environments

#: ``aiterbench_kind`` of a file of instruction counts (``count``); timing files have none.
KIND_COUNT = "count"
#: ``aiterbench_kind`` of a file of memory figures (``memory``, read by ``aiterbench.model.memory``).
KIND_MEMORY = "memory"


class ResultError(ValueError):
    """A result file cannot be used; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class CellData:
    """Everything measured for one cell: per process (round), the median seconds per item at each size."""

    cell: Cell
    per_round: Mapping[object, Mapping[int, float]]
    metadata: Mapping[str, object]
    #: Other figures of the cell (``run --latency``: "first_item", "close"): per process, seconds.
    extra: Mapping[str, Mapping[object, float]] = dataclasses.field(default_factory=dict)
    #: When each round's process finished (POSIX seconds, from pyperf's ``date``), where the runs say.
    dates: Mapping[object, float] = dataclasses.field(default_factory=dict)
    #: When the first process of the file (calibration included) finished: the start of a time to verdict.
    started: float | None = None


@dataclasses.dataclass(frozen=True)
class ResultSet:
    """The cells measured in one environment, pooled from every file (and run) of that environment."""

    environment: Environment
    sources: tuple[str, ...]
    cells: Mapping[Cell, CellData]
    kind: str = "time"  # or KIND_COUNT: instructions, not seconds

    def __post_init__(self) -> None:
        if self.kind not in ("time", KIND_COUNT):
            raise ValueError(f"unknown result kind {self.kind!r}")


def _pyperf():
    import pyperf

    return pyperf


def load_suite(path: str):
    """The pyperf suite in ``path``, or ResultError with a one-line reason."""
    pyperf = _pyperf()
    try:
        suite = pyperf.BenchmarkSuite.load(path)
    except FileNotFoundError:
        raise ResultError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultError(f"{path}: is a directory, expected a result file") from None
    except PermissionError:
        raise ResultError(f"{path}: permission denied") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError, EOFError) as exc:
        # Whatever JSON (or gzip) another tool wrote: pyperf trips over it in many ways.
        raise ResultError(f"{path}: not a pyperf result file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:  # a damaged .json.gz, an unreadable file
        raise ResultError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        version = md.get("aiterbench_format")
        if version is None:
            raise ResultError(f"{path}: benchmark {bench.get_name()!r} is not an aiterbench result (no aiterbench_format)")
        if not isinstance(version, int) or version not in READS_FORMATS:
            raise ResultError(
                f"{path}: result format {version!r} is newer than this aiterbench reads ({FORMAT_VERSION}); upgrade aiterbench"
            )
    return suite


def kind_of(suite, path: str = "result") -> str:
    """What a file measured: "time", KIND_COUNT or KIND_MEMORY (ResultError if mixed or unknown)."""
    kinds = {b.get_metadata().get("aiterbench_kind", "time") for b in suite.get_benchmarks()}
    if len(kinds) > 1:
        raise ResultError(f"{path}: mixes kinds of results ({', '.join(sorted(map(str, kinds)))})")
    kind = kinds.pop() if kinds else "time"
    if kind not in ("time", KIND_COUNT, KIND_MEMORY):
        raise ResultError(f"{path}: unknown kind of results {kind!r}; upgrade aiterbench")
    return kind


def cells(suite, path: str = "result") -> dict[Cell, CellData]:
    """Group a suite's benchmarks by cell, in sorted order, whatever environment measured them.

    For a file known to come from one run; ``split`` keeps environments apart.
    """
    out: dict[Cell, CellData] = {}
    for _, data in split(suite, path):
        for cell, cd in data.items():
            out[cell] = _pool(out.get(cell), cd)
    return dict(sorted(out.items()))


def split(suite, path: str = "result") -> list[tuple[Environment, dict[Cell, CellData]]]:
    """The suite's runs grouped by the environment that measured each, then by cell (sorted)."""
    try:
        return _split(suite, path)
    except (KeyError, ValueError, TypeError) as exc:
        raise ResultError(f"{path}: malformed aiterbench result ({type(exc).__name__}: {exc})") from None


def _date(metadata) -> float | None:
    """pyperf's ``date`` of a run (local time, ISO) as POSIX seconds; None without one."""
    import datetime

    try:
        return datetime.datetime.fromisoformat(str(metadata["date"])).timestamp()
    except (KeyError, ValueError, OverflowError):
        return None


def _split(suite, source: str) -> list[tuple[Environment, dict[Cell, CellData]]]:
    environment = run_environments(suite)
    per_run = []  # (environment, (cell, round key, n, value, metadata, date))
    dates = [d for bench in suite.get_benchmarks() for run in bench.get_runs()
             if (d := _date(run.get_metadata())) is not None]
    started = min(dates, default=None)
    for bench in suite.get_benchmarks():
        try:
            cell, n, metric = Cell.parse_any(bench.get_name())
        except SelectionError as exc:
            raise ResultError(str(exc)) from None
        md = bench.get_metadata()
        if metric is None:
            n = n if n is not None else int(md["n"])
        common = {k: md[k] for k in md if k not in ("n", "name")}
        index = 0
        for run in bench.get_runs():
            values = run.values
            if not values:
                continue  # calibration run
            rmd = run.get_metadata()
            # Runs of different cells pair up when one 'bench run' measured them in the same round. A run
            # without a round (count files, plain pyperf files) is keyed by its file too: two such files of
            # one environment pool their runs instead of overwriting each other's.
            rnd = (f"{rmd.get('aiterbench_run', '')}:{rmd['aiterbench_round']}" if "aiterbench_round" in rmd
                   else f"{source}#run{index}")
            index += 1
            # The median of a process's values: a burst of interference in one value does not move it.
            per_run.append((environment(rmd), (cell, rnd, n, metric, statistics.median(values), common,
                                                _date(rmd))))
    out = []
    for env, items in group(per_run):
        grouped: dict[Cell, CellData] = {}
        for cell, rnd, n, metric, value, common, date in items:
            old = grouped.get(cell) or CellData(cell, {}, {}, started=started)
            if date is not None and date > old.dates.get(rnd, -1.0):
                old = dataclasses.replace(old, dates={**old.dates, rnd: date})
            if metric is not None:
                extra = {m: dict(v) for m, v in old.extra.items()}
                extra.setdefault(metric, {})[rnd] = value
                grouped[cell] = dataclasses.replace(old, extra=extra)
                continue
            rounds = {r: dict(v) for r, v in old.per_round.items()}
            rounds.setdefault(rnd, {})[n] = value
            grouped[cell] = dataclasses.replace(old, per_round=rounds, metadata={**old.metadata, **common})
        out.append((env, dict(sorted(grouped.items()))))
    return out


def _pool(old: CellData | None, new: CellData) -> CellData:
    """Two measurements of one cell in one environment: their rounds together (keys carry the run id)."""
    if old is None:
        return new
    rounds = {r: dict(v) for r, v in old.per_round.items()}
    for r, v in new.per_round.items():
        rounds.setdefault(r, {}).update(v)
    extra = {m: dict(v) for m, v in old.extra.items()}
    for m, v in new.extra.items():
        extra.setdefault(m, {}).update(v)
    starts = [t for t in (old.started, new.started) if t is not None]
    return CellData(new.cell, rounds, {**old.metadata, **new.metadata}, extra, {**old.dates, **new.dates},
                    min(starts, default=None))


def expand(paths: Sequence[str]) -> list[str]:
    """Files as given; a folder stands for the ``*.json`` and ``*.json.gz`` files in it (ResultError if it has none)."""
    import glob

    out = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "*.json")) + glob.glob(os.path.join(path, "*.json.gz")))
            if not found:
                raise ResultError(f"{path}: folder holds no .json or .json.gz result files")
            out += found
        else:
            out.append(path)
    if not out:
        raise ResultError("no result files given")
    return out


def load_results(paths: Sequence[str]) -> tuple[ResultSet, ...]:
    """Read result files (or folders of them) into one ResultSet per environment.

    Runs of one environment pool, across files too; runs of different
    environments never do. Sorted by Python version, then machine.
    """
    found, memory = [], []
    for path in expand(paths):
        suite = load_suite(path)
        kind = kind_of(suite, path)
        if kind == KIND_MEMORY:  # figures of another shape: aiterbench.model.memory reads them
            memory.append(path)
            continue
        parts = split(suite, path)
        if not parts:
            raise ResultError(f"{path}: holds no measured benchmarks")
        found += [((env, kind), (path, data)) for env, data in parts]
    if not found and memory:
        raise ResultError(f"{memory[0]}: holds memory figures ('aiterbench memory'), not timings or instruction counts")
    sets = []
    for kind in ("time", KIND_COUNT):
        items = [(env, item) for (env, k), item in found if k == kind]
        for env, members in group(items):
            data: dict[Cell, CellData] = {}
            sources: list[str] = []
            for path, part in members:
                if path not in sources:
                    sources.append(path)
                for cell, cd in part.items():
                    data[cell] = _pool(data.get(cell), cd)
            sets.append(ResultSet(env, tuple(sources), dict(sorted(data.items())), kind))
    sets.sort(key=lambda s: (s.kind != "time", _version_key(s.environment.python_version), s.environment.key))
    return tuple(sets)


def _version_key(version: str) -> tuple:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (999, version)


#: Metadata pyperf requires to be equal for runs to join a benchmark (see pyperf's Benchmark.add_run).
_SAME_MACHINE = ("aslr", "cpu_count", "cpu_model_name", "hostname", "platform", "python_executable",
                 "python_implementation", "python_unicode", "python_version", "aiterbench_environ")


def check_appendable(suite, path: str, environ: str) -> None:
    """Refuse, before measuring, to append runs from this interpreter, host and worker environment to ``suite``.

    ``environ`` is what the new workers will record as ``aiterbench_environ``.
    """
    import pyperf

    here = pyperf.Run([1.0], metadata={"name": "probe", "unit": "second"}, collect_metadata=True).get_metadata()
    here["aiterbench_environ"] = environ
    for bench in suite.get_benchmarks()[:1]:
        there = bench.get_metadata()
        if there.get("aiterbench_format") != FORMAT_VERSION:
            raise ResultError(f"{path}: written in result format {there.get('aiterbench_format')}, this aiterbench writes "
                              f"{FORMAT_VERSION}: write a new file and compare them with 'report'")
        for key in _SAME_MACHINE:
            if key in there and there.get(key) != here.get(key):
                raise ResultError(
                    f"{path}: measured with another {key} ({there.get(key)!r}; here {here.get(key)!r}): "
                    "write a new file and compare them with 'report'"
                )


__all__ = ["KIND_COUNT", "KIND_MEMORY", "CellData", "ResultError", "ResultSet", "cells", "check_appendable",
           "expand", "kind_of", "load_results", "load_suite", "paired_keys", "split", "write_atomic"]


def paired_keys(slopes: Mapping, side: str) -> dict:
    """A cell's per-round figures keyed for pairing across two files: round keys that carry a run id
    (``RUN:ROUND``, as ``ab`` writes them on both sides) pair; a plain pyperf file's ``runN`` cannot, so it is
    made the ``side``'s own."""
    return {(k if ":" in str(k) and not str(k).startswith(":") else (side, k)): v for k, v in slopes.items()}
