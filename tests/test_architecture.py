"""The layout holds: imports point one way (import-linter's contracts in pyproject.toml), no cycles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Repository folder -> where it sits in the installed package (pyproject's package-dir).
LAYOUT = {"bench": "aiterbench", "impls": "aiterbench/impls", "reports": "aiterbench/reports"}


def _installed_tree(dest: Path) -> Path:
    """The package laid out as a wheel installs it: import-linter walks folders, not an editable install's map."""
    for folder, target in LAYOUT.items():
        for path in (ROOT / folder).rglob("*.py"):
            out = dest / target / path.relative_to(ROOT / folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports with pyproject's contracts on the package laid out in ``tree``."""
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)})


def test_the_import_contracts_hold(tmp_path):
    proc = _lint(_installed_tree(tmp_path / "site"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout and "KEPT" in proc.stdout


def test_a_cycle_inside_one_layer_breaks_a_contract_even_through_an_import_inside_a_function(tmp_path):
    """The layers contract cannot see two modules of one subpackage importing each other; the acyclic one must,
    lazy imports included (the worker and its memory and profile halves were such a cycle)."""
    tree = _installed_tree(tmp_path / "site")
    measure = tree / "aiterbench" / "measure"
    (measure / "planted_a.py").write_text("from . import planted_b\n")
    (measure / "planted_b.py").write_text("def later():\n    from . import planted_a\n")
    proc = _lint(tree)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "No cycles between the modules of a package BROKEN" in proc.stdout, proc.stdout
    report = proc.stdout.split("No cycles are allowed in aiterbench.measure.", 1)
    assert len(report) == 2, proc.stdout
    assert "planted_a" in report[1].split("No cycles are allowed in", 1)[0], proc.stdout


def test_the_package_imports_no_bench_impls_or_reports_of_the_caller():
    """Nothing in the package names the repository's folders as top-level imports (a user's project has them)."""
    import ast

    for folder in LAYOUT:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] not in LAYOUT, f"{path.relative_to(ROOT)}: imports {name}"
