"""Every child process the suite starts, and Ctrl-C while they run: one mechanism for both.

Workers, counted, traced and profiled processes and ``ab``'s probes all start
through ``run_child``, in a process group of their own (a new session), and are
registered the moment they exist. A terminal's Ctrl-C then reaches the parent
alone, and the parent decides, through one handler (``CHILDREN.watching()``):

* the first SIGINT is only noted; a pyperf worker (``gentle``) is passed a
  SIGINT so that it stops cleanly, any other child (valgrind, a probe) is
  killed with its whole group at once, since a half-counted cell is worth
  nothing;
* a second SIGINT, a SIGTERM or a SIGHUP (the terminal went away) kills every
  child's group;
* the parent raises KeyboardInterrupt itself at safe points (``check()``,
  and when a child it waited for returns), never inside a finalizer, so that
  it can keep what it finished and exit 130.

Every command that starts children does so inside ``watching()``. Whatever
ends a wait (a timeout, an exception, an interrupt), the child's group is
killed before ``run_child`` returns or raises. What no handler can see, a
SIGKILL of the parent or of its whole group, leaves the children to finish
on their own (they exit when their work is done); Ctrl-Z stops the parent only.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Callable, Sequence

#: The equivalence check runs n = 0, 1 and each size once: it takes milliseconds, so a cell whose
#: check has not finished after this long (or the per-cell limit, if lower) is hung, not slow.
CHECK_TIMEOUT = 10.0


class Children:
    """The live child processes of this command, and what Ctrl-C does to them (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict = {}  # Popen -> gentle
        self.requested = False
        self._depth = 0
        self._saved: dict = {}

    @contextlib.contextmanager
    def watching(self):
        """Take SIGINT, SIGTERM and SIGHUP at safe points while children run (re-entrant; main thread only)."""
        install = self._depth == 0 and threading.current_thread() is threading.main_thread()
        if self._depth == 0:
            self.requested = False
        self._depth += 1
        if install:
            for signum in _SIGNALS:
                old = signal.getsignal(signum)
                # A signal the caller ignores stays ignored; one whose handler is not Python's is left alone.
                if old is not signal.SIG_IGN and old is not None:
                    self._saved[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                for signum, old in self._saved.items():
                    signal.signal(signum, old)
                self._saved.clear()
                self.kill_all()
                self.requested = False  # the next command starts afresh

    def _handle(self, signum, frame) -> None:
        # No lock here: the handler runs between two bytecodes of the main thread, which may hold it.
        again, self.requested = self.requested, True
        for child, gentle in list(self._live.items()):
            if gentle and not again and signum == signal.SIGINT:
                _signal_group(child, signal.SIGINT)
            else:
                _kill(child)

    def check(self) -> None:
        """Raise KeyboardInterrupt, here, if Ctrl-C was pressed."""
        if self.requested:
            raise KeyboardInterrupt

    def kill_all(self) -> None:
        for child in list(self._live):
            _kill(child)

    def run(self, cmd: Sequence[str], timeout: float, env, gentle: bool = False,
            cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run ``cmd`` to its end in a process group of its own (in folder ``cwd``); its stdout and stderr as text.

        Raises subprocess.TimeoutExpired (the child killed) past ``timeout``, and
        KeyboardInterrupt when Ctrl-C came before it started or while a child
        that is not ``gentle`` ran.
        """
        self.check()
        child = None
        try:
            with self._lock:
                child = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                                         start_new_session=True)
                self._live[child] = gentle
            if self.requested:  # Ctrl-C came while it was being started: stop it now
                _kill(child)
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:  # killed; what it wrote says where it was
            _kill(child)
            out = err = None
            with contextlib.suppress(Exception):
                out, err = child.communicate(timeout=_REAP_SECONDS)
            raise subprocess.TimeoutExpired(exc.cmd, exc.timeout, output=out, stderr=err) from None
        except BaseException:  # Ctrl-C in a thread that waits, anything: the group goes first
            if child is not None:
                _kill(child)
                with contextlib.suppress(Exception):
                    child.communicate(timeout=_REAP_SECONDS)
            raise
        finally:
            with self._lock:
                self._live.pop(child, None)
        if self.requested and not gentle:
            raise KeyboardInterrupt  # killed for Ctrl-C: not the child's failure
        return subprocess.CompletedProcess(list(cmd), child.returncode, out, err)


#: What the handler takes while children run (SIGHUP: the terminal closed; POSIX only).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
#: How long a killed child's pipes may take to close.
_REAP_SECONDS = 10.0


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the child's whole group, even when the child itself has exited and a helper lives on."""
    if os.name != "posix":
        if child.poll() is None:
            with contextlib.suppress(OSError, ValueError):  # Windows takes SIGTERM, not SIGINT
                child.send_signal(signum)
        return
    try:
        os.killpg(child.pid, signum)  # the child leads its own group: its helpers go with it
    except ProcessLookupError:
        pass  # the group is gone
    except OSError:
        with contextlib.suppress(OSError, ValueError):
            child.send_signal(signum)


def _kill(child: subprocess.Popen) -> None:
    if os.name == "posix":
        _signal_group(child, signal.SIGKILL)
    elif child.poll() is None:
        with contextlib.suppress(OSError):
            child.kill()


#: This process's children: one registry for every command.
CHILDREN = Children()


def run_child(cmd: Sequence[str], timeout: float, env, gentle: bool = False,
              cwd: str | None = None) -> subprocess.CompletedProcess:
    """``CHILDREN.run``: every child process of the suite starts here."""
    return CHILDREN.run(cmd, timeout, env, gentle, cwd)


def last_step(stderr) -> str:
    """`` (last: setting up workload 'x' of M at n=N)`` from a hung process's stderr, or nothing."""
    from ..measure.check import CHECK_STEP_MARK

    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    steps = [ln for ln in (stderr or "").splitlines() if ln.startswith(CHECK_STEP_MARK)]
    return f" (last: {steps[-1][len(CHECK_STEP_MARK):]})" if steps else ""


def failure_reason(proc: subprocess.CompletedProcess, check_timeout: float | None, verb: str,
                   ignore=lambda line: False) -> str:
    """One line saying why a cell's process failed: hung in its check, refused as not equivalent, or its last words."""
    from ..measure.check import CHECK_HUNG_MARK, CHECK_STEP_MARK, EXIT_NOT_EQUIVALENT, EXIT_SETUP_FAILED

    stderr = proc.stderr or ""
    if check_timeout is not None and CHECK_HUNG_MARK in stderr:
        return (f"hung in its equivalence check: no answer within {check_timeout:g} s"
                f"{last_step(stderr[:stderr.index(CHECK_HUNG_MARK)])}")
    lines = [ln.strip() for ln in (stderr or proc.stdout or "").splitlines()
             if ln.strip() and not ignore(ln) and not ln.startswith(CHECK_STEP_MARK)]
    reason = lines[-1] if lines else f"exited with code {proc.returncode}"
    if proc.returncode in (EXIT_NOT_EQUIVALENT, EXIT_SETUP_FAILED):
        reason = f"refused before {verb}: {reason}"
    return reason


def run_for_json(cmd: Sequence[str], out: str, timeout: float, env, check_timeout: float | None, verb: str) -> dict:
    """Run a cell's process that writes its figures as JSON to ``out``; RuntimeError with a one-line reason."""
    import json

    try:
        proc = run_child(cmd, timeout, env)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"hung: nothing within {timeout:g} s{last_step(exc.stderr)}") from None
    if proc.returncode != 0 or not os.path.exists(out):
        raise RuntimeError(failure_reason(proc, check_timeout, verb))
    try:
        with open(out, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"unreadable figures from its process ({type(exc).__name__}: {exc})") from None


def each_cell(cells: Sequence, measure: Callable, step: str, notes: Sequence[str],
              many: bool = False) -> tuple[list, list, bool]:
    """``measure(cell)`` for every cell, two at a time, with a progress bar.

    Returns (results, failures, interrupted). A cell whose ``measure`` raises
    is a failure ``(cell, reason)``, printed as ``FAILED cell: reason``, and the
    others go on; after Ctrl-C the cells already finished are returned.
    ``many``: the items are groups and ``measure`` returns (results, failures)
    lists of its own, which are added to the others.
    """
    from .progress import progress

    bar = progress(len(cells))
    for note in notes:
        bar.note(note)
    results, failures, interrupted = [], [], False
    with CHILDREN.watching(), concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        try:
            futures = {pool.submit(measure, cell): cell for cell in cells}
            for future in concurrent.futures.as_completed(futures):
                if future.cancelled():
                    continue
                cell = futures[future]
                bar.step(step, cell)
                try:
                    if many:
                        done, failed = future.result()
                        results += done
                        failures += failed
                    else:
                        results.append(future.result())
                except KeyboardInterrupt:
                    interrupted = True
                except Exception as exc:  # the cell's fault (or its output's): the others go on
                    failures.append((cell, str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"))
                if CHILDREN.requested and not interrupted:
                    interrupted = True
                if interrupted:
                    for f in futures:
                        f.cancel()
                    CHILDREN.kill_all()
            interrupted = interrupted or CHILDREN.requested  # read before watching() ends and clears it
        finally:
            bar.close()
    for cell, reason in sorted(failures, key=lambda f: f[0].name):
        print(f"FAILED {cell.name}: {reason}", file=sys.stderr)
    return results, failures, interrupted
