"""Equivalent implementations of an async iterator over 0..n-1, one per family and workload.

>>> import asyncio
>>> from aiterbench import impls
>>> async def collect():
...     return [x async for x in impls.make("asyncgen", 3)]
>>> asyncio.run(collect())
[0, 1, 2]

A plug-in module defines ``IMPLS`` in the same shape as the built-in modules
(see ``impls/asyncgen.py``); ``Registry.builtin().extended([module])`` adds it.
"""

from __future__ import annotations

import functools
from typing import Any, AsyncIterator

from ._registry import Impl, Registry, RegistryError, load_module
from ._sources import SOURCES, STATELESS, STEADY_FROM, WORKLOADS, owned, release

__all__ = ["Impl", "Registry", "RegistryError", "SOURCES", "STATELESS", "STEADY_FROM", "WORKLOADS", "load_module", "names", "workloads",
           "make", "open", "owned", "registry", "release"]


@functools.lru_cache(maxsize=None)
def registry() -> Registry:
    """The built-in implementations."""
    return Registry.builtin()


def names() -> tuple[str, ...]:
    """Names of the built-in implementations."""
    return registry().names()


def workloads() -> tuple[str, ...]:
    """Names of the workloads, cheapest first."""
    return WORKLOADS


def open(name: str, n: int, workload: str = "none"):  # noqa: A001 - mirrors the builtin's role
    """``async with impls.open(name, n, workload) as it``: the iterator with its source set up and torn down."""
    return registry().open(name, n, workload)


def make(name: str, n: int, workload: str = "none") -> Any:
    """An iterable over 0..n-1 (async, except the ``sync_*`` baselines).

    For ``queue`` and ``stream`` the source lives as long as the iteration;
    use :func:`open` to control its lifetime when you break out early.
    """
    factory = registry().factory(name, workload)
    if workload in STATELESS:
        return factory(n)
    return _fed(name, n, workload)


async def _fed(name: str, n: int, workload: str) -> AsyncIterator[Any]:
    async with open(name, n, workload) as iterator:
        async for item in iterator:
            yield item
