"""Reports: golden summary.md and data.csv from fixed result files; bad input; the page in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from bench import main

from .test_cli import assert_one_error_line

pytest.importorskip("matplotlib")

DATA = Path(__file__).resolve().parent / "data"
RESULTS = sorted(str(p) for p in DATA.glob("results-*.json"))
GOLDEN = DATA / "golden"
UPDATE = os.environ.get("AITERBENCH_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", *RESULTS, "-o", str(out)]) == 0
    return out


def test_fixtures_cover_two_pythons():
    assert len(RESULTS) >= 2


@pytest.mark.parametrize("name", ["summary.md", "data.csv"])
def test_golden_files(report, name):
    got = (report / name).read_text()
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / name).write_text(got)
    assert got == (GOLDEN / name).read_text(), f"{name} changed: rerun with AITERBENCH_UPDATE_GOLDEN=1 if intended"


def test_every_chart_has_an_svg_and_a_png_and_is_inlined(report):
    page = (report / "index.html").read_text()
    svgs = sorted(report.glob("*.svg"))
    assert {p.stem for p in svgs} == {p.stem for p in report.glob("*.png")}
    assert len(svgs) >= 5
    for svg in svgs:
        assert f'id="{svg.stem}"' in page
    assert page.count("<svg") == len(svgs)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing to fetch
    assert "<script" not in page and "@import" not in page
    assert os.path.getsize(report / "index.html") < 2_000_000


def test_findings_come_from_the_data(report):
    summary = (report / "summary.md").read_text()
    assert "an async generator takes" in summary and "x [" in summary
    assert "largest speed-up over asyncio" in summary and "Per-item cost changes with n" in summary
    assert "Across Python versions" in summary


def test_csv_is_tidy(report):
    import csv

    with (report / "data.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows
    keys = {(r["python"], r["impl"], r["workload"], r["loop"], r["n"]) for r in rows}
    assert len(keys) == len(rows)  # one row per cell and size
    for r in rows:
        assert float(r["ci_low"]) <= float(r["ns_per_item"]) <= float(r["ci_high"])


def test_no_files_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report"])
    assert exc.value.code == 2
    assert "RESULTS" in capsys.readouterr().err


@pytest.mark.parametrize("content, needle", [
    ("not json at all", "not a pyperf result file"),
    (json.dumps({"hello": "world"}), "not a pyperf result file"),
], ids=["garbage", "foreign-json"])
def test_unusable_files_are_one_line_errors(tmp_path, capsys, content, needle):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["report", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, needle)
    assert not (tmp_path / "out").exists()


def test_unreadable_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.json"), "-o", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, "no such file")


def test_no_common_cells_gives_explicit_no_data_panels(tmp_path):
    """Only asyncgen on one loop: no class_anext to divide by, no second loop to compare."""
    import pyperf

    suite = pyperf.BenchmarkSuite.load(RESULTS[0])
    keep = [b for b in suite.get_benchmarks() if b.get_name().startswith("asyncgen/none/asyncio@")]
    lonely = tmp_path / "lonely.json"
    pyperf.BenchmarkSuite(keep).dump(str(lonely))
    out = tmp_path / "out"
    assert main(["report", str(lonely), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert page.count('class="nodata"') == 2
    assert "no cell has a class_anext counterpart" in page
    assert "needs asyncio and another loop" in page
    assert not (out / "ratio_heatmap.svg").exists()


def test_a_new_report_removes_only_the_charts_its_predecessor_wrote(tmp_path):
    out = tmp_path / "out"
    assert main(["report", *RESULTS, "-o", str(out)]) == 0
    assert (out / "per_item_py3_12.svg").exists()
    (out / "notes.svg").write_text("<svg/>")  # the user's own file
    assert main(["report", RESULTS[0], "-o", str(out)]) == 0
    assert not (out / "per_item_py3_12.svg").exists() and not (out / "per_item_py3_12.png").exists()
    assert (out / "per_item_py3_11.svg").exists() and (out / "notes.svg").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_renders_in_headless_chromium(report, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must check the page in a real browser: .ci/run installs Debian's chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium; .ci/run does it)")
    from playwright import sync_api as playwright
    errors, shot = [], tmp_path / "report.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"network request: {r.url}") if not r.url.startswith(("file:", "data:")) else None)
        page.goto((report / "index.html").as_uri())
        page.wait_for_load_state("load")
        sizes = page.eval_on_selector_all(
            "figure.chart svg", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
    assert len(sizes) == len(list(report.glob("*.svg")))
    assert all(w > 100 and h > 100 for w, h in sizes), sizes
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("AITERBENCH_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
