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
http      the body of a chunked HTTP response over loopback (aiohttp's
          ``StreamReader``, ``response.content``) carrying the same lines;
          impls yield the lines themselves (bytes). A server on 127.0.0.1
          and a client session are set up once per process and size, a
          request per drain, all outside the timed region
========  ==============================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from typing import Any, AsyncIterator, Iterable

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
    handed = owned(rsock, wsock)
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
            release(handed)


def _identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def owned(*socks: socket.socket | None) -> list:
    """What ``release`` needs of sockets handed to a loop: each with its descriptor and that descriptor's
    identity now, while it is surely ours."""
    return [(s, s.fileno(), _identity(s.fileno())) for s in socks if s is not None and s.fileno() != -1]


def release(sockets) -> None:
    """The one way descriptors handed to an event loop are given back, whatever the loop did with them.

    ``sockets``: ``owned(...)`` records, or ``(None, fd, identity)`` for a
    descriptor with no socket object. A descriptor still open with the same
    device and inode is ours and is closed (rloop 0.5 takes transports'
    descriptors over and leaves them open, listening, after they close); a
    number that is closed or now points elsewhere is not ours and is left
    alone. Either way the socket object lets go of its number (``detach``),
    so that the garbage collector never closes it a second time, under whoever
    reuses it (rloop 0.5 closes its self-pipe on the Rust side and leaves the
    Python objects to warn as unclosed).
    """
    for sock, fd, identity in sockets:
        try:
            ours = _identity(fd) == identity
        except OSError:
            ours = False  # already closed, as it should be
        if sock is not None and sock.fileno() == fd:
            sock.detach()
        if ours:
            with contextlib.suppress(OSError):
                os.close(fd)


async def _stop(task: asyncio.Future) -> None:
    """Cancel a helper task and wait for it, so that no task is left pending."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class HttpSource:
    """An ``http`` source's value: a client session and the URL of a local server that sends n lines."""

    def __init__(self, session, url: str) -> None:
        self.session, self.url = session, url


@contextlib.asynccontextmanager
async def http_source(n: int) -> AsyncIterator[HttpSource]:
    """An aiohttp server on 127.0.0.1 (a free port the system picks) and a client session, closed on exit.

    Every GET gets a chunked response of the lines ``b"0\\n"`` .. ``b"n-1\\n"``,
    written ``STREAM_BATCH`` lines per chunk. Nothing listens after the exit.
    """
    from aiohttp import ClientSession, TCPConnector, web

    body = [b"".join(b"%d\n" % i for i in range(k, min(k + STREAM_BATCH, n))) for k in range(0, n, STREAM_BATCH)]

    async def lines(request):
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in body:
            await response.write(chunk)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/lines", lines)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # Our own listening socket, so that we can close it: rloop 0.5 keeps a server's
    # descriptor open (and listening) after the server is closed. Port 0: never "in use".
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    port, handed = 0, []
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        handed = owned(listener)
        await web.SockSite(runner, listener).start()
        # limit=0: as many connections as drains held at once (memory, profile), none waiting for another.
        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            yield HttpSource(session, f"http://{LOOPBACK}:{port}/lines")
    finally:
        await runner.cleanup()
        if port:
            release(handed + _tcp_left_open(port))
        listener.close()  # never handed to the loop (set-up failed first); a no-op once released


#: The address the http source binds, and how /proc/net/tcp writes it (a 32-bit word in the host's byte order).
LOOPBACK = "127.0.0.1"


def _proc_address(host: str, port: int) -> str:
    return "%08X:%04X" % (int.from_bytes(socket.inet_aton(host), sys.byteorder), port)


def _tcp_left_open(port: int, host: str = LOOPBACK) -> list:
    """This process's descriptors of TCP sockets with ``host:port`` at either end (Linux; elsewhere none).

    rloop 0.5 leaves the sockets it accepted and connected open after their
    transports close. The address and port are ours alone (we bound them), so
    a socket with them at one end is ours; one with the same port number on
    another address is someone else's and is left alone.
    """
    try:
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return []
    ours = _proc_address(host, port)
    # Inode 0: a connection no descriptor holds any more (TIME_WAIT, its closed ends).
    inodes = {int(row[9]) for row in rows if len(row) > 9 and ours in (row[1], row[2])} - {0}
    if not inodes:
        return []  # nothing of ours left: no descriptor to look at (a long-lived process may hold hundreds)
    found = []
    for name in fds:
        with contextlib.suppress(OSError, ValueError):
            identity = _identity(int(name))
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:") and identity[1] in inodes:
                found.append((None, int(name), identity))
    return found


@contextlib.asynccontextmanager
async def http_response(source: HttpSource) -> AsyncIterator[Any]:
    """One drain of an ``http`` source: a GET whose headers have arrived; yields the body's ``StreamReader``."""
    async with source.session.get(source.url) as response:
        response.raise_for_status()
        yield response.content


def http_lines(n: int) -> list[bytes]:
    """What an ``http`` impl yields: the body's lines, newline included."""
    return [b"%d\n" % i for i in range(n)]


SOURCES = {
    "none": _counted,
    "sleep0": _counted,
    "queue": queue_source,
    "stream": stream_source,
    "http": http_source,
}
#: Workloads whose source is opened once per process and size and serves every drain through its own
#: set-up (``Workload.each``).
EACH = {"http": http_response}
#: Workloads whose impls yield something other than 0..n-1.
EXPECTED = {"http": http_lines}
#: Workloads that need a package: (module, how to install it).
REQUIRES = {"http": ("aiohttp", "pip install 'aiterbench[http]'")}
WORKLOADS = tuple(SOURCES)
#: Workloads whose source is only ``n``: nothing to set up per iteration.
STATELESS = frozenset({"none", "sleep0"})
#: Workloads whose source serves many drains (every factory call a fresh iteration, or ``EACH``).
SHARED = STATELESS | frozenset(EACH)
#: The smallest n at which a workload is in its steady regime. Below one batch (QUEUE_MAXSIZE,
#: STREAM_BATCH) a queue never fills and a stream arrives in one read: no back-pressure, another
#: cost per item, which a fit over sizes would mix with the steady one.
STEADY_FROM = {"queue": QUEUE_MAXSIZE, "stream": STREAM_BATCH, "http": STREAM_BATCH}
