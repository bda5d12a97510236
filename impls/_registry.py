"""The registry: built-in implementations plus any plug-in module's ``IMPLS``."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import os
import sys
import types
import inspect
from typing import Any, AsyncIterator, Callable, Iterable, Mapping, Sequence

from ._sources import EACH, EXPECTED, REQUIRES, SHARED, SOURCES, STEADY_FROM, WORKLOADS

#: The module name built-in workloads are recorded under.
_BUILTIN = "aiterbench.impls"
#: Relative to this package, which is ``aiterbench.impls`` installed, and the same in a checkout loaded by path.
BUILTIN_MODULES = (".class_anext", ".asyncgen", ".class_awaitable", ".baselines", ".native")


class RegistryError(ValueError):
    """A registry entry or plug-in module is unusable; the message names the culprit."""


#: Where a workload that is not built in may come from: none but these keys in a ``WORKLOADS`` entry.
WORKLOAD_KEYS = ("source", "shared", "each", "expected")


@dataclasses.dataclass(frozen=True)
class Workload:
    """Where an impl's items come from: ``source(n)`` is an async context manager whose value factories receive.

    Its set-up (``__aenter__``) and tear-down (``__aexit__``) run outside the
    timed region. By default every drain gets a source of its own (a queue, a
    socket pair). ``shared``: one opened source serves many drains, each
    factory call starting a fresh iteration over all n items (``none`` and
    ``sleep0``, whose value is ``n``). ``each(value)``: the source is opened
    once and serves many drains, each through an async context manager of its
    own (``http``: a server and a session once, a request per drain); factories
    receive what ``each`` gives. ``expected(n)`` is the sequence every impl must
    yield (default ``range(n)``); ``steady_from`` the smallest n of the
    workload's steady regime (0: every n); ``requires`` a module it needs
    (built-in workloads only: ``http`` needs aiohttp).
    """

    name: str
    source: Callable[[int], Any]
    module: str
    shared: bool = False
    each: Callable[[Any], Any] | None = None
    expected: Callable[[int], Sequence] | None = None
    steady_from: int = 0
    requires: str | None = None
    install: str = ""

    def __post_init__(self) -> None:
        where = f"{self.module}: workload {self.name!r}"
        if not isinstance(self.name, str) or not self.name or any(ch in self.name for ch in "/@#,*?[] "):
            raise RegistryError(f"{self.module}: workload name {self.name!r} must be a non-empty string without "
                                "'/', '@', '#', ',', spaces or glob characters")
        if not callable(self.source):
            raise RegistryError(f"{where}: the source must be callable, source(n) -> async context manager; "
                                f"got {type(self.source).__name__}")
        if inspect.iscoroutinefunction(self.source) or inspect.isasyncgenfunction(self.source):
            kind = "an async def" if inspect.iscoroutinefunction(self.source) else "an async generator function"
            raise RegistryError(f"{where}: the source is {kind}, not an async context manager factory "
                                "(decorate it with @contextlib.asynccontextmanager)")
        if not isinstance(self.shared, bool):
            raise RegistryError(f"{where}: 'shared' must be True or False")
        if self.each is not None:
            if not callable(self.each) or inspect.iscoroutinefunction(self.each) or inspect.isasyncgenfunction(self.each):
                raise RegistryError(f"{where}: 'each' must be an async context manager factory, each(value) -> "
                                    "async context manager (decorate it with @contextlib.asynccontextmanager)")
            object.__setattr__(self, "shared", True)  # a source with a set-up per drain serves many
        if self.expected is not None and not callable(self.expected):
            raise RegistryError(f"{where}: 'expected' must be callable, expected(n) -> the items impls yield")
        if not isinstance(self.steady_from, int) or isinstance(self.steady_from, bool) or self.steady_from < 0:
            raise RegistryError(f"{where}: 'steady_from' must be an integer >= 0")

    def items(self, n: int) -> list:
        """What every impl of this workload must yield for ``n``."""
        if self.expected is None:
            return list(range(n))
        try:
            return list(self.expected(n))
        except Exception as exc:
            raise RegistryError(f"{self.module}: workload {self.name!r}: expected({n}) failed: "
                                f"{type(exc).__name__}: {exc}") from None

    @property
    def available(self) -> bool:
        """Whether what the workload requires is installed (looked up, not imported)."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    @property
    def batched(self) -> bool:
        """Whether one source value feeds every drain with nothing set up between them (timed in one batch)."""
        return self.shared and self.each is None

    def open_source(self, n: int, **options: Any):
        """``async with workload.open_source(n) as value``: the source alone (``each`` not entered)."""
        return self._checked(self.source, f"source({n})", n, **options)

    def open_each(self, value: Any):
        """``async with workload.open_each(value) as x``: one drain's set-up over an open source."""
        return self._checked(self.each, "each(value)", value)

    def open(self, n: int, **options: Any):
        """``async with workload.open(n) as value``: what a factory receives, with all of its set-up.

        Each call sets the source up (and, with ``each``, one drain's part on
        top); refused in one line if it is not an async context manager.
        """
        if self.each is None:
            return self.open_source(n, **options)
        return self._both(n, options)

    @contextlib.asynccontextmanager
    async def _both(self, n: int, options):
        async with self.open_source(n, **options) as value:
            async with self.open_each(value) as each:
                yield each

    def _checked(self, make, call: str, *args: Any, **options: Any):
        try:
            cm = make(*args, **options)
        except Exception as exc:
            raise RegistryError(f"{self.module}: workload {self.name!r}: {call} failed: "
                                f"{type(exc).__name__}: {exc}") from None
        if not (hasattr(cm, "__aenter__") and hasattr(cm, "__aexit__")):
            if inspect.iscoroutine(cm):
                cm.close()
            raise RegistryError(f"{self.module}: workload {self.name!r}: {call} returned "
                                f"{type(cm).__name__}, not an async context manager")
        return cm


