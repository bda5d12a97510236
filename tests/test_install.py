"""Installed as a user installs it (a wheel, not editable) into a project with its own bench, impls and reports.

The editable install this repository's tests run on hides what a wheel
claims: here the wheel is built, installed into a fresh virtual environment,
and used from a scratch project outside the repository whose own top-level
packages are named like the repository's folders.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

USER_PACKAGES = {
    "bench/__init__.py": "WHOSE = 'the user'\n",
    "bench/pytest_plugin.py": "raise ImportError('the user\\'s own bench.pytest_plugin must never be imported')\n",
    "impls/__init__.py": "WHOSE = 'the user'\n",
    "reports/__init__.py": "WHOSE = 'the user'\n",
}

USER_TEST = '''
    import bench
    import impls
    import reports


    async def rows(n):
        for i in range(n):
            yield i


    def test_my_packages_are_mine():
        assert bench.WHOSE == impls.WHOSE == reports.WHOSE == "the user"


    def test_rows_per_item(aiter_benchmark):
        info = aiter_benchmark(rows, sizes=(50, 500), rounds=5)
        assert info["aiterbench_seconds_per_item"] > 0
'''


def _clean_env(venv: Path) -> dict:
    """A user's shell: none of this session's Python or pytest settings (bytecode is written, as by default)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
           and not k.startswith("PYTEST_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CI"] = "true"
    return env


def _run(cmd, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment with the wheel installed normally, as a user installs it, with the extras the
    README's examples need (and pytest-asyncio for its async test)."""
    if sys.platform == "win32":
        pytest.skip("the venv layout below is POSIX")
    tmp_path = tmp_path_factory.mktemp("installed")
    # pip does not compile what it installs (PIP_COMPILE=0, pip's --no-compile): the user's commands below write
    # the bytecode of what they import, a few hundred modules, not all ~2,000 of matplotlib, numpy and the rest
    # (~5 s of CPU). Nothing of aiterbench's depends on when a .pyc is written.
    build_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"PIP_COMPILE": "0"}
    # The wheel, from a copy of the sources (a build writes build/ and *.egg-info/ next to them).
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", ".tox", "build", "dist", "*.egg-info",
                                                                 "__pycache__", "results", "report", ".hypothesis"))
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
                          capture_output=True, text=True, timeout=600, env=build_env)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("aiterbench-*.whl")
    venv = tmp_path / "venv"
    # Without a pip of its own (ensurepip unpacks and compiles one, ~4 s of CPU): this pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           f"{wheel}[pytest,report,http]", "pytest-asyncio"],
                          capture_output=True, text=True, timeout=600, env=build_env)
    assert proc.returncode == 0, proc.stderr
    return venv


def test_a_wheel_installed_into_a_project_with_bench_impls_and_reports_packages(tmp_path, installed):
    venv, python = installed, installed / "bin" / "python"
    project = tmp_path / "project"
    for name, text in USER_PACKAGES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / "tests").mkdir()
    (project / "tests" / "test_mine.py").write_text(textwrap.dedent(USER_TEST))
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    env = _clean_env(venv)

    # The user's test session starts, finds the fixture, and times with pytest-benchmark enabled.
    proc = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-json", "bench.json"], project, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    (record,) = json.loads((project / "bench.json").read_text())["benchmarks"]
    assert record["name"] == "test_rows_per_item" and record["extra_info"]["aiterbench_items"] == 500

    # The commands run from inside the project, its own packages first on sys.path.
    env_here = dict(env, PYTHONPATH=str(project))
    proc = _run([venv / "bin" / "aiterbench", "run", "-i", "asyncgen", "-w", "none", "-l", "asyncio",
                 "--rounds", "2", "--values", "1", "--min-time", "0.002", "--sizes", "8,64", "-o", "r.json"],
                project, env_here)
    assert proc.returncode == 0, proc.stderr
    assert "asyncgen/none/asyncio" in proc.stdout and (project / "r.json").exists()
    proc = _run([python, "-m", "aiterbench", "report", "r.json", "-o", "report"], project, env_here)
    assert proc.returncode == 0, proc.stderr
    assert (project / "report" / "index.html").exists()
    proc = _run([python, "-c", "import aiterbench, aiterbench.impls, bench; print(aiterbench.impls.names(), bench.WHOSE)"],
                project, env_here)
    assert proc.returncode == 0 and "the user" in proc.stdout and "asyncgen" in proc.stdout


README = (ROOT / "README.md").read_text()
README_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
README_LINES = [ln for block in re.findall(r"```sh\n(.*?)```", README, re.S) for ln in block.splitlines()]


def test_the_readme_s_fixture_examples_run_in_a_project_with_the_wheel_installed(tmp_path, installed):
    """Every fixture example of the README, as written, in a project outside the repository: benchmarks
    enabled, the JSON read back."""
    blocks = [b for b in README_BLOCKS if "aiter_benchmark" in b or "async_benchmark" in b]
    assert len(blocks) == 4  # plain, async factory, pytest-asyncio, async_benchmark: a new one is counted here
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    for i, block in enumerate(blocks):
        (project / "tests" / f"test_readme_{i}.py").write_text(block)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = 'function'\n")
    proc = _run([installed / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-json",
                 "bench.json", "--benchmark-max-time", "0.05"], project, _clean_env(installed))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = {r["name"]: r for r in json.loads((project / "bench.json").read_text())["benchmarks"]}
    assert set(records) == {"test_numbers_per_item", "test_rows_per_item", "test_numbers_in_my_loop", "test_fetch",
                            "test_fetch_in_my_loop"}
    for name in ("test_numbers_per_item", "test_rows_per_item", "test_numbers_in_my_loop"):
        assert records[name]["extra_info"]["aiterbench_items"] == 1000 and records[name]["stats"]["rounds"] == 10
    for name in ("test_fetch", "test_fetch_in_my_loop"):
        assert records[name]["extra_info"]["aiterbench_calls_per_round"] >= 1
        assert records[name]["extra_info"]["aiterbench_loop"] == "asyncio"


def test_the_readme_s_plug_in_source_runs_with_the_wheel_installed(tmp_path, installed):
    block = next(b for b in README_BLOCKS if "WORKLOADS = {" in b)
    project = tmp_path / "project"
    project.mkdir()
    (project / "my_source.py").write_text(block)
    (line,) = [ln for ln in README_LINES if "--impl-module my_source.py" in ln]
    argv = shlex.split(line)
    assert argv[:2] == [".venv/bin/aiterbench", "run"] and "--quick" in argv
    argv = [a for a in argv[1:] if a != "--quick"] + ["--rounds", "6", "--values", "1", "--min-time", "0.002",
                                                      "--sizes", "8,64", "-l", "asyncio", "-o", "r.json"]
    proc = _run([installed / "bin" / "aiterbench", *argv], project, _clean_env(installed))
    assert proc.returncode == 0, proc.stderr
    assert "rows_gen/rows/asyncio" in proc.stdout and "rows_class/rows/asyncio" in proc.stdout
    proc = _run([installed / "bin" / "aiterbench", "list", "--impl-module", "my_source.py"], project,
                _clean_env(installed))
    assert any(ln.split()[:2] == ["rows", "module=aiterbench_plugin_my_source"] for ln in proc.stdout.splitlines())
