"""The producing side of each workload, set up and torn down outside the timed region.

A source is what an implementation's factory receives:

========  ==============================================================
workload  source
========  ==============================================================
none      ``n`` (int): the values 0..n-1 are ready, nothing suspends
sleep0    ``n`` (int): the iterator awaits ``asyncio.sleep(0)`` per item
queue     an ``asyncio.Queue(maxsize=64)`` fed by a producer task with
          0..n-1, then ``None``; an exception instance is re-raised
stream    an ``asyncio.StreamReader`` over a real socket pair carrying
          the lines ``b"0\\n"`` .. ``b"n-1\\n"``, then EOF
========  ==============================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import AsyncIterator, Iterable

QUEUE_MAXSIZE = 64
#: Lines are written in batches this size, then the writer drains: the socket
#: carries many lines per read, as a real line protocol does.
STREAM_BATCH = 64


@contextlib.asynccontextmanager
async def _counted(n: int) -> AsyncIterator[int]:
    yield n


async def _produce_queue(queue: asyncio.Queue, items: Iterable) -> None:
    try:
        for item in items:
            await queue.put(item)
    except Exception as exc:  # handed to the consumer, never lost
        await queue.put(exc)
        return
    await queue.put(None)


@contextlib.asynccontextmanager
async def queue_source(n: int, items: Iterable | None = None) -> AsyncIterator[asyncio.Queue]:
    """A queue fed by a producer task; ``items`` replaces ``range(n)`` (tests)."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_MAXSIZE)
    producer = asyncio.ensure_future(_produce_queue(queue, range(n) if items is None else items))
    try:
        yield queue
    finally:
        await _stop(producer)


async def _write_lines(writer: asyncio.StreamWriter, lines: Iterable[bytes]) -> None:
    batch = []
    try:
        for line in lines:
            batch.append(line)
            if len(batch) == STREAM_BATCH:
                writer.write(b"".join(batch))
                batch.clear()
                await writer.drain()
        if batch:
            writer.write(b"".join(batch))
            await writer.drain()
        writer.write_eof()
    except (ConnectionError, BrokenPipeError):
        pass  # the reader went away early: nothing more to say


@contextlib.asynccontextmanager
async def stream_source(n: int, lines: Iterable[bytes] | None = None) -> AsyncIterator[asyncio.StreamReader]:
    """A reader over a socket pair, fed by a writer task; ``lines`` replaces the default."""
    if lines is None:
        lines = (b"%d\n" % i for i in range(n))
    rsock, wsock = socket.socketpair()
    owned = [(s.fileno(), _identity(s.fileno())) for s in (rsock, wsock)]
    reader_writer = writer = task = None
    try:
        reader, reader_writer = await asyncio.open_connection(sock=rsock)
        _, writer = await asyncio.open_connection(sock=wsock)
        task = asyncio.ensure_future(_write_lines(writer, lines))
        yield reader
    finally:
        try:
            if task is not None:
                await _stop(task)
        finally:
            for w in (writer, reader_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(ConnectionError):
                        await w.wait_closed()
            rsock.close()
            wsock.close()
            _close_left_open(owned)


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _close_left_open(owned) -> None:
    """Close our socket descriptors if the loop's transports left them open.

    rloop 0.5 takes the descriptor over and does not close it when its
    transport closes. A descriptor still open on the same device and inode
    is ours; a reused number points elsewhere and is left alone.
    """
    for fd, identity in owned:
        try:
            if _identity(fd) == identity:
                os.close(fd)
        except OSError:
            pass  # already closed, as it should be


async def _stop(task: asyncio.Future) -> None:
    """Cancel a helper task and wait for it, so that no task is left pending."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


SOURCES = {
    "none": _counted,
    "sleep0": _counted,
    "queue": queue_source,
    "stream": stream_source,
}
WORKLOADS = tuple(SOURCES)
#: Workloads whose source is only ``n``: nothing to set up per iteration.
STATELESS = frozenset({"none", "sleep0"})
#: The smallest n at which a workload is in its steady regime. Below one batch (QUEUE_MAXSIZE,
#: STREAM_BATCH) a queue never fills and a stream arrives in one read: no back-pressure, another
#: cost per item, which a fit over sizes would mix with the steady one.
STEADY_FROM = {"queue": QUEUE_MAXSIZE, "stream": STREAM_BATCH}
