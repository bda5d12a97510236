"""A cell's source as a measuring process uses it: opened per drain, or once per process when it is shared.

Imported by worker processes: keep it free of anything but the standard library.

A workload's ``source(n)`` is set up and torn down outside the timed region.
How often that happens depends on what the source can do:

* a *shared* source serves many drains: each factory call starts a fresh
  iteration over all n items (``none``, ``sleep0``), or each drain has a set-up
  of its own over it (``each``: ``http`` sends a request over a session to a
  server, both made once). It is opened once per process and size, on first
  use, and closed when the process ends (``Held``): a set-up of 30 ms is paid a
  few times per process, not once per drain;
* any other source gets a set-up per drain. When a drain's set-up (the
  source's, or ``each``'s part) is slow (``SLOW_SETUP`` or more), calibrating
  the loop count to pyperf's minimum time would pay it thousands of times per
  value, so such a cell is measured one drain per value instead
  (``slow_setup``; the worker calibrates it to one loop).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

#: A per-drain source whose set-up takes at least this long is measured one drain per value.
SLOW_SETUP = 1e-3


def workload_of(impls, registry, name: str):
    """The workload record of ``name``: the registry's, or, for a checkout older than plug-in workloads
    (``ab --base-path``), one made from its built-in sources, which are the only ones it has."""
    get = getattr(registry, "workload", None)
    if get is not None:
        return get(name)
    return _OlderWorkload(name, impls.SOURCES[name], shared=name in impls.STATELESS)


def workloads_of(impls, registry) -> tuple:
    """Every workload record the registry knows, an older checkout's built-in ones included (``workload_of``)."""
    records = getattr(registry, "workloads", None)
    if records is not None:
        return tuple(records)
    return tuple(workload_of(impls, registry, name) for name in impls.workloads())


@dataclasses.dataclass(frozen=True)
class _OlderWorkload:
    """What the measuring code uses of a ``Workload``, for an older checkout's built-in source: ``range(n)``
    items, no ``each``, shared when the source is only ``n``."""

    name: str
    source: Any
    shared: bool
    module: str = "aiterbench.impls"
    each: None = None
    expected: None = None
    available: bool = True
    requires: None = None
    install: str = ""

    @property
    def batched(self) -> bool:
        return self.shared

    def open_source(self, n: int, **options: Any):
        return self.source(n, **options)

    open = open_source

    def items(self, n: int) -> list:
        return list(range(n))


class Held:
    """Shared sources kept open for the life of a measuring process, one per (workload, n).

    ``opener(workload)`` is what the time functions call as ``open_source(n)``:
    for a shared workload it hands out the held value (opening it the first
    time; with ``each``, one drain's set-up over it per call); for any other it
    is the workload's own ``open``, a set-up per drain. ``close()`` (in the
    process's loop) tears every held source down.
    """

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._values: dict = {}

    def opener(self, workload):
        if not workload.shared:
            return workload.open

        async def value(n: int):
            key = (workload.name, n)
            if key not in self._values:
                self._values[key] = await self._stack.enter_async_context(workload.open_source(n))
            return self._values[key]

        @contextlib.asynccontextmanager
        async def held(n: int):
            if workload.each is None:
                yield await value(n)
            else:
                async with workload.open_each(await value(n)) as fed:
                    yield fed

        return held

    async def close(self) -> None:
        self._values.clear()
        await self._stack.aclose()


def setup_seconds(loop, open_drain, n: int) -> float:
    """One drain's set-up and tear-down at ``n`` through ``open_drain`` (``workload.open``, or a ``Held`` opener),
    timed (nothing else is)."""

    async def once() -> float:
        t0 = time.perf_counter()
        async with open_drain(n):
            pass
        return time.perf_counter() - t0

    return loop.run_until_complete(once())


def slow_setup(loop, workload, n: int, opener=None) -> bool:
    """Whether every drain of this workload pays a set-up of ``SLOW_SETUP`` or more.

    A drain's set-up is the source's own, or with ``each`` (given the process's
    ``Held`` opener) its part over the held source, which is opened first,
    untimed. Never for a source that feeds every drain with nothing between
    them, or a built-in one (queue and stream take tens of microseconds, an
    http request a few hundred). The fastest of three set-ups decides, so that
    one slow moment of the machine does not change how a cell is measured.
    """
    if workload.module == "aiterbench.impls" or (workload.shared and (workload.each is None or opener is None)):
        return False
    open_drain = opener if workload.each is not None else workload.open
    if workload.each is not None:
        setup_seconds(loop, open_drain, n)  # opens the held source: once per process and size, not a drain's part
    return min(setup_seconds(loop, open_drain, n) for _ in range(3)) >= SLOW_SETUP
