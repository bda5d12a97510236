"""compare: verdicts per cell from result files; exit 1 on a regression, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiterbench import main

from .test_cli import assert_one_error_line

DATA = Path(__file__).resolve().parent / "data"
PY311, PY312 = DATA / "results-py311.json", DATA / "results-py312.json"
CELL = "asyncgen/none/asyncio"


def scaled(src: Path, dst: Path, factor: float, cell: str = CELL) -> Path:
    """A copy of ``src`` in which one cell's every value is ``factor`` times larger (same rounds: pairs exactly)."""
    data = json.loads(src.read_text())
    for bench in data["benchmarks"]:
        name = bench.get("metadata", {}).get("name") or ""
        if name.startswith(cell + "@"):
            for run in bench["runs"]:
                if "values" in run:
                    run["values"] = [v * factor for v in run["values"]]
    dst.write_text(json.dumps(data))
    return dst


def run_compare(capsys, *argv):
    code = main(["compare", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_file_compared_with_itself_is_unchanged_everywhere(capsys):
    code, out, _ = run_compare(capsys, PY311, PY311, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["cells"] and all(c["verdict"] == "unchanged" for c in data["cells"])
    assert all(c["paired"] and c["ratio"]["value"] == 1.0 for c in data["cells"])
    assert data["environment_differences"] == [] and not data["regressed"]


def test_a_slower_cell_is_a_regression_and_exits_1(tmp_path, capsys):
    slow = scaled(PY311, tmp_path / "slow.json", 1.2)
    code, out, _ = run_compare(capsys, PY311, slow)
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith(CELL)]
    assert len(lines) == 1 and "regression" in lines[0] and "1.200" in lines[0] and "+20.0%" in lines[0]
    assert "1 regression" in out


def test_a_faster_cell_is_an_improvement_and_exits_0(tmp_path, capsys):
    fast = scaled(PY311, tmp_path / "fast.json", 0.8)
    code, out, _ = run_compare(capsys, PY311, fast, "--format", "json")
    assert code == 0
    verdicts = {c["cell"]: c["verdict"] for c in json.loads(out)["cells"]}
    assert verdicts[CELL] == "improvement"


def test_a_small_change_is_judged_against_the_threshold(tmp_path, capsys):
    slower = scaled(PY311, tmp_path / "slower.json", 1.03)
    code, out, _ = run_compare(capsys, PY311, slower, "--format", "json")
    assert code == 0 and {c["cell"]: c["verdict"] for c in json.loads(out)["cells"]}[CELL] == "unchanged"
    code, out, _ = run_compare(capsys, PY311, slower, "--threshold", "2%", "--format", "json")
    assert code == 1 and {c["cell"]: c["verdict"] for c in json.loads(out)["cells"]}[CELL] == "regression"


def test_markdown_puts_environment_differences_and_regressions_first(tmp_path, capsys):
    code, out, _ = run_compare(capsys, PY311, PY312, "--format", "md")
    assert out.startswith("### aiterbench: ")
    head, table = out.split("| cell |", 1)
    assert "Environments differ" in head and "`3.11.7` → `3.12.1`" in head
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    kinds = [next(k for k in ("regression", "inconclusive", "improvement", "unchanged") if k in row) for row in rows]
    order = {"regression": 0, "inconclusive": 1, "improvement": 2, "unchanged": 3}
    assert kinds == sorted(kinds, key=order.get)
    assert code == (1 if "regression" in kinds else 0)
    assert "unpaired" in out  # two separate runs


def test_cells_only_on_one_side_are_listed_not_compared(tmp_path, capsys):
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(PY311))
    keep = [b for b in suite.get_benchmarks() if not b.get_name().startswith("sync_iter/")]
    fewer = tmp_path / "fewer.json"
    pyperf.BenchmarkSuite(keep).dump(str(fewer))
    code, out, _ = run_compare(capsys, PY311, fewer)
    assert code == 0
    assert "only in BASE (not compared): sync_iter/none/asyncio, sync_iter/none/uvloop" in out
    assert not [line for line in out.splitlines() if line.startswith("sync_iter/")]


def test_folders_are_read_as_one_environment(tmp_path, capsys):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "a.json").write_bytes(PY311.read_bytes())
    code, out, _ = run_compare(capsys, folder, PY311)
    assert code == 0 and "unchanged" in out


def test_output_file_is_written_atomically(tmp_path, capsys):
    out_file = tmp_path / "verdicts.md"
    code, out, _ = run_compare(capsys, PY311, PY311, "--format", "md", "-o", out_file)
    assert code == 0 and out_file.read_text().startswith("### aiterbench: no regression")
    assert "wrote" in out and not list(tmp_path.glob("*.tmp"))


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "truncated.json").write_text(PY311.read_text()[:5000])
    (tmp_path / "foreign.json").write_text(json.dumps({"version": "1.0", "benchmarks": []}))
    (tmp_path / "garbage.json").write_text("not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "null.json").write_text("null")
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "empty").mkdir()
    return tmp_path


