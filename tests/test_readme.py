"""The README's examples run as written; CI runs the README's own test line."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from aiterbench import impls
from aiterbench.measure.check import check_equivalence

from .conftest import AVAILABLE_LOOPS, on_loop
from .test_cli import ROOT, TINY, assert_one_error_line, cli

README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SH_LINES = [line for block in re.findall(r"```sh\n(.*?)```", README, re.S) for line in block.splitlines()]


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_tutorial_pair_runs_and_agrees():
    assert "class AsyncIterator" in PYTHON_BLOCKS[0] and "async def async_generator" in PYTHON_BLOCKS[0]
    assert run_python(PYTHON_BLOCKS[0]) == "[0, 1, 2]\n[0, 1, 2]\n"


def test_the_python_api_example_runs():
    block = next(b for b in PYTHON_BLOCKS if "impls.open" in b)
    out = run_python(block).splitlines()
    assert out[0] == "[0, 1, 2]"


@pytest.fixture
def plugin(tmp_path) -> Path:
    block = next(b for b in PYTHON_BLOCKS if "IMPLS = {" in b)
    path = tmp_path / "my_impls.py"
    path.write_text(block)
    return path


@pytest.mark.parametrize("loop", AVAILABLE_LOOPS)
def test_the_plugin_example_is_equivalent_on_every_loop(plugin, loop):
    reg = impls.registry().extended([str(plugin)])
    for impl in ("my_list_iter", "my_queue_gen"):
        for workload in reg.get(impl).workloads:
            on_loop(loop, check_equivalence, reg, impl, workload, [16, 256])


def test_the_plugin_command_runs(plugin):
    (line,) = [ln for ln in SH_LINES if "--impl-module my_impls.py" in ln]
    argv = shlex.split(line)
    assert argv[:2] == [".venv/bin/aiterbench", "run"]
    argv = [a for a in argv[1:] if a != "--quick"] + TINY + ["-l", "asyncio", "-o", "out.json"]
    proc = cli(*argv, cwd=plugin.parent)
    assert proc.returncode == 0, proc.stderr
    assert "my_list_iter/sleep0/asyncio" in proc.stdout and "my_queue_gen/queue/asyncio" in proc.stdout


def test_ci_runs_the_readmes_test_line():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in SH_LINES
    assert "pytest" in ci


def _aiterbench_lines(lines):
    """The argv after each ``.venv/bin/aiterbench``, up to a shell operator; workflow expressions become X."""
    out = []
    for line in lines:
        if ".venv/bin/aiterbench" not in line:
            continue
        argv = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "X", line.split(".venv/bin/aiterbench", 1)[1]))
        for op in ("&&", ">", "|", ";"):
            if op in argv:
                argv = argv[: argv.index(op)]
        out.append(argv)
    return out


def test_every_command_line_in_the_readme_and_docs_parses():
    """Each documented aiterbench line names a command and options that exist (argparse would exit 2)."""
    from aiterbench.cli import build_parser

    docs = (ROOT / "docs" / "ci.md").read_text()
    doc_lines = [ln.strip() for ln in docs.splitlines() if ".venv/bin/aiterbench" in ln]
    argvs = _aiterbench_lines(SH_LINES) + _aiterbench_lines(doc_lines)
    assert {a[0] for a in argvs} >= {"run", "report", "compare", "ab", "calibrate", "count"}
    for argv in argvs:
        build_parser().parse_args(argv)


def test_the_ab_example_runs_on_the_planted_regression(tmp_path):
    (line,) = [ln for ln in SH_LINES if "aiterbench ab " in ln]
    argv = shlex.split(line)[1:]
    assert "--quick" in argv and "tests/planted/plus10" in argv
    from .test_ab import TINY_AB

    proc = cli(*argv, *TINY_AB, "-o", str(tmp_path / "readme"), cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr  # the verdict is the machine's
    assert "planted/none/asyncio" in proc.stdout and "NEW/BASE" in proc.stdout


def test_the_workflow_in_docs_is_valid_yaml_with_the_three_jobs():
    import yaml
    text = (ROOT / "docs" / "ci.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    workflow = yaml.safe_load(block)
    assert set(workflow["jobs"]) == {"ab", "measure", "report"}
    assert workflow["jobs"]["report"]["needs"] == "measure"
    steps = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["ab"]["steps"])
    assert "GITHUB_STEP_SUMMARY" in steps and "exit $status" in steps


def _workflow_file(tmp_path) -> Path:
    """docs/ci.md's workflow, saved where a repository keeps it."""
    (block,) = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.S)
    path = tmp_path / ".github" / "workflows" / "aiterbench.yml"
    path.parent.mkdir(parents=True)
    path.write_text(block)
    return path


def _tool(name: str) -> str:
    import shutil

    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if found is None:
        pytest.skip(f"needs {name} (the test extra installs it)")
    return found


