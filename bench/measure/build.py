"""How this interpreter was built, as one short string: metadata ``aiterbench_build``.

Instructions per item and times depend on the build, not only on the version:
a shared libpython pays a ``__tls_get_addr`` call per thread-state look-up that
a statically linked interpreter does not; PGO, LTO, the JIT and free-threading
move them too. Runs of differently built interpreters must never pool, so each
measuring process records these facts (``aiterbench.model.identity`` puts them
into ``Environment.build``).

The string is the facts below, always in this order, joined by ``", "`` (no
fact contains ``", "``), for example ``shared libpython, no PGO, no LTO, no
JIT, GIL``. A fact that cannot be read says ``unknown``; none is guessed.

1. ``shared libpython`` | ``static libpython`` | ``libpython unknown``: on
   Linux, whether a ``libpython*`` is mapped in this process
   (``/proc/self/maps``): Debian's ``/usr/bin/python3`` says
   ``Py_ENABLE_SHARED = 1`` yet links libpython statically. On Windows,
   ``sys.dllhandle``. Elsewhere, as configured (``Py_ENABLE_SHARED`` or a
   framework build).
2. ``PGO`` | ``no PGO`` | ``PGO unknown``: as configured, from
   ``CONFIG_ARGS`` (``--enable-optimizations``) or a profile-use flag in the
   compiler flags (``-fprofile-use``, ``-fprofile-instr-use``).
3. ``LTO`` | ``no LTO`` | ``LTO unknown``: as configured, from ``CONFIG_ARGS``
   (``--with-lto``) or ``-flto`` in the compiler or linker flags.
4. ``JIT on`` | ``JIT off`` | ``no JIT`` | ``tier-2 interpreter on`` |
   ``tier-2 interpreter off`` | ``JIT unknown``: 3.14 on, ``sys._jit``;
   3.13, ``-D_Py_JIT`` and ``-D_Py_TIER2=N`` in the compiler flags
   (``--enable-experimental-jit[=yes|yes-off|interpreter]``) with the
   ``PYTHON_JIT`` override CPython applies at start-up; before 3.13, ``no JIT``.
5. ``GIL`` | ``free-threaded`` | ``free-threaded (GIL re-enabled)``:
   ``Py_GIL_DISABLED`` (or ``t`` in ``sys.abiflags``), and
   ``sys._is_gil_enabled()``, since an extension module that does not declare
   free-threading support turns the GIL back on.
6. ``debug build``, only for one (``sys.gettotalrefcount`` exists).

The flags-based facts (2 to 4) say ``unknown`` when sysconfig describes
another build than the running one (it says shared, the process runs a static
libpython, or the reverse): Debian builds its static interpreter apart, with
other options. Another implementation than CPython gives
``build facts unknown (<name>)``.

Standard library only, and cheap: measuring processes import it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import sys
import sysconfig
from collections.abc import Mapping

#: Compiler flags variables whose tokens say PGO, LTO and the JIT (never ``*_NOLTO``, nor ``PGO_PROF_USE_FLAG``,
#: which every build defines whether it uses it or not).
CFLAGS_VARS = ("CONFIGURE_CFLAGS", "CONFIGURE_CFLAGS_NODIST", "PY_CFLAGS", "PY_CFLAGS_NODIST", "PY_CORE_CFLAGS",
               "CFLAGS", "OPT")
LDFLAGS_VARS = ("CONFIGURE_LDFLAGS", "CONFIGURE_LDFLAGS_NODIST", "PY_LDFLAGS", "PY_LDFLAGS_NODIST", "LDFLAGS")

_LIBPYTHON = re.compile(r"libpython\d")


@dataclasses.dataclass(frozen=True)
class Runtime:
    """What the running process says about itself (the rest comes from sysconfig)."""

    implementation: str = "cpython"
    version: tuple[int, int] = (3, 11)
    #: A ``libpython*`` is mapped in this process (None: could not look, not Linux).
    libpython_mapped: bool | None = None
    #: Windows: ``sys.dllhandle`` exists (the interpreter lives in ``python3X.dll``).
    windows_dll: bool = False
    #: ``sys._jit``'s (is_available(), is_enabled()), 3.14 on; None without ``sys._jit``.
    jit: tuple[bool, bool] | None = None
    #: ``PYTHON_JIT`` as CPython reads it at start-up (None when unset or ignored with -E/-I).
    python_jit: str | None = None
    #: ``sys.is_stack_trampoline_active()``: perf profiling support, which turns the JIT off in some versions.
    perf_trampoline: bool = False
    #: ``sys._is_gil_enabled()`` (3.13 on), else None.
    gil_enabled: bool | None = None
    abiflags: str | None = None
    debug: bool = False


def runtime() -> Runtime:
    """This process's ``Runtime``."""
    jit = None
    sys_jit = getattr(sys, "_jit", None)
    if sys_jit is not None:
        try:
            jit = (bool(sys_jit.is_available()), bool(sys_jit.is_enabled()))
        except Exception:  # noqa: BLE001 - an experimental API: unreadable means unknown, never a failed run
            jit = None
    gil = getattr(sys, "_is_gil_enabled", None)
    trampoline = getattr(sys, "is_stack_trampoline_active", None)
    return Runtime(
        implementation=sys.implementation.name,
        version=(sys.version_info[0], sys.version_info[1]),
        libpython_mapped=_libpython_mapped(),
        windows_dll=hasattr(sys, "dllhandle"),
        jit=jit,
        python_jit=None if sys.flags.ignore_environment else os.environ.get("PYTHON_JIT"),
        perf_trampoline=bool(trampoline()) if trampoline is not None else False,
        gil_enabled=bool(gil()) if gil is not None else None,
        abiflags=getattr(sys, "abiflags", None),
        debug=hasattr(sys, "gettotalrefcount"),
    )