BAD = {
    "missing": (["missing.json", str(PY311)], ["no such file"]),
    "truncated": (["truncated.json", str(PY311)], ["truncated.json", "not a pyperf result file"]),
    "garbage": ([str(PY311), "garbage.json"], ["not a pyperf result file"]),
    "a JSON list": (["list.json", str(PY311)], ["list.json", "not a pyperf result file"]),
    "JSON null": (["null.json", str(PY311)], ["null.json", "not a pyperf result file"]),
    "damaged gzip": (["bad.json.gz", str(PY311)], ["bad.json.gz"]),
    "bare threshold": ([str(PY311), str(PY311), "--threshold", "0.5"], ["--threshold", "with its sign"]),
    "foreign json": (["foreign.json", str(PY311)], ["foreign.json"]),
    "empty folder": (["empty", str(PY311)], ["holds no .json or .json.gz result files"]),
    "bad threshold": ([str(PY311), str(PY311), "--threshold", "lots"], ["--threshold", "percentage"]),
    "zero threshold": ([str(PY311), str(PY311), "--threshold", "0%"], ["--threshold"]),
    "two environments on one side": (["{both}", str(PY311)], ["2 environments", "compare one environment per side"]),
}


@pytest.mark.parametrize("argv, needles", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(bad_files, monkeypatch, capsys, argv, needles):
    monkeypatch.chdir(bad_files)
    both = bad_files / "both"
    both.mkdir()
    (both / "a.json").write_bytes(PY311.read_bytes())
    (both / "b.json").write_bytes(PY312.read_bytes())
    before = sorted(p.name for p in bad_files.iterdir())
    code, out, err = run_compare(capsys, *[a.format(both=both) for a in argv], "-o", bad_files / "out.md")
    assert code == 2
    assert_one_error_line(err, *needles)
    assert sorted(p.name for p in bad_files.iterdir()) == before  # nothing written


def test_an_empty_result_is_bad_input(tmp_path, capsys):
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(PY311))
    calibration_only = []
    for bench in suite.get_benchmarks():
        runs = [r for r in bench.get_runs() if not r.values]
        if runs:
            calibration_only.append(pyperf.Benchmark(runs))
    empty = tmp_path / "empty.json"
    pyperf.BenchmarkSuite(calibration_only).dump(str(empty))
    code, _, err = run_compare(capsys, empty, PY311)
    assert code == 2
    assert_one_error_line(err, "holds no measured benchmarks")


def test_a_file_whose_runs_the_other_holds_is_refused_per_cell(tmp_path, capsys):
    """NEW = BASE plus a later run (as after --append): shared processes would be compared with themselves."""
    import pyperf

    later = _rewrite_run_ids(scaled(PY311, tmp_path / "slow.json", 1.5), tmp_path / "later.json")
    merged = pyperf.BenchmarkSuite.load(str(PY311))
    extra = pyperf.BenchmarkSuite.load(str(later))
    for bench in merged.get_benchmarks():
        bench.add_runs(extra.get_benchmark(bench.get_name()))
    both = tmp_path / "both.json"
    merged.dump(str(both))
    code, out, _ = run_compare(capsys, PY311, both)
    line = next(ln for ln in out.splitlines() if ln.startswith(CELL))
    assert "unchanged" not in line
    assert "share" in out and "worker processes" in out


def _rewrite_run_ids(src: Path, dst: Path) -> Path:
    data = json.loads(src.read_text())
    for bench in data["benchmarks"]:
        for run in bench["runs"]:
            md = run.get("metadata", {})
            if "aiterbench_run" in md:
                md["aiterbench_run"] = "a-later-run"
    dst.write_text(json.dumps(data))
    return dst


def _noisy(src: Path, dst: Path, cell: str = CELL) -> Path:
    """A copy in which one cell's processes are each a different factor off (±5 to 12%): its ratio is undecided."""
    factors = [1.12, 0.90, 1.05, 0.95, 1.10, 0.92]
    data = json.loads(src.read_text())
    for bench in data["benchmarks"]:
        if (bench.get("metadata", {}).get("name") or "").startswith(cell + "@"):
            k = 0
            for run in bench["runs"]:
                if "values" in run:
                    run["values"] = [v * factors[k % len(factors)] for v in run["values"]]
                    k += 1
    dst.write_text(json.dumps(data))
    return dst


