"""A worker's command line: the interpreter, the boot code and the folders of the installed suite."""

from __future__ import annotations

import json
import os
import sys


def folders() -> dict:
    """Package -> folder of the suite this process runs: what a worker loads by path."""
    from .. import impls

    here = os.path.dirname(os.path.abspath(__file__))
    return {"aiterbench": os.path.dirname(here),
            "aiterbench.impls": os.path.dirname(os.path.abspath(impls.__file__))}


def command(mode: str, args=(), modules=(), side_path: str | None = None, python: str | None = None) -> list:
    """``python -c BOOT FOLDERS MODE ARGS [--impl-module M]... [--side-path DIR]``.

    ``mode`` is ``--worker`` (pyperf), ``--probe``, ``--count``, ``--memory`` or ``--profile``.
    """
    from ..measure.boot import BOOT

    cmd = [python or sys.executable, "-c", BOOT, json.dumps(folders()), mode, *args]
    for module in modules:
        cmd += ["--impl-module", module]
    if side_path:
        cmd += ["--side-path", side_path]
    return cmd
