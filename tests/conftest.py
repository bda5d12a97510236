"""Shared fixtures: every behaviour test runs on every available event loop."""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

from aiterbench import impls
from aiterbench.model.loops import LOOPS, mend_rloop

AVAILABLE_LOOPS = [name for name, spec in LOOPS.items() if spec.available]
PAIRS = list(impls.registry().pairs())
ASYNC_PAIRS = [(i, w) for i, w in PAIRS if impls.registry().get(i).family != "sync"]


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


class LoopRunner:
    """Runs coroutines on one loop and checks that nothing is left behind.

    On close: no pending task, no exception reported to the loop (such as
    "Task was destroyed but it is pending"), and no file descriptor still open.
    Unawaited coroutines and ResourceWarnings fail the test through pytest's
    warnings-as-errors setting.
    """

    def __init__(self, loop_name: str):
        # Collect what came since the last scenario (another test's leak still warns, as before), then freeze what
        # is alive: the full collection in close() scans only what this scenario made, and each collect here
        # only what came since the last freeze. A worker that ran the report tests first no longer spends ~80 ms
        # a scenario scanning matplotlib's heap.
        gc.collect()
        gc.freeze()
        self.loop = LOOPS[loop_name].new_loop()
        if loop_name == "rloop":
            mend_rloop(self.loop)
        self.errors: list[dict] = []
        self.loop.set_exception_handler(lambda loop, context: self.errors.append(context))
        asyncio.set_event_loop(self.loop)
        # The loop's own descriptors are not the code under test's: uvloop opens
        # a reserve /dev/null on first socket use and rloop 0.5 keeps two per
        # closed loop. Warm the loop up with one socket round trip, count from here.
        self.run(_warm_up())
        self.fds = open_fds()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        try:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            assert not pending, f"tasks left pending: {pending}"
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            leaked = open_fds() - self.fds
        finally:
            asyncio.set_event_loop(None)
            self.loop.close()
        gc.collect()
        assert not self.errors, f"the loop reported: {[c.get('message') for c in self.errors]}"
        assert not leaked, f"file descriptors left open: {sorted(leaked)}"


async def _warm_up() -> None:
    async with impls.open("class_anext", 1, "stream") as it:
        async for _ in it:
            pass


def on_loop(loop_name: str, coro_fn, *args):
    """Run ``coro_fn(*args)`` on a fresh loop of ``loop_name`` and check the loop is left clean."""
    runner = LoopRunner(loop_name)
    try:
        return runner.run(coro_fn(*args))
    finally:
        runner.close()


def on_plain_loop(loop_name: str, coro_fn):
    """Run ``coro_fn()`` on a fresh loop of ``loop_name`` that is not made current (as a test's own loop is not
    the fixture's), without LoopRunner's checks."""
    event_loop = LOOPS[loop_name].new_loop()
    if loop_name == "rloop":
        mend_rloop(event_loop)  # rloop's own unclosed self-pipe sockets, not the code's under test
    try:
        return event_loop.run_until_complete(coro_fn())
    finally:
        event_loop.close()


def pytest_configure(config) -> None:
    """Take Ctrl-C again when the session was started with SIGINT ignored.

    A background job of a non-interactive shell (``.ci/run &`` in a script, ``nohup``) starts with SIGINT
    ignored, and every process it starts inherits that: the commands the Ctrl-C tests interrupt would go on
    measuring to the end of their budget, and a test that sends itself SIGINT would see nothing. Python's own
    handler, as in any session started from a terminal; it is reset to the default in each child at exec.
    """
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not hasattr(config, "workerinput"):
        _compile_the_suite()


def _compile_the_suite() -> None:
    """Write aiterbench's own bytecode once, before the workers start, where Python would write it.

    With PYTHONDONTWRITEBYTECODE in the caller's environment (CI images set it) nothing writes the .pyc of the
    modules measuring workers do not import (cli, analysis, orchestrate, stats, reports), and each of the
    session's few hundred command processes compiled them again: ~45 ms of CPU each (``aiterbench show`` 0.15
    -> 0.11 s). Measuring workers start without the variable (``worker_environ``) and were never affected.
    A tree that cannot be written is left as it is.
    """
    import compileall
    import importlib.util
    import sys

    if not sys.dont_write_bytecode:
        return
    for name in ("aiterbench", "aiterbench.impls", "aiterbench.reports"):  # three source folders (pyproject.toml)
        for folder in importlib.util.find_spec(name).submodule_search_locations or ():
            compileall.compile_dir(folder, quiet=2, workers=1)


@pytest.fixture(params=AVAILABLE_LOOPS)
def loop_name(request) -> str:
    return request.param


def pytest_collection_finish(session) -> None:
    """Move everything alive after collection (modules, collected tests) out of the collector's sight.

    ``LoopRunner.close`` runs a full collection after every scenario so that a
    leaked coroutine or socket warns inside its own test; scanning the whole
    interpreter each time cost ~25 ms a scenario, most of the suite's time.
    Objects made by the tests are still collected as usual.
    """
    gc.collect()
    gc.freeze()


#: Modules whose tests or fixtures take longest (venvs, valgrind, report builds), run first: with
#: ``--dist loadfile`` a module runs whole on one worker, and a long one taken last ran alone at the end while the
#: other worker sat idle. Listed longest first; the rest keep their order.
LONGEST_FIRST = ("test_workflow", "test_install", "test_reports", "test_cli", "test_workloads", "test_count",
                 "test_explain", "test_ab", "test_sequential", "test_readme", "test_count_regions")


def pytest_collection_modifyitems(session, config, items) -> None:
    def rank(item) -> int:
        name = item.module.__name__.rpartition(".")[2] if getattr(item, "module", None) else ""
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: within a module, and among the others, the collected order


@pytest.fixture(scope="session", autouse=True)
def _charts_drawn_once_per_dataset():
    """A report's charts depend on its dataset alone (tests/test_reports.py shows a chart drawn twice gives the
    same bytes): in this test process each dataset's charts are drawn once, and every later report of the same
    data, built to test what report does with files, folders and errors, reuses them. They are drawn here, in
    this process, one after the other (no worker pool to start for each report; a warning matplotlib gives
    while drawing fails the test); report's pool is exercised by the tests that run report as a command
    (test_install and test_workflow to the end, test_reports' Ctrl-C while it starts and draws)."""
    import hashlib
    import pickle

    from aiterbench.reports import _charts

    drawn: dict = {}
    real = _charts.render_all

    def render_all(dataset, jobs=None):
        key = hashlib.sha256(pickle.dumps(dataset)).hexdigest()
        if key not in drawn:
            drawn[key] = real(dataset, 1)
        return list(drawn[key])

    _charts.render_all = render_all
    try:
        yield real
    finally:
        _charts.render_all = real


def communicate_or_kill(proc, timeout: float):
    """``proc.communicate(timeout=...)``, killing the process if it times out: a command that missed its Ctrl-C
    must not go on measuring (200 rounds) beside the rest of the suite."""
    import subprocess

    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the command kills its children's groups (SIGKILL would leave them running)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
