"""Running one process per cell outside pyperf's rounds (``count``, ``memory``): output checks and a pool.

Neither instruction counts nor traced bytes mind a neighbour on the other
core, so cells run two at a time.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
from typing import Callable, Sequence

_children: set = set()
_lock = threading.Lock()
_stop = threading.Event()


def run_child(cmd: Sequence[str], timeout: float, env) -> subprocess.CompletedProcess:
    """``subprocess.run`` for a cell's process, killed at once if ``each_cell`` is interrupted."""
    if _stop.is_set():
        raise RuntimeError("interrupted")
    with subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as proc:
        with _lock:
            _children.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        finally:
            with _lock:
                _children.discard(proc)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def failure_reason(proc: subprocess.CompletedProcess, check_timeout: float | None, verb: str,
                   ignore=lambda line: False) -> str:
    """One line saying why a cell's process failed: hung in its check, refused as not equivalent, or its last words."""
    from ._timing import CHECK_HUNG_MARK, EXIT_NOT_EQUIVALENT

    stderr = proc.stderr or ""
    if check_timeout is not None and CHECK_HUNG_MARK in stderr:
        return f"hung in its equivalence check: no answer within {check_timeout:g} s"
    lines = [ln.strip() for ln in (stderr or proc.stdout or "").splitlines() if ln.strip() and not ignore(ln)]
    reason = lines[-1] if lines else f"exited with code {proc.returncode}"
    if proc.returncode == EXIT_NOT_EQUIVALENT:
        reason = f"refused before {verb}: {reason}"
    return reason


def run_for_json(cmd: Sequence[str], out: str, timeout: float, env, check_timeout: float | None, verb: str) -> dict:
    """Run a cell's process that writes its figures as JSON to ``out``; RuntimeError with a one-line reason."""
    import json

    try:
        proc = run_child(cmd, timeout, env)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"hung: nothing within {timeout:g} s") from None
    if proc.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(failure_reason(proc, check_timeout, verb))
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def prepare_output(output: str, default_output: bool, force: bool, what: str) -> None:
    """Fail before measuring (ValueError, one line) unless ``output`` can take the file."""
    from ._results import ResultError, check_writable

    if default_output:
        try:
            os.makedirs(os.path.dirname(output), exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create {os.path.dirname(output)}/ ({exc.strerror}); pass -o") from None
    if os.path.isdir(output):
        raise ValueError(f"{output}: is a directory, expected a {what} file path")
    if os.path.exists(output) and not force:
        raise ValueError(f"{output} exists: pass --force to replace it")
    try:
        check_writable(output)
    except ResultError as exc:
        raise ValueError(str(exc)) from None


def each_cell(cells: Sequence, measure: Callable, step: str, notes: Sequence[str]) -> tuple[list, list]:
    """``measure(cell)`` for every cell, two at a time, with a progress bar.

    Returns (results, failures); a cell whose ``measure`` raises RuntimeError
    is a failure ``(cell, reason)``, printed as ``FAILED cell: reason``.
    """
    from ._progress import progress

    bar = progress(len(cells))
    for note in notes:
        bar.note(note)
    results, failures = [], []
    _stop.clear()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)))
    try:
        futures = {pool.submit(measure, cell): cell for cell in cells}
        for future in concurrent.futures.as_completed(futures):
            cell = futures[future]
            bar.step(step, cell)
            try:
                results.append(future.result())
            except RuntimeError as exc:
                failures.append((cell, str(exc)))
    except KeyboardInterrupt:  # no cell waits for the ones queued or running: stop them all
        _stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        with _lock:
            for proc in _children:
                proc.kill()
        raise
    finally:
        pool.shutdown(wait=True)
        bar.close()
    for cell, reason in sorted(failures, key=lambda f: f[0]):
        print(f"FAILED {cell.name}: {reason}", file=sys.stderr)
    return results, failures
