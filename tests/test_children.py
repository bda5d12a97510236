"""Child processes: one registry, their whole group killed on a timeout, Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from aiterbench.orchestrate.children import CHILDREN, run_child

from .conftest import communicate_or_kill

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")


def _alive(marker: str) -> int:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return len(out.split())


def test_a_timeout_kills_the_helpers_a_child_left_behind():
    marker = f"sleep 3{os.getpid() % 10}7"
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_child(["sh", "-c", f"{marker} & exit 0"], 1.0, None)
    assert time.monotonic() - start < 10
    deadline = time.monotonic() + 10  # killed: gone within moments
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _alive(marker) == 0


def test_an_interrupt_is_forgotten_when_its_command_ends():
    with CHILDREN.watching():
        CHILDREN.requested = True
        with pytest.raises(KeyboardInterrupt):
            CHILDREN.check()
    CHILDREN.check()  # a later command in the same process starts afresh
    assert run_child([sys.executable, "-c", "print(1)"], 30, None).stdout == "1\n"


PARENT = """
    import sys
    from aiterbench.orchestrate.children import CHILDREN, run_child
    with CHILDREN.watching():
        print("started", flush=True)
        try:
            run_child(["sleep", "{seconds}"], 60, None)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"])
def test_a_signal_to_the_parent_kills_its_child_and_is_taken_at_a_safe_point(signum):
    seconds = f"4{os.getpid() % 10}{int(signum)}"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENT.format(seconds=seconds))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "started\n"
    deadline = time.monotonic() + 30  # the child is started, not yet necessarily running: wait for it
    while _alive(f"sleep {seconds}") != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _alive(f"sleep {seconds}") == 1
    proc.send_signal(signum)
    out, err = communicate_or_kill(proc, 30)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    assert _alive(f"sleep {seconds}") == 0
