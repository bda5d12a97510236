"""``asyncgen``: an ``async def`` with ``yield``.

Each factory takes the workload's source (see ``impls._sources``) and returns
an async generator of 0..n-1.
"""

import asyncio


async def count_up(n):
    """Workload ``none``: the values are ready, nothing suspends."""
    for i in range(n):
        yield i


async def count_up_sleep0(n):
    """Workload ``sleep0``: one trip through the event loop per item."""
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def from_queue(queue):
    """Workload ``queue``: take items until the ``None`` that ends the stream."""
    while True:
        item = await queue.get()
        if type(item) is int:
            yield item
        elif item is None:
            return
        else:
            raise item


async def from_stream(reader):
    """Workload ``stream``: one integer per line until EOF."""
    while True:
        line = await reader.readline()
        if not line:
            return
        yield int(line)


IMPLS = {
    "asyncgen": {
        "family": "asyncgen",
        "workloads": {"none": count_up, "sleep0": count_up_sleep0, "queue": from_queue, "stream": from_stream},
    },
}