def _libpython_mapped(maps: str = "/proc/self/maps") -> bool | None:
    try:
        with open(maps, encoding="utf-8", errors="replace") as f:
            return any(_LIBPYTHON.match(os.path.basename(line.split(maxsplit=5)[-1].strip()))
                       for line in f if "/" in line)
    except OSError:
        return None


def build_facts(config: Mapping[str, object] | None = None, rt: Runtime | None = None) -> str:
    """This interpreter's build facts (the module docstring gives the wording).

    ``config`` stands for ``sysconfig.get_config_vars()`` and ``rt`` for ``runtime()``, for tests.
    """
    config = sysconfig.get_config_vars() if config is None else config
    rt = runtime() if rt is None else rt
    if rt.implementation != "cpython":
        return f"build facts unknown ({rt.implementation})"
    linkage, trusted = _linkage(config, rt)
    facts = [linkage]
    args = _config_args(config) if trusted else None
    cflags = _tokens(config, CFLAGS_VARS) if trusted else None
    ldflags = _tokens(config, LDFLAGS_VARS) if trusted else None
    if args is None:
        facts += ["PGO unknown", "LTO unknown"]
    else:
        pgo = _option(args, "enable", "optimizations") or any(
            t.startswith(("-fprofile-use", "-fprofile-instr-use")) or t == "-prof-use" for t in cflags + ldflags)
        lto = _option(args, "with", "lto") or any(t.startswith("-flto") for t in cflags + ldflags)
        facts += ["PGO" if pgo else "no PGO", "LTO" if lto else "no LTO"]
    facts.append(_jit(rt, cflags if args is not None else None))
    facts.append(_gil(config, rt))
    if rt.debug:
        facts.append("debug build")
    return ", ".join(facts)


def _truthy(value: object) -> bool:
    return value not in (None, "", 0, "0", False)


def _linkage(config: Mapping[str, object], rt: Runtime) -> tuple[str, bool]:
    """(the libpython fact, whether sysconfig describes the running build)."""
    args = _config_args(config) or []
    configured = None
    if "Py_ENABLE_SHARED" in config or config.get("PYTHONFRAMEWORK"):
        configured = (_truthy(config.get("Py_ENABLE_SHARED")) or _truthy(config.get("PYTHONFRAMEWORK"))) and not \
            _option(args, "enable", "static-libpython-for-interpreter")
    if rt.windows_dll:
        return "shared libpython", True
    if rt.libpython_mapped is not None:
        seen = rt.libpython_mapped
        return ("shared libpython" if seen else "static libpython"), configured is None or configured == seen
    if configured is None:
        return "libpython unknown", True
    return ("shared libpython" if configured else "static libpython"), True


def _config_args(config: Mapping[str, object]) -> list | None:
    """``CONFIG_ARGS`` as a list of words; None when sysconfig has none (Windows)."""
    text = config.get("CONFIG_ARGS")
    if text is None:
        return None
    try:
        return shlex.split(str(text))
    except ValueError:  # unbalanced quotes: the words are still there
        return str(text).split()


def _option(args: list, kind: str, name: str) -> bool:
    """The last ``--enable-NAME[=V]`` / ``--disable-NAME`` (``--with``/``--without``) is on (V not ``no``)."""
    on = False
    negative = {"enable": "disable", "with": "without"}[kind]
    for arg in args:
        if arg == f"--{kind}-{name}":
            on = True
        elif arg.startswith(f"--{kind}-{name}="):
            on = arg.split("=", 1)[1] != "no"
        elif arg == f"--{negative}-{name}":
            on = False
    return on


def _tokens(config: Mapping[str, object], names) -> list:
    return [t for name in names for t in str(config.get(name) or "").split()]


def _jit(rt: Runtime, cflags: list | None) -> str:
    if rt.version < (3, 13):
        return "no JIT"
    if rt.jit is not None and rt.jit[0]:
        return "JIT on" if rt.jit[1] else "JIT off"
    if cflags is None:  # sys._jit, when there, said no JIT; without it, nothing says
        return "no JIT" if rt.jit is not None else "JIT unknown"
    jit = any(t == "-D_Py_JIT" or t.startswith("-D_Py_JIT=") for t in cflags)
    tier2 = None
    for t in cflags:
        if t.startswith("-D_Py_TIER2="):
            try:
                tier2 = int(t.split("=", 1)[1], 0)
            except ValueError:
                return "JIT unknown"
    if rt.jit is not None and jit:  # sys._jit says unavailable though the flags say built: trust the process
        jit = False
    if tier2 is None:  # CPython turns tier 2 (and so the JIT) on only under _Py_TIER2
        return "JIT off" if jit else "no JIT"
    # CPython's start-up (pylifecycle.c): on unless _Py_TIER2 & 2, PYTHON_JIT=0|1 overrides.
    enabled = not tier2 & 2
    if rt.python_jit:
        enabled = not rt.python_jit.startswith("0")
    if jit:
        if enabled and rt.perf_trampoline and rt.jit is None:
            return "JIT unknown"  # perf profiling keeps the JIT off in some versions, not in others
        return "JIT on" if enabled else "JIT off"
    return "tier-2 interpreter on" if enabled else "tier-2 interpreter off"


def _gil(config: Mapping[str, object], rt: Runtime) -> str:
    free = _truthy(config.get("Py_GIL_DISABLED")) or "t" in (rt.abiflags or "")
    if not free:
        return "GIL"
    if rt.gil_enabled is None:
        return "free-threaded (GIL unknown)"
    return "free-threaded (GIL re-enabled)" if rt.gil_enabled else "free-threaded"
