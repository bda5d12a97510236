"""Import a package from a given folder without putting that folder on ``sys.path``.

A worker runs under any interpreter (``ab --base-python``). The harness and
the built-in impls come from the installed suite, yet the suite's folder may be
another interpreter's site-packages: put on ``sys.path`` it would shadow that
interpreter's own compiled packages. So each package is loaded by path.
"""

from __future__ import annotations

import importlib.util
import os
import sys

#: ``python -c BOOT ROOT ARGS...``: load ``bench`` from ROOT, then hand over to the worker's entry point.
BOOT = (
    "import importlib.util, os, sys\n"
    "root = sys.argv.pop(1)\n"
    "spec = importlib.util.spec_from_file_location('bench', os.path.join(root, 'bench', '__init__.py'),"
    " submodule_search_locations=[os.path.join(root, 'bench')])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['bench'] = module\n"
    "spec.loader.exec_module(module)\n"
    "from bench._worker import entry\n"
    "entry()\n"
)

#: The folder that holds the installed suite's ``bench`` and ``impls`` packages.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(mode: str, args=(), modules=(), side_path: str | None = None, python: str | None = None) -> list:
    """A worker's command line: ``python -c BOOT ROOT MODE ARGS [--impl-module M]... [--side-path DIR]``.

    ``mode`` is ``--worker`` (pyperf), ``--probe``, ``--count``, ``--memory`` or ``--profile``.
    """
    cmd = [python or sys.executable, "-c", BOOT, ROOT, mode, *args]
    for module in modules:
        cmd += ["--impl-module", module]
    if side_path:
        cmd += ["--side-path", side_path]
    return cmd


def import_package(name: str, root: str = ROOT):
    """Import package ``name`` from ``root/name`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    folder = os.path.join(root, name)
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_impls(side_path: str | None):
    """The ``impls`` package: from ``side_path`` when it holds one (put first on sys.path), else the installed one."""
    if side_path:
        sys.path.insert(0, side_path)
        if os.path.isfile(os.path.join(side_path, "impls", "__init__.py")):
            import impls

            return impls
    return import_package("impls")