def builtin_workloads(module: str) -> tuple[Workload, ...]:
    """The suite's own workloads (``impls._sources``), in their order."""
    return tuple(Workload(name, SOURCES[name], module, shared=name in SHARED, each=EACH.get(name),
                          expected=EXPECTED.get(name), steady_from=STEADY_FROM.get(name, 0),
                          requires=REQUIRES.get(name, (None, ""))[0], install=REQUIRES.get(name, (None, ""))[1])
                 for name in WORKLOADS)


@dataclasses.dataclass(frozen=True)
class Impl:
    """One implementation: its name, family and one factory per workload it supports."""

    name: str
    family: str
    factories: Mapping[str, Callable[[Any], Any]]
    module: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(ch in self.name for ch in "/@#"):
            raise RegistryError(f"{self.module}: impl name {self.name!r} must be a non-empty string without '/', '@' "
                                "or '#'")
        if not isinstance(self.family, str) or not self.family:
            raise RegistryError(f"{self.module}: impl {self.name!r} needs a non-empty 'family' string")
        if not self.factories:
            raise RegistryError(f"{self.module}: impl {self.name!r} implements no workload")
        for workload, factory in self.factories.items():
            if not callable(factory):
                raise RegistryError(f"{self.module}: impl {self.name!r} factory for {workload!r} is not callable")
        # Freeze the mapping; the registry, which knows every workload, checks the names and orders them.
        object.__setattr__(self, "factories", types.MappingProxyType(dict(self.factories)))

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(self.factories)


def _workloads(module: types.ModuleType) -> list[Workload]:
    """A plug-in module's ``WORKLOADS = {name: source}`` (or ``{name: {"source": ..., "shared": ..., ...}}``)."""
    name = module.__name__
    table = getattr(module, "WORKLOADS", None)
    if table is None:
        return []
    if not isinstance(table, Mapping):
        raise RegistryError(f"{name}: WORKLOADS must be a dict {{name: source}}, not {type(table).__name__}")
    out = []
    for workload, entry in table.items():
        if isinstance(entry, Mapping):
            unknown = sorted(set(entry) - set(WORKLOAD_KEYS))
            if unknown or "source" not in entry:
                raise RegistryError(f"{name}: WORKLOADS[{workload!r}] " + (
                    f"has unknown key {unknown[0]!r}" if unknown else "has no 'source'") +
                    f" (keys: {', '.join(WORKLOAD_KEYS)})")
            out.append(Workload(workload, module=name, **dict(entry)))
        else:
            out.append(Workload(workload, entry, name))
    return out


def _entries(module: types.ModuleType) -> list[Impl]:
    name = module.__name__
    table = getattr(module, "IMPLS", None)
    if table is None and getattr(module, "WORKLOADS", None) is not None:
        return []  # a module of sources only: other modules' impls name them
    if not isinstance(table, Mapping):
        raise RegistryError(f"{name}: a plug-in module must define IMPLS = {{name: {{'family': ..., 'workloads': {{...}}}}}}"
                            " (and may define WORKLOADS = {name: source})")
    impls = []
    for impl_name, entry in table.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("workloads"), Mapping):
            raise RegistryError(f"{name}: IMPLS[{impl_name!r}] must be a dict with a 'workloads' dict")
        impls.append(Impl(impl_name, entry.get("family", "plugin"), dict(entry["workloads"]), name))
    return impls


