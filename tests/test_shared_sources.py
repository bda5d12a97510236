"""A shared source is checked as it is measured (drains through one opened value), and asked no more set-ups
than measuring needs."""

from __future__ import annotations

from collections import Counter

import pytest

from aiterbench import impls
from aiterbench.measure.check import NotEquivalent, check_equivalence, is_async_cell
from aiterbench.measure.sources import Held

from .conftest import LoopRunner, on_loop
from .test_cli import TINY, cli
from .test_workloads import setups

ONE_PASS = '''
import contextlib


class Cursor:
    """A one-pass result set: iterating it twice yields nothing the second time."""

    def __init__(self, n):
        self._it = iter(range(n))

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration from None


@contextlib.asynccontextmanager
async def cursor(n):
    yield Cursor(n)


def through(cursor):
    return cursor


WORKLOADS = {"onepass": {"source": cursor, "shared": True}, "fresh": cursor}
IMPLS = {"through": {"family": "class_anext", "workloads": {"onepass": through, "fresh": through}}}
'''


@pytest.fixture
def one_pass(tmp_path):
    path = tmp_path / "one_pass.py"
    path.write_text(ONE_PASS)
    return path


def test_a_one_pass_source_declared_shared_is_refused_naming_its_module_and_workload(one_pass):
    reg = impls.registry().extended([str(one_pass)])
    on_loop("asyncio", check_equivalence, reg, "through", "fresh", [16])  # a source per drain: fine
    with pytest.raises(NotEquivalent, match=r"workload 'onepass' of aiterbench_plugin_one_pass is declared shared, "
                                            r"but drain 2 through one opened source at n=1: stopped after 0 items"):
        on_loop("asyncio", check_equivalence, reg, "through", "onepass", [16])


def test_run_fails_the_cell_of_a_one_pass_shared_source_instead_of_timing_nothing(one_pass, tmp_path):
    """It used to exit 0 with -0.03 ns per item: every drain after the first was empty."""
    out = tmp_path / "r.json"
    proc = cli("run", "--impl-module", str(one_pass), "-i", "through", "-w", "onepass,fresh", "-l", "asyncio",
               "-o", str(out), *TINY, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "through/onepass/asyncio" in failed[0] and "declared shared" in failed[0]
    assert "Traceback" not in proc.stderr
    assert "through/fresh/asyncio" in proc.stdout and "through/onepass/asyncio" not in proc.stdout


def test_the_async_question_is_asked_through_the_process_s_own_opener(tmp_path):
    """A measuring process asks whether a cell is asynchronous; an http cell used to start a server, a session
    and a request just for that, in every process of every round."""
    from .test_workloads import PLUGIN

    plugin = tmp_path / "my_source.py"
    plugin.write_text(PLUGIN)
    reg = impls.registry().extended([str(plugin)])
    from aiterbench.model.cells import Cell

    runner, held = LoopRunner("asyncio"), Held()
    try:
        opener = held.opener(reg.workload("rows"))
        assert is_async_cell(runner.loop, reg, Cell("rows_gen", "rows", "asyncio"), opener, 8)

        async def drain():
            async with opener(8) as rows:
                return [r async for r in reg.factory("rows_gen", "rows")(rows)]

        assert len(runner.run(drain())) == 8
        runner.run(held.close())
    finally:
        runner.close()
    assert setups(plugin) == Counter({"pool": 1, "pool-closed": 1, "cursor": 2})


def test_only_sockets_on_the_source_s_own_address_and_port_count_as_its_own():
    """The http source closes what rloop leaves open on its port; a socket with the same port number on another
    address is someone else's in the user's process and must not be closed under its owner."""
    import socket
    import sys

    from aiterbench.impls._sources import _tcp_left_open

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/net/tcp")
    ours = socket.socket()
    stranger = socket.socket()
    try:
        ours.bind(("127.0.0.1", 0))
        ours.listen()
        port = ours.getsockname()[1]
        try:
            stranger.bind(("127.0.0.2", port))  # the same port number, another address
        except OSError:
            pytest.skip("127.0.0.2 cannot be bound here")
        stranger.listen()
        found = {fd for _, fd, _ in _tcp_left_open(port)}
        assert ours.fileno() in found and stranger.fileno() not in found
    finally:
        ours.close()
        stranger.close()


def test_release_closes_what_is_still_ours_and_never_a_reused_number(tmp_path):
    """One way back for every socket handed to a loop (stream and http sources, rloop's self-pipe): a
    descriptor the loop left open is closed; one it closed is forgotten, even when its number was reused."""
    import os
    import socket

    from aiterbench.impls import owned, release

    left_open, closed_by_loop = socket.socketpair()
    handed = owned(left_open, closed_by_loop)
    fd_left, fd_closed = left_open.fileno(), closed_by_loop.fileno()
    os.close(fd_closed)  # as rloop closes its self-pipe on the Rust side
    with open(tmp_path / "reuser", "w") as reuser:  # takes the freed number
        assert reuser.fileno() == fd_closed
        release(handed)
        os.fstat(reuser.fileno())  # still open: not closed under its new owner
    assert left_open.fileno() == closed_by_loop.fileno() == -1  # let go: the collector closes nothing later
    with pytest.raises(OSError):
        os.fstat(fd_left)  # the one still ours was closed