def test_the_workflow_in_docs_is_valid_against_the_github_workflow_schema(tmp_path):
    proc = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(_workflow_file(tmp_path))], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_in_docs_is_safe_to_copy(tmp_path):
    """zizmor's offline audit: pinned actions, least-privilege token, no persisted credentials; nothing at medium+."""
    proc = subprocess.run([_tool("zizmor"), "--offline", "--min-severity", "medium", str(_workflow_file(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_covers_the_pythons_teams_run_and_counts_on_pull_requests():
    import yaml

    (block,) = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.S)
    workflow = yaml.safe_load(block)
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["measure"]["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13", "3.14",
                                                                          "3.15"]
    steps = workflow["jobs"]["ab"]["steps"]
    assert any("apt-get install" in str(s.get("run", "")) and "valgrind" in str(s.get("run", "")) for s in steps)
    assert any("aiterbench ab --count" in str(s.get("run", "")) for s in steps)


def test_the_readme_s_generated_blocks_are_what_docs_results_give():
    """'What it found' and the explain walk-through are generated from docs/results: regenerated, they match."""
    pytest.importorskip("matplotlib")
    from aiterbench.reports import readme_blocks
    from aiterbench.reports._readme import BLOCKS, block_of

    text = (ROOT / "README.md").read_text()
    generated = readme_blocks([str(ROOT / "docs" / "results")])
    for name in BLOCKS:
        assert block_of(text, name) is not None, f"README has no {name} block"
        assert generated[name], f"docs/results gives no {name} block"
        assert block_of(text, name) == generated[name], (
            f"README's {name} block differs from docs/results: run "
            "aiterbench report docs/results -o report --readme README.md")
    # What the front page must say: counts on every Python 3.10 to 3.13, timing with intervals, http, the why.
    results = generated["results"]
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"| {version} | none | asyncio |" in results
    assert "Time per item on one machine" in results and "Over HTTP" in results and "`__tls_get_addr`" in results
    # The answer itself, as the counts give it: the generator is cheaper on 3.10 and 3.11, the class from 3.12.
    assert "the async generator is cheaper on 3.10, 3.11 (" in results and "the class on 3.12, 3.13 (" in results


def test_the_headline_names_the_cheaper_form_or_how_close_they_are():
    """On synthetic counts: each workload's sentence says which form is cheaper on which Python, or how close."""
    from types import SimpleNamespace as NS

    from aiterbench.analysis import Cell
    from aiterbench.reports._readme import _headline

    def group(version, figures):
        cells = {Cell(impl, w, "asyncio"): NS(per_item=v) for (impl, w), v in figures.items()}
        return NS(environment=NS(python_version=version), workloads=sorted({w for _, w in figures}),
                  loops=["asyncio"], get=cells.get)

    data = NS(counts=[group("3.12.1", {("asyncgen", "none"): 120.0, ("class_anext", "none"): 100.0,
                                       ("asyncgen", "sleep0"): 1010.0, ("class_anext", "sleep0"): 1000.0}),
                      group("3.11.7", {("asyncgen", "none"): 60.0, ("class_anext", "none"): 100.0,
                                       ("asyncgen", "sleep0"): 980.0, ("class_anext", "sleep0"): 1000.0})])
    (line, blank) = _headline(data)
    assert blank == ""
    assert "on `none` (asyncio) the async generator is cheaper on 3.11 (0.60 of the class's instructions) " \
           "and the class on 3.12 (the async generator 1.20x)" in line
    assert "on `sleep0` (asyncio) the two forms are within 2% of each other on 3.11, 3.12" in line
    assert _headline(NS(counts=[])) == []


def test_report_readme_rewrites_only_its_blocks_and_refuses_a_readme_without_them(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from aiterbench import main
    from aiterbench.reports import readme_blocks
    from aiterbench.reports._readme import block_of

    readme = tmp_path / "README.md"
    # Two small result files (the README's own blocks, from docs/results, are held above), in this process: the
    # charts come from the session's drawings of the same data; a whole report drawn by the command's worker
    # pool is tests/test_install.py's and test_workflow.py's.
    files = [str(ROOT / "tests" / "data" / f"results-py31{m}.json") for m in (1, 2)]
    readme.write_text("# mine\n\nbefore\n<!-- aiterbench:results:start -->\nold\n<!-- aiterbench:results:end -->\nafter\n")
    assert main(["report", *files, "-o", str(tmp_path / "rep"), "--readme", str(readme)]) == 0, capsys.readouterr().err
    text = readme.read_text()
    assert block_of(text, "results") == readme_blocks(files)["results"]  # what report gives for these files
    assert text.startswith("# mine\n\nbefore\n<!-- aiterbench:results:start -->\n**")
    assert text.endswith("<!-- aiterbench:results:end -->\nafter\n") and "old" not in text
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    capsys.readouterr()
    assert main(["report", *files, "-o", str(tmp_path / "rep2"), "--readme", str(plain)]) == 2
    assert_one_error_line(capsys.readouterr().err, "markers")
    assert plain.read_text() == "no markers\n" and not (tmp_path / "rep2").exists()