def load_module(spec: str) -> types.ModuleType:
    """Import a plug-in by dotted name (on ``sys.path``) or by path to a ``.py`` file."""
    try:
        if spec.endswith(".py") or os.sep in spec:
            path = os.path.abspath(spec)
            if not os.path.isfile(path):
                raise RegistryError(f"--impl-module {spec}: no such file")
            mod_name = "aiterbench_plugin_" + os.path.splitext(os.path.basename(path))[0]
            file_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(file_spec)
            sys.modules[mod_name] = module
            file_spec.loader.exec_module(module)
            return module
        return importlib.import_module(spec)
    except RegistryError:
        raise
    except BaseException as exc:  # a plug-in's import may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RegistryError(f"--impl-module {spec}: import failed: {type(exc).__name__}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Registry:
    """An immutable, validated set of implementations: built-ins first, then plug-ins in the order given."""

    impls: tuple[Impl, ...]
    #: Every workload impls may name: the built-in ones, then plug-in modules' in the order given.
    workloads: tuple[Workload, ...] = ()

    def __post_init__(self) -> None:
        known: dict[str, Workload] = {}
        for workload in self.workloads:
            if workload.name in known:
                first = known[workload.name]
                whose = "the built-in workload" if first.module == _BUILTIN else f"{first.module}'s workload"
                raise RegistryError(f"{workload.module}: WORKLOADS[{workload.name!r}] clashes with {whose} "
                                    f"{workload.name!r}: name it otherwise")
            known[workload.name] = workload
        seen: dict[str, Impl] = {}
        order = tuple(known)
        impls = []
        for impl in self.impls:
            if impl.name in seen:
                raise RegistryError(
                    f"duplicate impl name {impl.name!r}: defined by {seen[impl.name].module} and {impl.module}"
                )
            seen[impl.name] = impl
            for workload in impl.factories:
                if workload not in known:
                    raise RegistryError(f"{impl.module}: impl {impl.name!r} names unknown workload {workload!r} "
                                        f"(known: {', '.join(order)})")
            # The factories in the registry's workload order.
            impls.append(dataclasses.replace(impl, factories={w: impl.factories[w] for w in order if w in impl.factories}))
        object.__setattr__(self, "impls", tuple(impls))

    @classmethod
    def builtin(cls) -> "Registry":
        package = __name__.rpartition(".")[0]
        return cls(tuple(i for m in BUILTIN_MODULES for i in _entries(importlib.import_module(m, package))),
                   builtin_workloads(_BUILTIN))

    def extended(self, modules: Iterable[str]) -> "Registry":
        """A new registry with each plug-in module's impls and workloads added; duplicates are errors."""
        loaded = [load_module(spec) for spec in modules]
        workloads = tuple(w for module in loaded for w in _workloads(module))
        extra = tuple(i for module in loaded for i in _entries(module))
        return Registry(self.impls + extra, self.workloads + workloads)

    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.impls)

    def workload_names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.workloads)

    def workload(self, name: str) -> Workload:
        for workload in self.workloads:
            if workload.name == name:
                return workload
        raise RegistryError(f"unknown workload {name!r} (choices: {', '.join(self.workload_names())})")

    def get(self, name: str) -> Impl:
        for impl in self.impls:
            if impl.name == name:
                return impl
        raise RegistryError(f"unknown impl {name!r} (choices: {', '.join(self.names())})")

    def factory(self, name: str, workload: str) -> Callable[[Any], Any]:
        impl = self.get(name)
        self.workload(workload)
        try:
            return impl.factories[workload]
        except KeyError:
            raise RegistryError(
                f"impl {name!r} does not implement workload {workload!r} (it has: {', '.join(impl.workloads)})"
            ) from None

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (impl, workload) that exists, in registry then workload order."""
        return tuple((i.name, w) for i in self.impls for w in i.workloads)

    def expected(self, workload: str, n: int) -> list:
        """What every impl of ``workload`` must yield for ``n`` (``range(n)`` unless the workload says otherwise)."""
        return self.workload(workload).items(n)

    @contextlib.asynccontextmanager
    async def open(self, name: str, n: int, workload: str = "none", **source_options: Any) -> AsyncIterator[Any]:
        """Set up the workload's source, yield the iterator, tear everything down on exit."""
        factory = self.factory(name, workload)
        async with self.workload(workload).open(n, **source_options) as source:
            iterator = factory(source)
            try:
                yield iterator
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
