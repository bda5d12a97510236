"""A library's own iterator, used as it comes: the floor for a workload whose items arrive over the network.

``aiohttp_lines`` is ``async for line in response.content``: aiohttp's
``StreamReader`` iterates its lines with a small class iterator of its own
(``AsyncStreamIterator`` over ``readline``). The ``asyncgen`` and
``class_anext`` impls of ``http`` wrap the same body, so the difference is
what the wrapper's form costs per line.
"""


def response_lines(content):
    """Workload ``http``: the body's ``StreamReader`` itself (it is async iterable by line)."""
    return content


IMPLS = {
    "aiohttp_lines": {"family": "native", "workloads": {"http": response_lines}},
}
