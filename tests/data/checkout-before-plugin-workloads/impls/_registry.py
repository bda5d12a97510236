"""The registry: built-in implementations plus any plug-in module's ``IMPLS``."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import os
import sys
import types
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

from ._sources import SOURCES, WORKLOADS

#: Relative to this package, which is ``aiterbench.impls`` installed, and the same in a checkout loaded by path.
BUILTIN_MODULES = (".class_anext", ".asyncgen", ".class_awaitable", ".baselines")


class RegistryError(ValueError):
    """A registry entry or plug-in module is unusable; the message names the culprit."""


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
            if workload not in SOURCES:
                raise RegistryError(
                    f"{self.module}: impl {self.name!r} names unknown workload {workload!r} "
                    f"(known: {', '.join(WORKLOADS)})"
                )
            if not callable(factory):
                raise RegistryError(f"{self.module}: impl {self.name!r} factory for {workload!r} is not callable")
        # Freeze the mapping in the suite's workload order.
        object.__setattr__(
            self, "factories", types.MappingProxyType({w: self.factories[w] for w in WORKLOADS if w in self.factories})
        )

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(self.factories)


def _entries(module: types.ModuleType) -> list[Impl]:
    name = module.__name__
    table = getattr(module, "IMPLS", None)
    if not isinstance(table, Mapping):
        raise RegistryError(f"{name}: a plug-in module must define IMPLS = {{name: {{'family': ..., 'workloads': {{...}}}}}}")
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

    def __post_init__(self) -> None:
        seen: dict[str, Impl] = {}
        for impl in self.impls:
            if impl.name in seen:
                raise RegistryError(
                    f"duplicate impl name {impl.name!r}: defined by {seen[impl.name].module} and {impl.module}"
                )
            seen[impl.name] = impl

    @classmethod
    def builtin(cls) -> "Registry":
        package = __name__.rpartition(".")[0]
        return cls(tuple(i for m in BUILTIN_MODULES for i in _entries(importlib.import_module(m, package))))

    def extended(self, modules: Iterable[str]) -> "Registry":
        """A new registry with each plug-in module's entries added; duplicates are errors."""
        extra = tuple(i for spec in modules for i in _entries(load_module(spec)))
        return Registry(self.impls + extra)

    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.impls)

    def get(self, name: str) -> Impl:
        for impl in self.impls:
            if impl.name == name:
                return impl
        raise RegistryError(f"unknown impl {name!r} (choices: {', '.join(self.names())})")

    def factory(self, name: str, workload: str) -> Callable[[Any], Any]:
        impl = self.get(name)
        if workload not in SOURCES:
            raise RegistryError(f"unknown workload {workload!r} (choices: {', '.join(WORKLOADS)})")
        try:
            return impl.factories[workload]
        except KeyError:
            raise RegistryError(
                f"impl {name!r} does not implement workload {workload!r} (it has: {', '.join(impl.workloads)})"
            ) from None

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (impl, workload) that exists, in registry then workload order."""
        return tuple((i.name, w) for i in self.impls for w in i.workloads)

    @contextlib.asynccontextmanager
    async def open(self, name: str, n: int, workload: str = "none", **source_options: Any) -> AsyncIterator[Any]:
        """Set up the workload's source, yield the iterator, tear everything down on exit."""
        factory = self.factory(name, workload)
        async with SOURCES[workload](n, **source_options) as source:
            iterator = factory(source)
            try:
                yield iterator
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
