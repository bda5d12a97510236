"""Which impl a row's ratio is to: a plug-in's own class form, the built-in class_anext, or --baseline."""

from __future__ import annotations

import json

import pytest

from aiterbench.analysis import Cell, CellData, analyze, format_json, format_text
from aiterbench.cli import main

from .test_cli import assert_one_error_line


def _data(impl, family, module, slope, workload="rows"):
    rounds = {f"r:{k}": {16: slope + 1e-6 / 16, 256: slope + 1e-6 / 256} for k in range(8)}
    return CellData(Cell(impl, workload, "asyncio"), rounds,
                    {"family": family, "impl_module": module, "impl": impl, "workload": workload})


def _rows(*data, baseline=None):
    return {r.cell.impl: r for r in analyze({d.cell: d for d in data}, baseline)}


def test_a_plug_in_s_two_forms_get_their_ratio_to_its_own_class_form():
    """A library author's asyncgen-family and class_anext-family impls of their own workload (no built-in impl
    of it exists): the ratio column had '-' when it was keyed to the built-in name."""
    rows = _rows(_data("rows_gen", "asyncgen", "my_rows", 150e-9), _data("RowsIter", "class_anext", "my_rows", 100e-9))
    assert rows["rows_gen"].reference == "RowsIter"
    assert rows["rows_gen"].vs_reference.value == pytest.approx(1.5)
    assert rows["RowsIter"].vs_reference is None
    text = format_text(list(rows.values()))
    assert "ratio to RowsIter" in text and "1.500" in text


def test_built_in_and_plug_in_impls_each_get_their_own_module_s_class_form():
    rows = _rows(_data("class_anext", "class_anext", "aiterbench.impls.class_anext", 100e-9, "none"),
                 _data("asyncgen", "asyncgen", "aiterbench.impls.asyncgen", 80e-9, "none"),
                 _data("mine_gen", "asyncgen", "mine", 300e-9, "none"),
                 _data("MineIter", "class_anext", "mine", 200e-9, "none"))
    assert (rows["asyncgen"].reference, rows["mine_gen"].reference) == ("class_anext", "MineIter")
    assert rows["MineIter"].reference == "class_anext"  # a plug-in's class form itself: to the built-in one
    text = format_text(list(rows.values()))
    assert "ratio to its class form" in text and "mine_gen to MineIter" in text
    doc = {c["impl"]: c for c in json.loads(format_json(list(rows.values())))["cells"]}
    assert doc["mine_gen"]["reference"] == "MineIter" and doc["mine_gen"]["ratio_to_class_anext"] is None
    assert doc["mine_gen"]["ratio_to_reference"]["value"] == pytest.approx(1.5)


def test_a_plug_in_without_a_class_form_is_compared_with_the_built_in_one():
    rows = _rows(_data("class_anext", "class_anext", "aiterbench.impls.class_anext", 100e-9, "none"),
                 _data("mine_gen", "asyncgen", "mine", 300e-9, "none"))
    assert rows["mine_gen"].reference == "class_anext"
    assert rows["mine_gen"].vs_reference.value == pytest.approx(3.0)


def test_older_files_without_the_module_keep_the_built_in_reference():
    old = [CellData(d.cell, d.per_round, {"family": d.metadata["family"]})
           for d in (_data("class_anext", "class_anext", "", 100e-9, "none"), _data("asyncgen", "asyncgen", "", 50e-9, "none"))]
    rows = _rows(*old)
    assert rows["asyncgen"].reference == "class_anext" and rows["asyncgen"].vs_reference.value == pytest.approx(0.5)


def test_baseline_names_the_reference_of_every_row():
    rows = _rows(_data("rows_gen", "asyncgen", "my_rows", 150e-9), _data("RowsIter", "class_anext", "my_rows", 100e-9),
                 _data("rows_aw", "class_awaitable", "my_rows", 50e-9), baseline="rows_aw")
    assert {r.reference for r in rows.values() if r.reference} == {"rows_aw"}
    assert rows["rows_gen"].vs_reference.value == pytest.approx(3.0)
    assert "ratio to rows_aw" in format_text(list(rows.values()))


def test_a_baseline_nobody_measured_is_bad_input(capsys):
    assert main(["run", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "--baseline", "class_anext",
                 "--quick"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--baseline class_anext: not among the impls measured")


def test_show_refuses_a_baseline_the_file_lacks(capsys, tmp_path):
    from pathlib import Path

    data = Path(__file__).parent / "data" / "results-py311.json"
    assert main(["show", str(data), "--baseline", "nope"]) == 2
    assert_one_error_line(capsys.readouterr().err, "--baseline nope:")
    assert main(["show", str(data), "--baseline", "asyncgen"]) == 0
    assert "ratio to asyncgen" in capsys.readouterr().out


def test_the_report_page_says_what_http_s_figures_include(tmp_path):
    """The producer's share is said beside the table on the page too, not only in summary.md."""
    from pathlib import Path

    out = tmp_path / "report"
    data = Path(__file__).parent / "data" / "http-py311.json.gz"
    assert main(["report", str(data), "-o", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "a producer on the same loop runs inside the timed region" in page
