"""Reports: golden summary.md and data.csv from fixed result files; bad input; the page in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from aiterbench import main

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
    assert main(["report"]) == 2
    assert_one_error_line(capsys.readouterr().err, "RESULTS", "--history")


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
    (out / "notes.svg").write_text("<svg/>")  # the user's own file: writing beside it takes --force
    assert main(["report", RESULTS[0], "-o", str(out), "--force"]) == 0
    assert not (out / "per_item_py3_12.svg").exists() and not (out / "per_item_py3_12.png").exists()
    assert (out / "per_item_py3_11.svg").exists() and (out / "notes.svg").exists()


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("where", ["folder", "cwd"], ids=["-o docs", "-o ."])
def test_a_folder_that_holds_other_files_is_refused_in_one_line_and_left_alone(tmp_path, monkeypatch, capsys, where):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ci.md").write_text("the team's own page\n")
    if where == "cwd":
        monkeypatch.chdir(docs)
    target = "." if where == "cwd" else str(docs)
    assert main(["report", RESULTS[0], "-o", target]) == 2
    assert_one_error_line(capsys.readouterr().err, f"-o {target}", "ci.md", "--force")
    assert [p.name for p in docs.iterdir()] == ["ci.md"] and (docs / "ci.md").read_text() == "the team's own page\n"


def test_an_earlier_report_is_replaced_without_force(tmp_path):
    out = tmp_path / "report"
    assert main(["report", RESULTS[0], "-o", str(out)]) == 0
    before = _snapshot(out)
    assert main(["report", *RESULTS, "-o", str(out)]) == 0  # two Pythons now: the page and summary change
    after = _snapshot(out)
    assert after["summary.md"] != before["summary.md"] and "per_item_py3_12.svg" in after


def test_force_writes_beside_other_files_and_never_touches_them(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ci.md").write_text("the team's own page\n")
    assert main(["report", RESULTS[0], "-o", str(docs), "--force"]) == 0
    assert (docs / "index.html").exists() and (docs / "ci.md").read_text() == "the team's own page\n"
    assert main(["report", *RESULTS, "-o", str(docs)]) == 2  # still not a report's folder alone
    assert_one_error_line(capsys.readouterr().err, "ci.md", "--force")
    assert main(["report", *RESULTS, "-o", str(docs), "--force"]) == 0
    assert (docs / "ci.md").read_text() == "the team's own page\n"


def test_a_file_named_as_the_output_folder_is_one_line(tmp_path, capsys):
    taken = tmp_path / "report"
    taken.write_text("not a folder\n")
    for force in ([], ["--force"]):
        assert main(["report", RESULTS[0], "-o", str(taken), *force]) == 2
        assert_one_error_line(capsys.readouterr().err, "is a file")
    assert taken.read_text() == "not a folder\n"


def test_a_report_that_fails_while_writing_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    import aiterbench.reports._writers as writers

    out = tmp_path / "out"
    assert main(["report", RESULTS[0], "-o", str(out)]) == 0
    before = _snapshot(out)
    real, calls = writers.write_atomic, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 6:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(writers, "write_atomic", full_disk)
    assert main(["report", *RESULTS, "-o", str(out)]) == 2
    assert_one_error_line(capsys.readouterr().err, "No space left")
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted(before)
    fresh = tmp_path / "fresh"
    calls.clear()
    assert main(["report", *RESULTS, "-o", str(fresh)]) == 2
    assert not fresh.exists()  # a folder it made for the report is not left behind half-full


def test_ctrl_c_while_the_files_move_in_is_held_until_all_have(tmp_path, monkeypatch):
    import signal

    out = tmp_path / "out"
    assert main(["report", RESULTS[0], "-o", str(out)]) == 0
    real, moved = os.replace, []

    def replace(src, dst):
        if os.path.dirname(dst) == str(out):  # moving in, not writing into the staging folder
            if not moved:
                os.kill(os.getpid(), signal.SIGINT)
            moved.append(dst)
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        from aiterbench import reports

        reports.build(RESULTS, str(out))
    monkeypatch.undo()
    assert (out / "per_item_py3_12.svg").exists()  # the new report, whole
    assert json.loads((out / ".aiterbench-report.json").read_text()) == sorted(
        p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    assert not [p for p in out.iterdir() if p.is_dir()]
    assert len(moved) > 5


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``."""
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                try:
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                out.append((child, cmdline))
                todo.append(child)
    return out


