"""How a worker process finds the suite: each package loaded from its folder, not through ``sys.path``.

A worker runs under any interpreter (``ab --base-python``). The harness and
the built-in impls come from the installed suite, yet the suite's folder may be
another interpreter's site-packages: put on ``sys.path`` it would shadow that
interpreter's own compiled packages. So ``aiterbench`` and ``aiterbench.impls``
are loaded by path, from the folders the parent names (an editable install
keeps them apart: ``bench/`` and ``impls/``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

#: ``python -c BOOT FOLDERS ARGS...``: FOLDERS is JSON {package: folder}; load ``aiterbench`` from its
#: folder, then hand over to the worker's entry point with the folders.
BOOT = (
    "import sys\n"
    # ``-c`` puts the working folder first on sys.path, and the first import lists it: its files would land on
    # the heap of a counted process and move its counts (the folder's contents, not the code). Counting does
    # without it; a plug-in module is found on PYTHONPATH, a side's path or by its .py path.
    "if sys.argv[2:3] == ['--count'] and sys.path[:1] == ['']: del sys.path[0]\n"
    "import importlib.util, json, os\n"
    "folders = json.loads(sys.argv.pop(1))\n"
    "root = folders['aiterbench']\n"
    "spec = importlib.util.spec_from_file_location('aiterbench', os.path.join(root, '__init__.py'),"
    " submodule_search_locations=[root])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['aiterbench'] = module\n"
    "spec.loader.exec_module(module)\n"
    "from aiterbench.measure.worker import entry\n"
    "entry(folders)\n"
)

#: Package -> folder, as the parent passed them (empty when the worker was started with ``-m``).
FOLDERS: dict = {}


def import_package(name: str, folder: str):
    """Import package ``name`` from ``folder`` (once per process)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:  # as an import would: ``aiterbench.impls`` is an attribute of ``aiterbench``
        setattr(sys.modules[parent], child, module)
    return module


def is_suite_impls(folder: str) -> bool:
    """Whether ``folder`` is this suite's impls package (a checkout's), not a project's own ``impls``."""
    return all(os.path.isfile(os.path.join(folder, name)) for name in ("__init__.py", "_registry.py", "_sources.py"))


def load_impls(side_path: str | None):
    """The impls package: a source folder's ``impls/`` when it has one (put first on sys.path), else the suite's.

    A checkout of this repository is such a folder (a project's own ``impls``
    package is not: it stays the project's, for its plug-in modules to import);
    its ``impls/`` is loaded as
    ``aiterbench.impls``, whatever its age (older checkouts name their modules
    ``impls.*``, which the folder on ``sys.path`` then resolves).
    """
    if side_path:
        sys.path.insert(0, side_path)
        folder = os.path.join(side_path, "impls")
        if is_suite_impls(folder):
            return import_package("aiterbench.impls", folder)
    if "aiterbench.impls" in FOLDERS:
        return import_package("aiterbench.impls", FOLDERS["aiterbench.impls"])
    return importlib.import_module("aiterbench.impls")
