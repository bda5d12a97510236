"""Result files: pyperf JSON whose benchmarks carry aiterbench metadata.

``python -m pyperf stats FILE`` and ``compare_to`` work on them as on any
pyperf file. The format version sits in every benchmark's metadata
(``aiterbench_format``); a file from a newer version is refused, not guessed at.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import statistics
import tempfile
from typing import Mapping

from ._matrix import Cell, SelectionError
from ._version import FORMAT_VERSION


class ResultError(ValueError):
    """A result file cannot be used; the message names the file and the reason."""


@dataclasses.dataclass(frozen=True)
class CellData:
    """Everything measured for one cell: per process (round), the median seconds per item at each size."""

    cell: Cell
    per_round: Mapping[object, Mapping[int, float]]
    metadata: Mapping[str, object]


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
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultError(f"{path}: not a pyperf result file ({type(exc).__name__}: {exc})") from None
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        version = md.get("aiterbench_format")
        if version is None:
            raise ResultError(f"{path}: benchmark {bench.get_name()!r} is not an aiterbench result (no aiterbench_format)")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ResultError(
                f"{path}: result format {version!r} is newer than this aiterbench reads ({FORMAT_VERSION}); upgrade aiterbench"
            )
    return suite


def cells(suite, path: str = "result") -> dict[Cell, CellData]:
    """Group a suite's benchmarks by cell, in sorted order."""
    try:
        return _cells(suite)
    except (KeyError, ValueError, TypeError) as exc:
        raise ResultError(f"{path}: malformed aiterbench result ({type(exc).__name__}: {exc})") from None


def _cells(suite) -> dict[Cell, CellData]:
    grouped: dict[Cell, dict] = {}
    for bench in suite.get_benchmarks():
        try:
            cell, n = Cell.parse(bench.get_name())
        except SelectionError as exc:
            raise ResultError(str(exc)) from None
        md = bench.get_metadata()
        n = n if n is not None else int(md["n"])
        entry = grouped.setdefault(cell, {"per_round": {}, "metadata": {}})
        entry["metadata"].update({k: md[k] for k in md if k not in ("n", "name")})
        index = 0
        for run in bench.get_runs():
            values = run.values
            if not values:
                continue  # calibration run
            rmd = run.get_metadata()
            # Runs of different cells pair up when one 'bench run' measured them in the same round.
            rnd = f"{rmd.get('aiterbench_run', '')}:{rmd['aiterbench_round']}" if "aiterbench_round" in rmd else f"run{index}"
            index += 1
            # The median of a process's values: a burst of interference in one value does not move it.
            entry["per_round"].setdefault(rnd, {})[n] = statistics.median(values)
    return {
        c: CellData(c, grouped[c]["per_round"], grouped[c]["metadata"]) for c in sorted(grouped)
    }


#: Metadata pyperf requires to be equal for runs to join a benchmark (see pyperf's Benchmark.add_run).
_SAME_MACHINE = ("aslr", "cpu_count", "cpu_model_name", "hostname", "platform", "python_executable",
                 "python_implementation", "python_unicode", "python_version")


def check_appendable(suite, path: str) -> None:
    """Refuse, before measuring, to append runs from this interpreter and host to ``suite``."""
    import pyperf

    here = pyperf.Run([1.0], metadata={"name": "probe", "unit": "second"}, collect_metadata=True).get_metadata()
    for bench in suite.get_benchmarks()[:1]:
        there = bench.get_metadata()
        for key in _SAME_MACHINE:
            if key in there and there.get(key) != here.get(key):
                raise ResultError(
                    f"{path}: measured with another {key} ({there.get(key)!r}; here {here.get(key)!r}): "
                    "write a new file and compare them with 'report'"
                )


def write_atomic(path: str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".aiterbench-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not results
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def dump_suite(suite, path: str) -> None:
    """Atomically write a pyperf suite as JSON."""
    import io

    buf = io.StringIO()
    suite.dump(buf, compact=True)
    write_atomic(path, buf.getvalue())


def check_writable(path: str) -> None:
    """Fail now, before any measuring, if ``path``'s folder cannot take a file."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise ResultError(f"{path}: is a directory")
    if not os.path.isdir(folder):
        raise ResultError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".aiterbench-probe-", dir=folder)
    except OSError as exc:
        raise ResultError(f"{path}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)