def _alive(pids: list[str]) -> list[str]:
    """Those of ``pids`` that are not zombies (an init that does not reap leaves them listed)."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            out.append(pid)
    return out


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="reads the process tree from /proc/PID/task/TID/children")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="with one CPU, report draws without a pool")
@pytest.mark.parametrize("when", ["the pool starts", "a worker has started"])
def test_ctrl_c_while_charts_are_drawn_in_a_pool_is_one_line_and_130(tmp_path, when):
    """Ctrl-C on a terminal goes to the whole process group: the pool's processes (a forkserver still
    importing, a worker importing, waiting or drawing) must print nothing, and none may outlive the command."""
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"CI": "true"}
    # Output to files, not pipes: a pool process left behind would hold a pipe open and hang the reading.
    with open(tmp_path / "stderr", "w+") as err, open(tmp_path / "stdout", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "aiterbench", "report", RESULTS[0], "-o", str(tmp_path / "out")],
                                env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            deadline, seen = time.monotonic() + 60, []
            while time.monotonic() < deadline and proc.poll() is None:
                seen = _descendants(proc.pid)
                server = [pid for pid, cmd in seen if "forkserver" in cmd]
                if server and (when == "the pool starts" or _descendants(server[0])):
                    break
                time.sleep(0.002)
            assert proc.poll() is None, "the report ended before its pool started"
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(60)
            for _ in range(100):  # the pool's processes end with the command (a terminated worker within moments)
                left = _alive(subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True,
                                             text=True).stdout.split())
                if not left:
                    break
                time.sleep(0.05)
        finally:
            proc.kill()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        err.seek(0)
        stderr = err.read()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines() == ["aiterbench: interrupted"], stderr
    assert not left, (left, seen)


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


def _contrast(a, b) -> float:
    def lum(rgba):
        def lin(c):
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b_ = (lin(c) for c in rgba[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_number_on_the_heat_map_is_readable_on_its_colour():
    """WCAG AA for text: contrast 4.5:1 against the cell's own colour, at a size the page shows unshrunk."""
    import numpy as np
    from matplotlib.colors import to_rgba

    from aiterbench import reports
    from aiterbench.reports._charts import PAGE_INCHES, ratio_heatmap

    (chart,) = ratio_heatmap(reports.load(RESULTS))
    fig = chart.figure
    assert fig.get_size_inches()[0] <= PAGE_INCHES + 1e-6  # not scaled down to fit the page
    checked = 0
    for ax in fig.axes:
        if not ax.images:
            continue
        image = ax.images[0]
        data = np.ma.getdata(image.get_array())
        for text in ax.texts:
            x, y = (round(v) for v in text.get_position())
            value = float(data[y][x])
            background = (1, 1, 1, 1) if value != value else image.cmap(image.norm(value))
            assert _contrast(to_rgba(text.get_color()), background) >= 4.5, (text.get_text(), background)
            assert text.get_fontsize() >= 9
            checked += 1
    assert checked >= 10
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_the_page_escapes_what_the_data_says(tmp_path):
    data = json.loads(Path(RESULTS[0]).read_text())
    for bench in data["benchmarks"]:
        md = bench.get("metadata", {})
        if (md.get("name") or "").startswith("asyncgen/"):
            md["name"] = md["name"].replace("asyncgen/", "<b>gen&co/", 1)
            md["impl"] = "<b>gen&co"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["report", str(odd), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "&lt;b&gt;gen&amp;co/none/asyncio" in page and "<b>gen" not in page.split("<svg")[0]


@pytest.fixture(scope="module")
def memory_file(tmp_path_factory) -> Path:
    from .test_cli import cli

    out = tmp_path_factory.mktemp("memory") / "memory.json"
    proc = cli("memory", "-i", "asyncgen,class_anext", "-w", "none", "-l", "asyncio", "--live", "500", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_memory_figures_get_their_section_chart_and_finding(memory_file, tmp_path):
    out = tmp_path / "out"
    assert main(["report", *RESULTS, str(memory_file), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert 'id="memory"' in page and "held+hooks B" in page
    assert list(out.glob("memory_held_*.svg"))
    summary = (out / "summary.md").read_text()
    assert "## Memory, Python" in summary and "an async generator pins" in summary


def test_memory_alone_draws_no_timing_chart_and_no_empty_panel(memory_file, tmp_path):
    out = tmp_path / "out"
    assert main(["report", str(memory_file), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert 'class="nodata"' not in page and "<h2>Tables</h2>" not in page
    assert {p.stem.split("_py")[0] for p in out.glob("*.svg")} == {"memory_held"}


def test_without_memory_figures_there_is_no_memory_section(report):
    page = (report / "index.html").read_text()
    assert 'id="memory"' not in page and "memory_held" not in page


def test_no_chart_is_wider_than_the_page_or_lettered_small(memory_file):
    """A figure wider than the page is shrunk to fit, and its labels with it: every one fits, at 8 pt or more."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from aiterbench import reports
    from aiterbench.reports._charts import CHARTS, PAGE_INCHES

    dataset = reports.load([*RESULTS, str(memory_file), str(DATA / "explain-py311-cells.json")])
    drawn = 0
    for spec in CHARTS:
        for chart in spec.build(dataset):
            if chart.figure is None:
                continue
            drawn += 1
            assert chart.figure.get_size_inches()[0] <= PAGE_INCHES + 1e-6, chart.name
            for text in chart.figure.findobj(Text):
                if text.get_text().strip():
                    assert text.get_fontsize() >= 8, (chart.name, text.get_text())
            plt.close(chart.figure)
    assert drawn >= 7


def test_a_history_gets_its_trend_chart_and_its_change_points(tmp_path, capsys):
    pytest.importorskip("ruptures")
    from .test_history import _planted_history

    db = _planted_history(tmp_path, capsys)
    out = tmp_path / "out"
    assert main(["report", *RESULTS, "--history", str(db), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert 'id="history"' in page and list(out.glob("history_*.svg"))
    summary = (out / "summary.md").read_text()
    assert "## History, Python" in summary and "steps from" in summary and "revision r6" in summary


def test_a_history_alone_makes_a_report(tmp_path, capsys):
    pytest.importorskip("ruptures")
    from .test_history import _planted_history

    db = _planted_history(tmp_path, capsys)
    out = tmp_path / "out"
    assert main(["report", "--history", str(db), "-o", str(out)]) == 0
    assert 'class="nodata"' not in (out / "index.html").read_text()
    assert {p.stem.split("_py")[0] for p in out.glob("*.svg")} == {"history"}


def test_a_bad_history_is_one_line(tmp_path, capsys):
    bad = tmp_path / "h.sqlite"
    bad.write_text("nope" * 100)
    assert main(["report", *RESULTS, "--history", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, "not an aiterbench history")
    assert not (tmp_path / "out").exists()


def test_the_http_finding_tells_the_form_from_a_layer(tmp_path):
    """From a real http run (tests/data/http-py311.json.gz): the two forms both read with readline(), so their ratio
    is the form's; a generator over aiohttp's own iterator is a layer, and said to be one."""
    out = tmp_path / "report"
    assert main(["report", str(DATA / "http-py311.json.gz"), "-o", str(out)]) == 0
    lines = [ln for ln in (out / "summary.md").read_text().splitlines() if "over HTTP on loopback" in ln]
    assert len(lines) == 3  # one per loop measured: asyncio, uvloop, rloop
    (line,) = [ln for ln in lines if "(`http`, asyncio)" in ln]
    assert "(`http`, asyncio): aiohttp's own line iteration takes" in line and " ns [" in line
    assert "read with `readline()`, an async generator costs" in line and "the form's share of a line's cost: " in line
    assert "an async generator that re-yields aiohttp's own iteration costs" in line
    assert "the extra layer's share: " in line and "around it" not in line


#: A real count file (``aiterbench count -i asyncgen,class_anext -w none,http -l asyncio``), made on the machine and
#: with the aiterbench that measured http-py311.json.gz: the two are of one environment.
COUNTS = DATA / "count-py311.json"
HTTP = DATA / "http-py311.json.gz"


def _csv_rows(folder: Path) -> list[dict]:
    import csv

    with (folder / "data.csv").open() as f:
        return list(csv.DictReader(f))


def _table_line(summary: str, cell: str) -> list[str]:
    (line,) = [ln for ln in summary.splitlines() if ln.startswith(f"| {cell} |")]
    return [c.strip() for c in line.strip("|").split("|")]


def _edited_counts(tmp_path: Path, scale: dict | None = None, metadata: dict | None = None, drop: str = "") -> Path:
    """The count fixture with some cells' counts scaled, every run's metadata changed, or one benchmark dropped."""
    data = json.loads(COUNTS.read_text())
    data["metadata"].update(metadata or {})  # pyperf keeps what every run shares at the top
    kept = []
    for bench in data["benchmarks"]:
        name = bench["metadata"]["name"]
        if name == drop:
            continue
        for run in bench["runs"]:
            factor = (scale or {}).get(name.split("@")[0], 1.0)
            run["values"] = [v * factor for v in run["values"]]
        kept.append(bench)
    data["benchmarks"] = kept
    out = tmp_path / "counts.json"
    out.write_text(json.dumps(data))
    return out


def test_the_count_fixture_shares_the_http_fixtures_environment():
    from aiterbench.analysis import load_results

    (timing,), (counts,) = load_results([str(HTTP)]), load_results([str(COUNTS)])
    assert counts.kind == "count" and timing.environment.compatible(counts.environment)


def test_counts_join_the_timings_of_their_environment(tmp_path):
    """One group: instructions per item beside ns per item, the instructions ratio beside the timing ratio, in
    summary.md, index.html and data.csv; the cells counted and not timed get rows of their own."""
    out = tmp_path / "report"
    assert main(["report", str(HTTP), str(COUNTS), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert summary.count("## Python 3.11") == 1 and "## Instruction counts" not in summary
    head = _table_line(summary, "cell")
    cells = dict(zip(head, _table_line(summary, "asyncgen/http/asyncio")))
    assert cells["instructions/item"] == "16,570.5" and cells["instructions ratio"] == "0.973"
    assert cells["ratio to class_anext"] == "1.003 [0.985, 1.019]"
    assert head.index("instructions/item") == head.index("ns/item [95% CI]") + 1
    assert head.index("instructions ratio") == head.index("ratio to class_anext") + 1
    untimed = dict(zip(head, _table_line(summary, "asyncgen/none/asyncio")))
    assert untimed["ns/item [95% CI]"] == "not timed" and untimed["instructions ratio"] == "0.626"
    assert dict(zip(head, _table_line(summary, "aiohttp_lines/http/asyncio")))["instructions/item"] == "-"
    assert "4 cells counted, from count-py311.json" in summary
    page = (out / "index.html").read_text()
    assert "<th>instructions/item</th>" in page and "<td>16,570.5</td>" in page and "4 counted" in page
    rows = _csv_rows(out)
    gen = [r for r in rows if (r["impl"], r["workload"], r["loop"]) == ("asyncgen", "http", "asyncio")]
    assert len(gen) == 3 and {r["instructions_per_item"] for r in gen} == {"16570.546"}
    assert {(r["reference"], r["time_ratio"], r["instructions_ratio"]) for r in gen} == {("class_anext", "1.003", "0.97316")}
    (only_counted,) = [r for r in rows if (r["impl"], r["workload"]) == ("asyncgen", "none")]
    assert only_counted["n"] == "" and only_counted["ns_per_item"] == "" and only_counted["count_source"] == "count-py311.json"


@pytest.mark.parametrize("scale, verdict", [
    (None, "disagree on 1 of 1 ratio measured in both"),
    ({"asyncgen/http/asyncio": 17027.6085 / 16570.5455}, "agree on 1 ratio measured in both"),
], ids=["apart", "together"])
def test_a_finding_says_whether_the_two_signals_agree(tmp_path, scale, verdict):
    """The fixture's count ratio (0.973) lies outside the timing interval [0.985, 1.019]; scaled to 1.000, inside."""
    counts = _edited_counts(tmp_path, scale) if scale else COUNTS
    out = tmp_path / "report"
    assert main(["report", str(HTTP), str(counts), "-o", str(out)]) == 0
    (line,) = [ln for ln in (out / "summary.md").read_text().splitlines() if "time and instructions" in ln]
    assert verdict in line
    if scale is None:
        assert "`asyncgen/http/asyncio` over `class_anext` takes 1.003x [0.985, 1.019] in time and 0.973x in instructions" in line
        assert "measured on this machine" in line and "counted by callgrind" in line
        assert "timing sees caches, branch prediction, waiting and load, counts do not" in line


def test_counts_alone_make_a_report(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(COUNTS), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "## Instruction counts, Python 3.11" in summary and "4 cells counted (not timed)" in summary
    assert "with items ready (`none`) on asyncio, 1,051 against 1,679 (0.626x)" in summary
    head = _table_line(summary, "cell")
    assert dict(zip(head, _table_line(summary, "asyncgen/none/asyncio")))["instructions ratio to class_anext"] == "0.626"
    page = (out / "index.html").read_text()
    assert 'id="counts"' in page and 'class="nodata"' not in page and "<h2>Tables</h2>" not in page
    assert not list(out.glob("*.svg"))
    assert {r["instructions_per_item"] for r in _csv_rows(out) if r["impl"] == "class_anext"} == {"1679.101", "17027.608"}


def test_counts_of_another_environment_are_never_pooled_with_timings(tmp_path):
    """The same Python and machine, other inherited variables: the counts get their own table and label."""
    odd = _edited_counts(tmp_path, metadata={"aiterbench_environ": json.dumps({"PYTHONMALLOC": "malloc"})})
    out = tmp_path / "report"
    assert main(["report", str(HTTP), str(odd), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "instructions ratio |" not in summary.split("## Instruction counts")[0]
    assert "## Instruction counts, Python 3.11 · PYTHONMALLOC=malloc" in summary
    assert "time and instructions" not in summary


def test_a_count_without_two_sizes_is_refused_in_one_line(tmp_path, capsys):
    bad = _edited_counts(tmp_path, drop="asyncgen/none/asyncio@n=3000")
    assert main(["report", str(HTTP), str(bad), "-o", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, "asyncgen/none/asyncio", "1 sizes, expected 2")
    assert not (tmp_path / "out").exists()


#: Real explain documents (``aiterbench explain ... --format json``): one cell on 3.11.7 and 3.12.1, two cells on 3.11.7.
EXPLAIN_PYTHONS = DATA / "explain-py311-py312.json"
EXPLAIN_CELLS = DATA / "explain-py311-cells.json"


def _md_table(summary: str, first_header: str) -> list[list[str]]:
    """The rows of the markdown table whose first column is headed ``first_header``."""
    lines = summary.splitlines()
    start = lines.index(next(ln for ln in lines if ln.startswith(f"| {first_header} |")))
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split(" | ")])
    return rows


def test_an_explain_document_alone_makes_a_why_section(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(EXPLAIN_PYTHONS), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "## Why" in summary and "### asyncgen/none/asyncio: new (3.12.1) against base (3.11.7)" in summary
    assert ("counted by callgrind at n = 1000, 3000: base (3.11.7) 1,050.9, new (3.12.1) 2,276.3; NEW - BASE +1,225.4 "
            "(+116.6%); NEW / BASE 2.166x") in summary
    categories = {r[0]: r[1:] for r in _md_table(summary, "category")}
    assert categories["thread-state and runtime look-ups"] == ["0.0", "249.0", "+249.0", "+20%"]
    assert categories["total"][2] == "+1,225.4"
    functions = _md_table(summary, "function")
    assert len(functions) == 11 and functions[-1][0].startswith("other (")
    assert functions[0][:3] == ["__tls_get_addr", "ld-linux", "thread-state and runtime look-ups"]
    assert "async_gen_anext (libpython) 0 -> 2" in functions[0][7]
    # The ten rows and the other row add up to the difference (each figure rounded to 0.1).
    assert abs(sum(float(r[5].replace(",", "")) for r in functions) - 1225.4085) < 0.05 * len(functions)
    assert _md_table(summary, "Python function")
    assert "`__tls_get_addr` +242.0 (thread-state and runtime look-ups)" in summary  # the finding
    page = (out / "index.html").read_text()
    assert 'id="why"' in page and 'id="why-1"' in page and 'id="why_1"' in page and page.count("<svg") == 1
    assert '<td class="text">__tls_get_addr</td>' in page and 'class="nodata"' not in page
    assert sorted(p.name for p in out.glob("*.svg")) == ["why_1.svg"] and (out / "why_1.png").exists()


def test_every_explain_document_gets_its_part_beside_timings_and_counts(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(HTTP), str(COUNTS), str(EXPLAIN_PYTHONS), str(EXPLAIN_CELLS), "-o", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert summary.count("\n### ") == 2 and "### asyncgen/none/asyncio against class_anext/none/asyncio" in summary
    assert "NEW - BASE -628.2 (-37.4%); NEW / BASE 0.626x" in summary
    page = (out / "index.html").read_text()
    assert 'id="why_1"' in page and 'id="why_2"' in page and "instructions ratio" in page


@pytest.mark.parametrize("content, needles", [
    ('{"aiterbench_document": "explain", "document_version": 1, "title": ', ["cannot read an explain document"]),
    ('{"aiterbench_document": "explain", "document_version": 9}', ["explain document version 9"]),
    ('{"aiterbench_document": "explain", "document_version": 1, "sizes": [1, 2]}', ["not a whole explain document"]),
    ('{"aiterbench_document": "count", "document_version": 1, "cells": []}', ["'count' document", "--format json"]),
], ids=["truncated", "newer", "incomplete", "another-document"])
def test_a_document_report_cannot_use_is_refused_in_one_line(tmp_path, capsys, content, needles):
    bad = tmp_path / "doc.json"
    bad.write_text(content)
    assert main(["report", str(HTTP), str(bad), "-o", str(tmp_path / "out")]) == 2
    assert_one_error_line(capsys.readouterr().err, "doc.json", *needles)
    assert not (tmp_path / "out").exists()


def test_the_explain_chart_diverges_and_is_coloured_by_category():
    import matplotlib.pyplot as plt

    from aiterbench.analysis import EXPLAIN_CATEGORIES, load_explanation
    from aiterbench.reports._charts import CATEGORY_COLORS, PAGE_INCHES, explain_chart

    e = load_explanation(str(EXPLAIN_CELLS))
    chart = explain_chart(e, top=15)
    fig = chart.figure
    (ax,) = fig.axes
    bars = ax.patches
    rows = e.top(15)
    assert len(bars) == len(rows) == 16 and rows[-1].function.startswith("other (")
    assert [b.get_width() for b in bars] == [r.difference for r in rows]
    assert any(b.get_width() < 0 for b in bars) and any(b.get_width() > 0 for b in bars)
    assert abs(sum(b.get_width() for b in bars) - e.difference) < 1e-6  # the other bar closes the sum
    from matplotlib.colors import to_hex

    assert [to_hex(b.get_facecolor()) for b in bars] == [CATEGORY_COLORS[r.category] for r in rows]
    (legend,) = fig.legends
    shown = [t.get_text() for t in legend.get_texts()]
    assert shown == [c for c in EXPLAIN_CATEGORIES if c in {r.category for r in rows}]
    assert ax.get_xlabel() == "instructions per item, NEW - BASE"
    assert "asyncgen/none/asyncio" in fig.get_suptitle() and "class_anext/none/asyncio" in fig.get_suptitle()
    assert fig.get_size_inches()[0] <= PAGE_INCHES
    plt.close(fig)


def test_write_explain_chart_writes_the_same_svg_and_png_every_time(tmp_path):
    from aiterbench.analysis import load_explanation
    from aiterbench.reports import write_explain_chart

    e = load_explanation(str(EXPLAIN_PYTHONS))
    made = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        paths = write_explain_chart(e, str(tmp_path / run / "why"), top=5)
        assert paths == [str(tmp_path / run / "why.svg"), str(tmp_path / run / "why.png")]
        made.append([Path(p).read_bytes() for p in paths])
    assert made[0] == made[1]
    svg = made[0][0].decode()
    assert svg.startswith("<?xml") and "other (" in svg and "instructions per item, NEW - BASE" in svg
    assert made[0][1].startswith(b"\x89PNG")


def test_a_file_named_twice_is_read_once(memory_file, tmp_path):
    """Named itself and through its folder: its processes are not counted twice, its explanation not shown twice."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copy(memory_file, folder / "memory.json")
    shutil.copy(EXPLAIN_CELLS, folder / "explain.json")
    import csv

    def processes(*inputs) -> list[str]:
        out = tmp_path / f"report{len(inputs)}"
        assert main(["report", *map(str, inputs), "-o", str(out)]) == 0
        with (out / "memory.csv").open() as f:
            return [r["processes"] for r in csv.DictReader(f)]

    assert processes(folder, folder / "memory.json", folder / "explain.json") == processes(memory_file)
    assert (tmp_path / "report3" / "summary.md").read_text().count("\n### ") == 1


def test_environments_that_differ_in_many_respects_keep_readable_labels(memory_file):
    """A memory file from another environment made every label a hundred characters or more: the heat map's
    layout collapsed (matplotlib warned) and cut its row labels to the same last words on every row."""
    from aiterbench.reports import load
    from aiterbench.reports._charts import PAGE_INCHES, ratio_heatmap, render

    dataset = load([*RESULTS, str(memory_file)])
    assert min(len(g.label) for g in dataset.groups) > 80
    (chart,) = ratio_heatmap(dataset)
    labels = [t.get_text() for t in chart.figure.axes[0].get_yticklabels()]
    render(chart)  # a collapsed layout warns, and warnings are errors here
    assert len(set(labels)) == len(labels) and all(len(line) <= 30 for text in labels for line in text.split("\n"))
    assert chart.figure.get_figwidth() <= PAGE_INCHES
