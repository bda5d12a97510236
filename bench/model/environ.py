"""What a measuring process inherits from the caller's environment: only what it needs to start.

Test jobs often set ``PYTHONASYNCIODEBUG=1`` or ``PYTHONDEVMODE=1``; inherited
by a worker, they make one form look 40 times slower than the other. As
pyperf's own runner does, workers start from a short list of variables, and
``--inherit-environ NAME,...`` passes more on purpose. Standard library only:
worker processes import this module to record what they got.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Mapping

#: Always passed when set: finding the interpreter, its shared library and temporary files, and
#: ``PYTHONPATH`` for plug-in modules named on it. None of them changes the code path being timed.
KEEP = ("PATH", "HOME", "TMPDIR", "TEMP", "TMP", "COMSPEC", "SystemRoot", "SystemDrive", "LD_LIBRARY_PATH", "PYTHONPATH")

_PREFIXES = ("PYTHON", "PYPERF", "MALLOC_")
_NAMES = ("LD_PRELOAD", "GLIBC_TUNABLES")


def influential(name: str) -> bool:
    """True for a variable that can change what a measuring process does: interpreter modes, allocators."""
    return name != "PYTHONPATH" and (name.startswith(_PREFIXES) or name in _NAMES)


def check_names(names: Iterable[str]) -> tuple[str, ...]:
    """Validate ``--inherit-environ`` names; ValueError names the bad one."""
    out = []
    for name in names:
        if not name or "=" in name or any(c.isspace() for c in name):
            raise ValueError(f"--inherit-environ: {name!r} is not a variable name (give NAME,NAME,...)")
        if name not in out:
            out.append(name)
    return tuple(out)


def worker_environ(inherit: Iterable[str] = (), environ: Mapping[str, str] | None = None,
                   set_: Mapping[str, str] | None = None) -> tuple[dict, list[str]]:
    """The environment of a worker process and the influential variables left out of it, sorted.

    ``inherit`` names more variables to pass; ``set_`` adds variables the suite itself needs
    (``count`` fixes ``PYTHONHASHSEED``).
    """
    environ = os.environ if environ is None else environ
    names = set(KEEP) | set(inherit)
    env = {k: v for k, v in environ.items() if k in names}
    env.update(set_ or {})
    dropped = sorted(k for k in environ if k not in env and influential(k))
    return env, dropped


def recorded(environ: Mapping[str, str] | None = None) -> str:
    """The influential variables this process got, as one line of JSON for the result metadata (``{}``: none)."""
    environ = os.environ if environ is None else environ
    return json.dumps({k: environ[k] for k in sorted(environ) if influential(k)}, sort_keys=True)
