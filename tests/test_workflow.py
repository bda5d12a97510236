"""docs/ci.md's workflow, run as the runner would: every ``run:`` step of every job, as written, in order.

The workspace is laid out as GitHub Actions lays it out (two checkouts for the
``ab`` job, one for the others), ``$GITHUB_STEP_SUMMARY`` points at a file,
``${{ ... }}`` expressions are filled in, ``actions/upload-artifact`` and
``download-artifact`` are emulated by copying, and ``setup-python`` by putting
this interpreter first on ``PATH``. Where the docs allow a budget, a tiny one is
appended to the measuring command (and a selection of two cells to ``ab``'s); a step that installs system packages with
``sudo`` is checked to name what is already installed here instead of run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.skipif(shutil.which("valgrind") is None, reason="the ab job counts under valgrind")]
#: The version string the pull request's harness says: a harness that says it judged the pull request.
PR_VERSION = "0.0.0+pull-request"
TINY_RUN = ["--rounds", "2", "--values", "1", "--min-time", "0.002", "--sizes", "8,64", "-i", "sync_iter,asyncgen",
            "-w", "none"]

TINY_AB = ["-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "--sizes", "100,300"]


def _workflow() -> dict:
    import yaml

    (block,) = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.S)
    return yaml.safe_load(block)


def _checkout(dst: Path) -> None:
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".venv", ".git", ".tox", "results", "build", "dist",
                                                              "*.egg-info", "__pycache__", ".pytest_cache"))


def _fill(text: str, values: dict) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: str(values[m.group(1)]), text)


def _run_steps(job: dict, workspace: Path, values: dict, summary: Path, artifacts: Path, steps=None) -> list:
    """Run ``steps`` (default: all of the job's) in order; (name, exit code, stderr's end) for each run step."""
    python_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=python_bin + os.pathsep + env.get("PATH", ""), GITHUB_STEP_SUMMARY=str(summary), CI="true")
    # pip does not compile what it installs (--no-compile): the jobs' commands write the bytecode of what they
    # import, not of all of matplotlib and numpy (~5 s of CPU for the report job's install alone).
    env["PIP_COMPILE"] = "0"
    codes = []
    for step in job["steps"] if steps is None else steps:
        uses = step.get("uses", "")
        if uses.startswith("actions/upload-artifact@"):
            name = _fill(step["with"]["name"], values)
            shutil.copytree(workspace / step["with"]["path"], artifacts / name, dirs_exist_ok=True)
            continue
        if uses.startswith("actions/download-artifact@"):
            dst = workspace / step["with"]["path"]
            dst.mkdir(parents=True, exist_ok=True)
            for folder in artifacts.glob(step["with"]["pattern"]):
                shutil.copytree(folder, dst, dirs_exist_ok=True)
            continue
        if "run" not in step:
            continue  # checkout and setup-python: laid out by the test
        script = _fill(step["run"], values)
        if script.lstrip().startswith("sudo apt-get"):
            assert all(shutil.which(tool) for tool in re.findall(r"install -y -qq (\S+)", script)), script
            continue
        if ".venv/bin/aiterbench run " in script:
            script = script.rstrip() + " " + " ".join(TINY_RUN)
        # The ab job's counts: two cells at small sizes (the last -i, -w, -l given wins), before any redirection.
        script = re.sub(r"(\.venv/bin/aiterbench ab [^>\n]*?)(\s*(?:>|$))", lambda m: m.group(1) + " " + " ".join(TINY_AB)
                        + m.group(2), script, flags=re.M)
        assert "aiterbench ab " not in script or " ".join(TINY_AB) in script, script
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=600)
        codes.append((step.get("name") or script.splitlines()[0], proc.returncode, proc.stderr[-2000:]))
    return codes


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    import concurrent.futures

    root = tmp_path_factory.mktemp("runner")
    workflow, artifacts = _workflow(), root / "artifacts"
    artifacts.mkdir()

    def ab_job():
        # The pull request in new/, the base branch in base/. The pull request also touches the harness (its
        # version string stands for the timed region or the verdict code): which harness judged it shows.
        ab = root / "ab"
        _checkout(ab / "new")
        _checkout(ab / "base")
        version = ab / "new" / "bench" / "_version.py"
        version.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{PR_VERSION}"', version.read_text()))
        return (_run_steps(workflow["jobs"]["ab"], ab, {"github.base_ref": "main"}, root / "ab-summary.md",
                           artifacts), ab, root / "ab-summary.md")

    def measure():
        # One cell of the matrix (this Python on this runner).
        measure = root / "measure"
        _checkout(measure)
        values = {"matrix.python": f"{sys.version_info[0]}.{sys.version_info[1]}", "matrix.runner": "ubuntu-latest"}
        return _run_steps(workflow["jobs"]["measure"], measure, values, root / "m-summary.md", artifacts), measure, None

    report, steps = root / "report", workflow["jobs"]["report"]["steps"]
    first_download = next((i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/download-artifact@")),
                          None)
    assert first_download is not None, "docs/ci.md: the report job no longer downloads the matrix's files"

    def report_until_download():
        # The report job's steps before it downloads the matrix's files (its venv and install) read nothing the
        # matrix writes: here they run beside it, and the rest, in order, once it has uploaded its files.
        _checkout(report)
        return _run_steps(workflow["jobs"]["report"], report, {}, root / "r-summary.md", artifacts,
                          steps[:first_download])

    # As on GitHub, the ab job runs beside the matrix and the report (they share no files): most of each is
    # pip installing into a new venv, the report job's install too.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        ab, measured, before = pool.submit(ab_job), pool.submit(measure), pool.submit(report_until_download)
        out = {"measure": measured.result()}
        codes = before.result() + _run_steps(workflow["jobs"]["report"], report, {}, root / "r-summary.md", artifacts,
                                             steps[first_download:])
        out["report"] = (codes, report, root / "r-summary.md")
        out["ab"] = ab.result()
    return out, artifacts


def test_the_ab_job_counts_both_checkouts_and_writes_its_summary(ran):
    (codes, workspace, summary), artifacts = ran[0]["ab"], ran[1]
    assert [c for c in codes if c[1] != 0] == [], codes  # the same code on both sides: no regression
    text = summary.read_text()
    assert text.startswith("### aiterbench: no regression") and "instruction counts (exact)" in text
    assert (workspace / "results" / "ab-base.json").exists() and (artifacts / "ab-results" / "ab-new.json").exists()


def test_the_matrix_and_report_jobs_hand_their_files_on(ran):
    (m_codes, measure, _), (r_codes, report, summary) = ran[0]["measure"], ran[0]["report"]
    assert [c for c in m_codes + r_codes if c[1] != 0] == [], m_codes + r_codes
    assert list((measure / "results").glob("aiterbench-*-ubuntu-latest.json"))
    assert (report / "report" / "index.html").exists() and "## " in summary.read_text()


def test_the_ab_job_judges_with_the_base_branch_s_harness_installed_not_editable(ran):
    """A pull request must not bring the timed region or the verdict code that judge it: its harness never runs."""
    (codes, workspace, _), _ = ran[0]["ab"], ran[1]
    assert [c for c in codes if c[1] != 0] == [], codes
    proc = subprocess.run([str(workspace / ".venv" / "bin" / "python"), "-c",
                           "import aiterbench; print(aiterbench.__version__); print(aiterbench.__file__)"],
                          capture_output=True, text=True, timeout=60, cwd=workspace)
    version, where = proc.stdout.split()
    assert version != PR_VERSION and "site-packages" in where  # a copy of base/, not a link into a checkout
    assert not Path(where).resolve().is_relative_to((workspace / "new").resolve())
    for side in ("base", "new"):  # the harness that wrote both sides' files, and so measured them
        data = json.loads((workspace / "results" / f"ab-{side}.json").read_text())
        assert data["metadata"]["aiterbench_version"] != PR_VERSION


def test_the_ab_job_installs_nothing_from_the_pull_request():
    steps = " ".join(str(s.get("run", "")) for s in _workflow()["jobs"]["ab"]["steps"])
    assert "pip install -q './base[uvloop]'" in steps and "./new" not in steps and " -e " not in steps


@pytest.mark.parametrize("uvloop_installs", [True, False])
def test_the_matrix_installs_once_and_without_uvloop_only_where_it_does_not_install(tmp_path, uvloop_installs):
    """The install step as written, with a pip that records what it is asked (the real one runs in the jobs
    above): one install with uvloop; where uvloop does not install, a notice and the install without it."""
    (step,) = [s for s in _workflow()["jobs"]["measure"]["steps"] if "pip install" in s.get("run", "")]
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "pip").write_text('#!/bin/sh\necho "$*" >> asked\n' + ("" if uvloop_installs else
                              'case "$*" in *uvloop*) exit 1;; esac\n'))
    (bin_ / "pip").chmod(0o755)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\nexit 0\n")  # `python -m venv .venv`: the venv above stands for it
    (fake / "python").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    asked = (tmp_path / "asked").read_text().splitlines()
    if uvloop_installs:
        assert asked == ["install -q -e .[uvloop]"] and "::notice::" not in proc.stdout
    else:
        assert asked == ["install -q -e .[uvloop]", "install -q -e ."]
        assert "::notice::uvloop does not install on this Python" in proc.stdout


def test_the_report_job_runs_when_a_matrix_leg_failed():
    report = _workflow()["jobs"]["report"]
    assert report["needs"] == "measure" and re.fullmatch(r"\$\{\{\s*!cancelled\(\)\s*\}\}", report["if"])


def test_3_15_is_a_release_in_the_matrix():
    """3.15.0 was due in October 2026 (PEP 790): no leg of the matrix asks for a pre-release."""
    measure = _workflow()["jobs"]["measure"]
    assert "3.15" in measure["strategy"]["matrix"]["python"]
    setup = [s for s in measure["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup and all("allow-prereleases" not in s.get("with", {}) for s in setup)
