"""Event loops the suite knows: how to make one, whether it is installed, which version."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import platform


@dataclasses.dataclass(frozen=True)
class LoopSpec:
    name: str
    module: str
    install: str  # what to tell a user whose loop is missing

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    @property
    def version(self) -> str:
        if self.module == "asyncio":
            return platform.python_version()
        import importlib.metadata  # here, not at the top: every worker imports this module, few ask for versions

        try:
            return importlib.metadata.version(self.module)
        except importlib.metadata.PackageNotFoundError:
            return getattr(importlib.import_module(self.module), "__version__", "unknown")

    def new_loop(self):
        """A fresh event loop; imports the loop's module only now."""
        if self.module == "asyncio":
            import asyncio

            return asyncio.new_event_loop()
        return importlib.import_module(self.module).new_event_loop()


def mend_rloop(loop) -> None:
    """rloop 0.5 closes its self-pipe descriptors on the Rust side at the end of
    every run but leaves the Python socket objects to the garbage collector, which
    reports them as unclosed (a ResourceWarning per run, not the code under test's)
    and would close their numbers again under whoever reuses them. They are given
    back as every socket handed to a loop is (``impls.release``): what is still ours
    is closed, and the objects let go of their numbers."""
    stop = getattr(loop, "_ssock_stop", None)
    if stop is None:  # a later rloop changed its internals: nothing to mend
        return

    def ssock_stop():
        from ..impls import owned, release

        handed = owned(loop._ssock_r, loop._ssock_w)
        stop()
        release(handed)

    loop._ssock_stop = ssock_stop


LOOPS = {
    spec.name: spec
    for spec in (
        LoopSpec("asyncio", "asyncio", "part of Python"),
        LoopSpec("uvloop", "uvloop", "pip install 'aiterbench[uvloop]'"),
        LoopSpec("rloop", "rloop", "pip install 'aiterbench[rloop]'"),
    )
}
#: The loops a run uses when ``-l`` is not given (those of them that are installed).
DEFAULT_LOOPS = ("asyncio", "uvloop")


def describe() -> list[dict]:
    """One record per known loop, for ``list`` and result metadata."""
    out = []
    for spec in LOOPS.values():
        out.append(
            {
                "name": spec.name,
                "module": spec.module,
                "available": spec.available,
                "version": spec.version if spec.available else None,
                "install": spec.install,
            }
        )
    return out

