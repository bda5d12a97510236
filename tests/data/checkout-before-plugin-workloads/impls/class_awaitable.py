"""``class_awaitable``: a plain ``def __anext__`` that returns a small awaitable.

The form hand-tuned libraries use: when the value is ready, no coroutine is
created per item, only a tiny object whose ``__await__`` finishes at once.
Each factory takes the workload's source (see ``impls._sources``).
"""


class _Ready:
    """Awaiting it returns ``value`` without suspending.

    ``__await__`` is a plain generator that returns at once: in pure Python
    that is cheaper than an iterator whose ``__next__`` raises
    ``StopIteration(value)``, or than a finished ``Future`` (measured on
    CPython 3.10 to 3.13); C extensions do better still.
    """

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def __await__(self):
        return self._value
        yield  # makes this a generator  # pragma: no cover


class _Yield0:
    """Awaiting it gives the loop one turn (a bare ``yield``, as ``asyncio.sleep(0)`` does), then returns ``value``."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def __await__(self):
        yield
        return self._value


class _End:
    """Awaiting it raises ``StopAsyncIteration``."""

    __slots__ = ()

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        raise StopAsyncIteration


_END = _End()


class CountUp:
    """Workload ``none``."""

    __slots__ = ("_i", "_n")

    def __init__(self, n):
        self._i = 0
        self._n = n

    def __aiter__(self):
        return self

    def __anext__(self):
        i = self._i
        if i >= self._n:
            return _END
        self._i = i + 1
        return _Ready(i)


class CountUpSleep0:
    """Workload ``sleep0``."""

    __slots__ = ("_i", "_n")

    def __init__(self, n):
        self._i = 0
        self._n = n

    def __aiter__(self):
        return self

    def __anext__(self):
        i = self._i
        if i >= self._n:
            return _END
        self._i = i + 1
        return _Yield0(i)


class FromQueue:
    """Workload ``queue``: ready items come from ``get_nowait``; only an empty queue awaits."""

    __slots__ = ("_queue", "_done")

    def __init__(self, queue):
        self._queue = queue
        self._done = False

    def __aiter__(self):
        return self

    def __anext__(self):
        if self._done:
            return _END
        queue = self._queue
        if queue.empty():
            return self._wait()
        return self._unpack(queue.get_nowait())

    async def _wait(self):
        return await self._unpack(await self._queue.get())

    def _unpack(self, item):
        if type(item) is int:
            return _Ready(item)
        self._done = True
        if item is None:
            return _END
        raise item


class FromStream:
    """Workload ``stream``: ``StreamReader`` has no synchronous read, so each line awaits a coroutine."""

    __slots__ = ("_reader", "_done")

    def __init__(self, reader):
        self._reader = reader
        self._done = False

    def __aiter__(self):
        return self

    def __anext__(self):
        if self._done:
            return _END
        return self._next()

    async def _next(self):
        line = await self._reader.readline()
        if not line:
            self._done = True
            raise StopAsyncIteration
        return int(line)


IMPLS = {
    "class_awaitable": {
        "family": "class_awaitable",
        "workloads": {"none": CountUp, "sleep0": CountUpSleep0, "queue": FromQueue, "stream": FromStream},
    },
}