def test_undecided_cells_are_counted_and_explained_in_every_format(tmp_path, capsys):
    noisy = _noisy(PY311, tmp_path / "noisy.json")
    code, out, _ = run_compare(capsys, PY311, noisy, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and {c["cell"]: c["verdict"] for c in doc["cells"]}[CELL] == "inconclusive"
    assert doc["undecided"].startswith("1 of ") and "wider than the 5.0% threshold" in doc["undecided"]
    assert "--count" in doc["undecided"]
    code, out, _ = run_compare(capsys, PY311, noisy, "--format", "md")
    first = out.splitlines()[0]
    assert first.startswith("### aiterbench: no regression found, 1 of ") and first.endswith("cells undecided")
    code, out, _ = run_compare(capsys, PY311, noisy)
    assert any(line.startswith("1 of ") and "undecided" in line for line in out.splitlines())


def test_fail_on_inconclusive_makes_an_undecided_cell_exit_1(tmp_path, capsys):
    noisy = _noisy(PY311, tmp_path / "noisy.json")
    assert run_compare(capsys, PY311, noisy)[0] == 0
    assert run_compare(capsys, PY311, noisy, "--fail-on", "inconclusive")[0] == 1
    assert run_compare(capsys, PY311, PY311, "--fail-on", "inconclusive")[0] == 0


AB_BASE, AB_NEW = DATA / "format-v3-ab-base.json", DATA / "format-v3-ab-new.json"


def _with_metadata(src: Path, dst: Path, **changes) -> Path:
    """A copy of an ab file with its metadata changed (None: removed), on the suite and on every run."""
    data = json.loads(src.read_text())
    blocks = [data.get("metadata", {})] + [run.setdefault("metadata", {}) for bench in data["benchmarks"]
                                           for run in bench["runs"]]
    for md in blocks:
        for key, value in changes.items():
            md.pop(key, None)
            if value is not None and md is blocks[0]:
                md[key] = value
    dst.write_text(json.dumps(data))
    return dst


def test_ab_files_say_their_design_and_the_job_s_number_of_cells(capsys):
    code, out, _ = run_compare(capsys, AB_BASE, AB_NEW, "--format", "json")
    doc = json.loads(out)
    assert (doc["sequential"], doc["family"]) == (3, 2)
    code, out, _ = run_compare(capsys, AB_BASE, AB_NEW)
    assert "all 2 cells of the job together" in out


def test_files_of_design_2_are_replayed_and_said_to_be_design_2(tmp_path, capsys):
    base = _with_metadata(AB_BASE, tmp_path / "b.json", aiterbench_sequential=2, aiterbench_family=None)
    new = _with_metadata(AB_NEW, tmp_path / "n.json", aiterbench_sequential=2, aiterbench_family=None)
    code, out, _ = run_compare(capsys, base, new, "--format", "json")
    doc = json.loads(out)
    assert (doc["sequential"], doc["family"]) == (2, None)
    assert all(c["verdict"] is not None and c["look"] is not None for c in doc["cells"])


@pytest.mark.parametrize("family", [None, 5])
def test_design_3_files_without_one_job_size_are_refused_per_cell_in_one_line(tmp_path, capsys, family):
    """Without the job's number of cells (or with two), the looks ab read cannot be replayed: no verdict."""
    new = _with_metadata(AB_NEW, tmp_path / "n.json", aiterbench_family=family)
    code, out, _ = run_compare(capsys, AB_BASE, new, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and all(c["verdict"] is None for c in doc["cells"])
    assert all("aiterbench_family" in c["problem"] and "\n" not in c["problem"] for c in doc["cells"])


def test_ab_between_rounds_judges_a_cell_among_the_job_s_cells_its_files_record():
    """settled takes the job's size; files that record another are not judged (ab and compare would differ)."""
    import pyperf

    from aiterbench.analysis.compare import judge_cell, settled
    from aiterbench.model.results import cells

    base, new = (cells(pyperf.BenchmarkSuite.load(str(p))) for p in (AB_BASE, AB_NEW))
    live = sorted(set(base) & set(new))
    for cell in live:
        assert judge_cell(base[cell], new[cell], 0.05, final=False, family=2).problem in (None, "undecided")
        assert "judged as one of 16" in judge_cell(base[cell], new[cell], 0.05, final=False, family=16).problem
    assert settled(base, new, 0.05, live, 16) == []
    with pytest.raises(TypeError):
        settled(base, new, 0.05, live)  # the job's size is not optional


def test_a_pair_whose_slope_is_not_positive_is_dropped_and_the_verdict_says_so(tmp_path, capsys):
    """A process whose smallest size took longer than its larger ones (sizes too small for the noise) has a
    per-item slope <= 0 and no log ratio: its pair is left out, and the processes column and the JSON say how
    many were."""
    data = json.loads(scaled(PY311, tmp_path / "slower.json", 1.01).read_text())  # its own processes, not PY311's
    smallest = min((b for b in data["benchmarks"] if b["metadata"]["name"].startswith(CELL + "@")),
                   key=lambda b: int(b["metadata"]["name"].rpartition("=")[2]))
    measured = next(r for r in smallest["runs"] if "values" in r)
    measured["values"] = [v * 1e4 for v in measured["values"]]
    (tmp_path / "edited.json").write_text(json.dumps(data))
    code, out, _ = run_compare(capsys, PY311, tmp_path / "edited.json", "--format", "json")
    cells = {c["cell"]: c for c in json.loads(out)["cells"]}
    one = cells[CELL]
    assert one["pairs_dropped"] == 1 and one["pairs"] == one["base_processes"] - 1 == one["new_processes"]
    assert all(c["pairs_dropped"] == 0 for name, c in cells.items() if name != CELL)
    _, text, _ = run_compare(capsys, PY311, tmp_path / "edited.json")
    (line,) = [ln for ln in text.splitlines() if ln.startswith(CELL)]
    assert f"{one['pairs']} pairs" in line and "1 dropped (a slope <= 0)" in line
