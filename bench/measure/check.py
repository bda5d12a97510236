"""The equivalence check every measuring process runs before anything is timed: 0..n-1, or refused.

Imported by worker processes: keep it free of anything but the standard library.
"""

from __future__ import annotations

from typing import Any

from .sources import Held, workload_of


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


def _workload(registry, name: str):
    """The workload record the measuring code uses (``sources.workload_of``). The impls package is the one this
    process loaded: ``boot.load_impls`` imports a side's, whatever its age, as ``aiterbench.impls``."""
    import sys

    impls = sys.modules.get("aiterbench.impls")
    if impls is None:
        import importlib

        impls = importlib.import_module("aiterbench.impls")
    return workload_of(impls, registry, name)


#: How many drains go through one opened shared source in the check: as measuring does, more than one.
SHARED_DRAINS = 2


async def check_equivalence(registry, impl: str, workload: str, sizes, step=lambda text: None) -> None:
    """Raise NotEquivalent unless ``impl`` yields what ``workload`` says (0..n-1 by default) at 0, 1 and every size.

    The source is used as measuring uses it: a shared one (opened once, serving many drains) is opened once
    per size and drained ``SHARED_DRAINS`` times through that one value, each drain yielding what the
    workload says, so that a one-pass source declared shared is refused here rather than timed as an empty
    iteration. SetupFailed when the source itself raises; ``step(text)`` is told before each set-up.
    """
    record = _workload(registry, workload)
    factory = registry.factory(impl, workload)
    where = f"workload {workload!r} of {record.module}"
    what = "range(n)" if getattr(record, "expected", None) is None else f"{record.module}'s expected(n)"
    for n in sorted({0, 1, *sizes}):
        step(f"setting up {where} at n={n}")
        want = record.items(n)
        held = Held()
        try:
            opener = held.opener(record)
            drains = SHARED_DRAINS if record.shared else 1
            for k in range(drains):
                got = await _drain(opener, factory, n, where)
                diff = first_difference(want, got)
                if diff and k:
                    raise NotEquivalent(
                        f"{where} is declared shared, but drain {k + 1} through one opened source at n={n}: {diff} "
                        f"(a source that serves one drain only must not be shared)")
                if diff:
                    raise NotEquivalent(f"{impl}/{workload} is not equivalent to {what} at n={n}: {diff}")
        finally:
            try:
                await held.close()
            except Exception as exc:
                raise SetupFailed(f"{where}: tear-down at n={n} failed: {type(exc).__name__}: {exc}") from None


async def _drain(opener, factory, n: int, where: str) -> list:
    """One drain through ``opener`` (a ``Held`` opener); a source that raises is a SetupFailed naming it."""
    try:
        cm = opener(n)
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


def is_async_cell(loop, registry, cell, open_source=None, n: int = 0) -> bool:
    """Whether the cell's iterator is asynchronous (the sync baselines are not).

    ``open_source``: the process's opener (a ``Held`` one), so that a shared source is not set up once more
    for the question (an ``http`` cell would start a server, a session and a request); ``n``: a size the
    process opens anyway. Without it, the workload's own per-drain set-up at ``n``.
    """
    factory = registry.factory(cell.impl, cell.workload)
    opener = open_source or _workload(registry, cell.workload).open

    async def probe() -> bool:
        async with opener(n) as source:
            iterator = factory(source)
            try:
                return hasattr(iterator, "__aiter__")
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()

    return loop.run_until_complete(probe())
