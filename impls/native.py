"""A library's own iterator, used as it comes, and a generator around it: the floor for a workload whose
items arrive over the network, and what wrapping it costs.

``aiohttp_lines`` is ``async for line in response.content``: aiohttp's
``StreamReader`` iterates its lines with a small class iterator of its own
(``AsyncStreamIterator`` over ``readline``). The ``asyncgen`` and
``class_anext`` impls of ``http`` read the same body with ``readline()``
themselves, so that they differ only in their form.
``asyncgen_over_aiohttp_lines`` is the pattern many programs have, an async
generator that re-yields ``async for line in response.content``: one more
``__anext__`` per line on top of aiohttp's own iterator, which is what it
measures beside ``aiohttp_lines`` (not the form: that is ``asyncgen`` beside
``class_anext``).
"""


def response_lines(content):
    """Workload ``http``: the body's ``StreamReader`` itself (it is async iterable by line)."""
    return content


async def over_response_lines(content):
    """Workload ``http``: an async generator over aiohttp's own line iteration of the body."""
    async for line in content:
        yield line


IMPLS = {
    "aiohttp_lines": {"family": "native", "workloads": {"http": response_lines}},
    "asyncgen_over_aiohttp_lines": {"family": "asyncgen", "workloads": {"http": over_response_lines}},
}
