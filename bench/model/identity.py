"""The environment a result belongs to: what must match for two measurements to be pooled.

The same Python gives different answers on different machines (asyncgen /
class_anext on ``none``, 3.12: about 1.2 on an AMD EPYC, 1.6 on an Intel
Xeon), so two cloud VMs that are both called ``vm`` are still two
environments. Every run in a result file carries its own metadata, so the
environment is read per run; runs of one environment pool, others never do.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, Iterable, Mapping, Sequence

#: Metadata value of ``aiterbench_environ`` for files written before workers recorded it (format 1).
NOT_RECORDED = "not recorded (format 1: workers inherited the caller's environment)"
#: The build facts of runs whose processes did not record ``aiterbench_build`` (aiterbench 0.3.0 and older): such runs
#: never pool with runs that did, since nothing says the two interpreters were built alike.
BUILD_NOT_RECORDED = "build facts not recorded"

#: Field -> how a person calls it, in the order differences are listed.
FIELDS = {
    "implementation": "Python implementation",
    "python_version": "Python",
    "cpu": "CPU",
    "hostname": "machine",
    "platform": "platform",
    "aiterbench_version": "aiterbench",
    "environ": "inherited environment",
    "side": "ab side",
    "build": "Python build",
}


@dataclasses.dataclass(frozen=True)
class Environment:
    """Python, machine, loop versions, aiterbench version and inherited variables of a measurement."""

    implementation: str
    python_version: str
    cpu: str
    hostname: str
    platform: str
    aiterbench_version: str
    environ: str  # JSON object of the influential variables the workers got, or NOT_RECORDED
    loops: tuple[tuple[str, str], ...] = ()  # (loop, version), sorted; asyncio is the Python's own
    #: ``ab``'s side ("base" or "new"; empty for ``run``): two sides run different code, never pooled.
    side: str = ""
    #: The interpreter's build: word size, compiler and the measuring process's build facts
    #: (``64-bit, GCC 12.2.0, shared libpython, no PGO, no LTO, no JIT, GIL``; ``aiterbench.measure.build``
    #: says each), or BUILD_NOT_RECORDED in their place; empty when nothing of it was recorded.
    build: str = ""

    def __post_init__(self) -> None:
        for field in FIELDS:
            if not isinstance(getattr(self, field), str):
                raise TypeError(f"Environment.{field} must be a string")
        object.__setattr__(self, "loops", tuple(sorted(dict(self.loops).items())))

    @classmethod
    def from_metadata(cls, md: Mapping[str, object]) -> "Environment":
        """The environment of one pyperf run, from its metadata."""
        loops = ()
        if md.get("loop") and md.get("loop") != "asyncio":
            loops = ((str(md["loop"]), str(md.get("loop_version", "?"))),)
        return cls(
            implementation=str(md.get("python_implementation", "?")),
            python_version=str(md.get("python_version", "?")).split(" (")[0],
            cpu=str(md.get("cpu_model_name", "?")),
            hostname=str(md.get("hostname", "?")),
            platform=str(md.get("platform", "?")),
            aiterbench_version=str(md.get("aiterbench_version", "?")),
            environ=str(md.get("aiterbench_environ", NOT_RECORDED)),
            loops=loops,
            side=str(md.get("aiterbench_side", "")),
            build=_build(md),
        )

    @classmethod
    def from_record(cls, data: Mapping[str, object]) -> "Environment":
        """An environment stored as a dict (``dataclasses.asdict``) by this or another version of aiterbench.

        Fields it does not know are left out (a later version added them); fields
        it lacks take their defaults, or ``?`` when they have none.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name, f in known.items():
            if name not in values and f.default is dataclasses.MISSING:
                values[name] = "?"
        values["loops"] = tuple(tuple(str(x) for x in pair) for pair in values.get("loops", ()))
        values["build"] = _with_facts(str(values.get("build", "")))
        return cls(**{k: v if k == "loops" else str(v) for k, v in values.items()})

    @property
    def series_key(self) -> tuple[str, ...]:
        """What makes a history's numbers comparable: machine, Python minor version and build (loops apart)."""
        return (self.hostname, self.cpu, self.implementation, ".".join(self.python_version.split(".")[:2]),
                self.build, self.side)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, f) for f in FIELDS)

    def compatible(self, other: "Environment") -> bool:
        """Same Python, machine, aiterbench and variables, and the same version of every loop both used."""
        if self.key != other.key:
            return False
        mine, theirs = dict(self.loops), dict(other.loops)
        return all(mine[k] == theirs[k] for k in mine.keys() & theirs.keys())

    def merged(self, other: "Environment") -> "Environment":
        return dataclasses.replace(self, loops=tuple({**dict(self.loops), **dict(other.loops)}.items()))

    def fields(self) -> dict[str, str]:
        """Field label -> value, loops last (one entry per loop)."""
        out = {label: _show(name, getattr(self, name)) for name, label in FIELDS.items()}
        out.update({loop: version for loop, version in self.loops})
        return out

    @property
    def short(self) -> str:
        """``3.11`` (CPython) or ``pypy 3.10``."""
        short = ".".join(self.python_version.split(".")[:2])
        return short if self.implementation == "cpython" else f"{self.implementation} {short}"


def _build(md: Mapping[str, object]) -> str:
    """``64-bit, GCC 12.2.0, shared libpython, ...``: pyperf's word size (from ``python_version``, "3.11.7
    (64-bit) revision ...") and compiler, then the process's ``aiterbench_build`` (BUILD_NOT_RECORDED without)."""
    version = str(md.get("python_version", ""))
    bits = version.split("(", 1)[1].split(")", 1)[0] if "(" in version and ")" in version else ""
    facts = str(md.get("aiterbench_build", "") or BUILD_NOT_RECORDED)
    return ", ".join(x for x in (bits, str(md.get("python_compiler", "") or ""), facts) if x)


