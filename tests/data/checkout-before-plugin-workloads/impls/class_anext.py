"""``class_anext``: a class whose ``__aiter__`` returns self and whose
``async def __anext__`` raises ``StopAsyncIteration`` at the end.

The classic tutorial form. Each factory takes the workload's source (see
``impls._sources``) and returns an async iterator of 0..n-1.
"""

import asyncio


class CountUp:
    """Workload ``none``: the values are ready, nothing suspends."""

    __slots__ = ("_i", "_n")

    def __init__(self, n):
        self._i = 0
        self._n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        i = self._i
        if i >= self._n:
            raise StopAsyncIteration
        self._i = i + 1
        return i


class CountUpSleep0:
    """Workload ``sleep0``: one trip through the event loop per item."""

    __slots__ = ("_i", "_n")

    def __init__(self, n):
        self._i = 0
        self._n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        i = self._i
        if i >= self._n:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        self._i = i + 1
        return i


class FromQueue:
    """Workload ``queue``: take items until the ``None`` that ends the stream."""

    __slots__ = ("_queue", "_done")

    def __init__(self, queue):
        self._queue = queue
        self._done = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if type(item) is int:
            return item
        self._done = True
        if item is None:
            raise StopAsyncIteration
        raise item


class FromStream:
    """Workload ``stream``: one integer per line until EOF."""

    __slots__ = ("_reader", "_done")

    def __init__(self, reader):
        self._reader = reader
        self._done = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._done:
            raise StopAsyncIteration
        line = await self._reader.readline()
        if not line:
            self._done = True
            raise StopAsyncIteration
        return int(line)


IMPLS = {
    "class_anext": {
        "family": "class_anext",
        "workloads": {"none": CountUp, "sleep0": CountUpSleep0, "queue": FromQueue, "stream": FromStream},
    },
}
