"""The equivalence check every measuring process runs before anything is timed: 0..n-1, or refused.

Imported by worker processes: keep it free of anything but the standard library.
"""

from __future__ import annotations

from typing import Any


#: Exit code of a worker that refused a cell for not yielding 0..n-1.
EXIT_NOT_EQUIVALENT = 3
#: First line faulthandler writes when the equivalence check's watchdog fires.
CHECK_HUNG_MARK = "Timeout ("


class NotEquivalent(AssertionError):
    """An implementation does not yield 0..n-1."""


def first_difference(expected: list, got: list) -> str | None:
    """A one-line description of where ``got`` departs from ``expected``, or None if equal."""
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g or type(e) is not type(g):
            return f"item {i} is {g!r}, expected {e!r}"
    if len(got) < len(expected):
        return f"stopped after {len(got)} items, expected {len(expected)}"
    if len(got) > len(expected):
        return f"yielded {len(got)} items, expected {len(expected)} (item {len(expected)} is {got[len(expected)]!r})"
    return None


async def collect(iterator: Any) -> list:
    if hasattr(iterator, "__aiter__"):
        return [x async for x in iterator]
    return list(iterator)


async def check_equivalence(registry, impl: str, workload: str, sizes) -> None:
    """Raise NotEquivalent unless ``impl`` yields 0..n-1 at 0, 1 and every size."""
    for n in sorted({0, 1, *sizes}):
        async with registry.open(impl, n, workload) as iterator:
            got = await collect(iterator)
        diff = first_difference(list(range(n)), got)
        if diff:
            raise NotEquivalent(f"{impl}/{workload} is not equivalent to range(n) at n={n}: {diff}")


def check_cell(loop, registry, cell, sizes, timeout: float | None) -> None:
    """The equivalence check every measuring process runs first; a watchdog ends the process if it hangs.

    Exits with EXIT_NOT_EQUIVALENT (and the difference on stderr) when the
    cell does not yield 0..n-1. The watchdog is a thread, so it fires even
    inside a loop's C code.
    """
    import faulthandler
    import sys

    if timeout:
        faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        loop.run_until_complete(check_equivalence(registry, cell.impl, cell.workload, sizes))
    except NotEquivalent as exc:
        print(f"{cell.name}: {exc}", file=sys.stderr)
        sys.exit(EXIT_NOT_EQUIVALENT)
    finally:
        if timeout:
            faulthandler.cancel_dump_traceback_later()


def is_async_cell(loop, registry, cell) -> bool:
    """Whether the cell's iterator is asynchronous (the sync baselines are not)."""
    async def probe() -> bool:
        async with registry.open(cell.impl, 0, cell.workload) as it:
            return hasattr(it, "__aiter__")

    return loop.run_until_complete(probe())