def _with_facts(build: str) -> str:
    """A stored build as ``_build`` reads it today: a record written before the build facts (``64-bit, GCC
    12.2.0``) gets BUILD_NOT_RECORDED, as its result file does. Every facts string names libpython (shared,
    static or unknown) or says ``build facts unknown``; the marker says ``build facts`` too."""
    if "libpython" in build or "build facts" in build:
        return build
    return ", ".join(x for x in (build, BUILD_NOT_RECORDED) if x)


def run_environments(suite) -> Callable[[Mapping[str, object]], Environment]:
    """``Environment.from_metadata`` with the loop versions of the whole run each pyperf run belongs to.

    A run's own metadata names only its cell's loop; the environment is every
    loop that run measured with (asyncio cells of a run with uvloop 0.21 never
    pool with asyncio cells of a run with uvloop 0.19). Runs without a run id
    (plain pyperf files, counts, memory) take the loops of the whole file.
    """
    loops: dict[str, dict[str, str]] = {}
    for bench in suite.get_benchmarks():
        for run in bench.get_runs():
            md = run.get_metadata()
            if md.get("loop") and md.get("loop") != "asyncio":
                loops.setdefault(str(md.get("aiterbench_run", "")), {})[str(md["loop"])] = str(md.get("loop_version", "?"))

    def environment(md: Mapping[str, object]) -> Environment:
        own = Environment.from_metadata(md)
        return dataclasses.replace(own, loops=tuple(loops.get(str(md.get("aiterbench_run", "")), {}).items()))

    return environment


def _show(name: str, value: str) -> str:
    if name == "environ" and value != NOT_RECORDED:
        try:
            data = json.loads(value)
        except ValueError:
            return value
        return ", ".join(f"{k}={v}" for k, v in sorted(data.items())) or "clean"
    return value


def differences(a: Environment, b: Environment) -> list[tuple[str, str, str]]:
    """(what, in a, in b) for every field and loop on which two environments differ."""
    fa, fb = a.fields(), b.fields()
    out = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(key, "-"), fb.get(key, "-")
        if va != vb:
            out.append((key, va, vb))
    return out


def labels(envs: Sequence[Environment]) -> list[str]:
    """A short label per environment, made of what differs between them (the Python when nothing does)."""
    if len(envs) <= 1:
        return [e.short for e in envs]
    varying = [name for name in FIELDS if len({getattr(e, name) for e in envs}) > 1]
    loop_names = sorted({loop for e in envs for loop, _ in e.loops})
    varying_loops = [lp for lp in loop_names if len({dict(e.loops).get(lp) for e in envs}) > 1]
    out = []
    for e in envs:
        parts = []
        for name in varying:
            value = getattr(e, name)
            if name == "python_version":
                value = value if _minor_clash(envs) else e.short
            elif name == "implementation":
                continue  # part of the short version
            elif name == "environ":
                value = _show(name, value) if value != NOT_RECORDED else "environment not recorded"
            elif name == "aiterbench_version":
                value = f"aiterbench {value}"
            elif name == "side":
                value = f"ab {value}" if value else "run"
            elif name == "build":
                value = _own_facts(e, envs)
                if not value:
                    continue
            parts.append(value)
        parts += [f"{lp} {dict(e.loops).get(lp, '-')}" for lp in varying_loops]
        if "python_version" not in varying:
            parts.insert(0, e.short)
        out.append(" · ".join(parts) or e.short)
    # Two environments that differ only in a loop both lack would share a label: number them.
    base = list(out)  # count on the labels as made, not on the list being numbered
    seen: dict[str, int] = {}
    for i, label in enumerate(base):
        if base.count(label) > 1:
            seen[label] = seen.get(label, 0) + 1
            out[i] = f"{label} #{seen[label]}"
    return out


def _own_facts(e: Environment, envs: Sequence[Environment]) -> str:
    """The facts of ``e.build`` that not every one of ``envs`` shares (``static libpython``), in their order.

    Beside a file that recorded no build facts, every recorded fact differs: an environment that recorded
    them names those the other recording ones do not share, or its first (libpython) when they share all.
    """
    facts = e.build.split(", ")
    own = [f for f in facts if f not in set.intersection(*(set(x.build.split(", ")) for x in envs))]
    if BUILD_NOT_RECORDED not in facts:
        among = set.intersection(*(set(x.build.split(", ")) for x in envs
                                   if BUILD_NOT_RECORDED not in x.build.split(", ")))
        own = [f for f in own if f not in among] or own[:1]
    return ", ".join(own)


def _minor_clash(envs: Iterable[Environment]) -> bool:
    """True when two environments share a minor version but not the full one (3.12.1 and 3.12.4)."""
    by_short: dict[str, set] = {}
    for e in envs:
        by_short.setdefault(e.short, set()).add(e.python_version)
    return any(len(v) > 1 for v in by_short.values())


def group(items: Iterable[tuple[Environment, object]]) -> list[tuple[Environment, list]]:
    """Group items by compatible environment, in the order first seen; environments merge their loops."""
    groups: list[list] = []
    for env, item in items:
        for g in groups:
            if g[0].compatible(env):
                g[0] = g[0].merged(env)
                g[1].append(item)
                break
        else:
            groups.append([env, [item]])
    return [(g[0], g[1]) for g in groups]
