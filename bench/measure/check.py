"""The equivalence check every measuring process runs before anything is timed: 0..n-1, or refused.

Imported by worker processes: keep it free of anything but the standard library.
"""

from __future__ import annotations

from typing import Any


#: Exit code of a worker that refused a cell for not yielding 0..n-1.
EXIT_NOT_EQUIVALENT = 3
#: Exit code of a worker whose workload's source could not be set up or torn down.
EXIT_SETUP_FAILED = 4
#: First line faulthandler writes when the equivalence check's watchdog fires.
CHECK_HUNG_MARK = "Timeout ("
#: Start of the line the check writes to stderr before each source it sets up: after a hang, the last
#: one says where the check was (``aiterbench.orchestrate.children.failure_reason``).
CHECK_STEP_MARK = "aiterbench check: "


class SetupFailed(RuntimeError):
    """A workload's source raised in its set-up or tear-down; the message names its module and workload."""


class Refused(RuntimeError):
    """``check_cell(..., exits=False)``: the cell was refused; the message is the one line to report."""


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


async def check_equivalence(registry, impl: str, workload: str, sizes, step=lambda text: None) -> None:
    """Raise NotEquivalent unless ``impl`` yields what ``workload`` says (0..n-1 by default) at 0, 1 and every size.

    SetupFailed when the source itself raises; ``step(text)`` is told before each set-up.
    """
    expected = getattr(registry, "expected", None)  # older checkouts (ab --base-path): always range(n)
    record = registry.workload(workload) if hasattr(registry, "workload") else None
    where = f"workload {workload!r} of {record.module}" if record is not None else f"workload {workload!r}"
    for n in sorted({0, 1, *sizes}):
        step(f"setting up {where} at n={n}")
        want = expected(workload, n) if expected is not None else list(range(n))
        got = await _collect_fed(registry, impl, workload, n, where)
        diff = first_difference(want, got)
        if diff:
            what = "range(n)" if record is None or record.expected is None else f"{record.module}'s expected(n)"
            raise NotEquivalent(f"{impl}/{workload} is not equivalent to {what} at n={n}: {diff}")


async def _collect_fed(registry, impl: str, workload: str, n: int, where: str) -> list:
    """Drain a fresh iterator over its own source; a source that raises is a SetupFailed naming it."""
    if not hasattr(registry, "workload"):  # an older checkout's registry (ab --base-path): built-in sources only
        async with registry.open(impl, n, workload) as iterator:
            return await collect(iterator)
    factory = registry.factory(impl, workload)
    try:
        cm = registry.workload(workload).open(n)
        source = await cm.__aenter__()
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if type(exc).__name__ == "RegistryError":  # not a context manager: the message names module and workload
            raise SetupFailed(str(exc)) from None
        raise SetupFailed(f"{where}: set-up at n={n} failed: {type(exc).__name__}: {exc}") from None
    try:
        iterator = factory(source)
        got = await collect(iterator)
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
    except BaseException as exc:
        await cm.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    try:
        await cm.__aexit__(None, None, None)
    except Exception as exc:
        raise SetupFailed(f"{where}: tear-down at n={n} failed: {type(exc).__name__}: {exc}") from None
    return got


def check_cell(loop, registry, cell, sizes, timeout: float | None, exits: bool = True) -> None:
    """The equivalence check every measuring process runs first; a watchdog ends the process if it hangs.

    Exits with EXIT_NOT_EQUIVALENT (and the difference on stderr) when the
    cell does not yield what its workload says, EXIT_SETUP_FAILED when its
    source raises; with ``exits=False`` (count's forked children, which report
    in JSON) it raises Refused with that line instead. The watchdog is a
    thread, so it fires even inside a loop's C code.
    """
    import faulthandler
    import sys

    def step(text: str) -> None:
        print(CHECK_STEP_MARK + text, file=sys.stderr, flush=True)

    if timeout:
        faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        loop.run_until_complete(check_equivalence(registry, cell.impl, cell.workload, sizes, step))
    except (NotEquivalent, SetupFailed) as exc:
        if not exits:
            raise Refused(f"refused before counting: {exc}") from None
        print(f"{cell.name}: {exc}", file=sys.stderr)
        sys.exit(EXIT_NOT_EQUIVALENT if isinstance(exc, NotEquivalent) else EXIT_SETUP_FAILED)
    finally:
        if timeout:
            faulthandler.cancel_dump_traceback_later()


def is_async_cell(loop, registry, cell) -> bool:
    """Whether the cell's iterator is asynchronous (the sync baselines are not)."""
    async def probe() -> bool:
        async with registry.open(cell.impl, 0, cell.workload) as it:
            return hasattr(it, "__aiter__")

    return loop.run_until_complete(probe())
