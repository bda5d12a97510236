"""The text table fits the terminal: columns are left out in a fixed order, said in a line; --wide keeps them."""

from __future__ import annotations

import argparse
import io
import sys

import pytest

from aiterbench.analysis.table import HEADERS, NARROW_DROPS, fit_width, render

BODY = [
    ("asyncgen_over_aiohttp_lines/http/asyncio", "2264.9 [2253.6, 2304.3]", "13341 [918, 16854]", "?",
     "1.114 [1.104, 1.127]", "241.6 [219.3, 265.6]", "-"),
    ("class_anext/http/asyncio", "2036.8 [2026.5, 2060.0]", "7648 [2631, 14535]", "?", "-", "6.7 [-25.0, 27.5]", "-"),
]


def _width(head, body) -> int:
    return max(len(line) for line in render(head, body, "text").splitlines())


@pytest.mark.parametrize("width", [200, 160, 120, 100, 80, 60])
def test_a_table_is_fitted_to_the_width_or_to_its_three_essential_columns(width):
    head, body, dropped = fit_width(HEADERS, BODY, width)
    assert head[0] == "cell" and "ns/item [95% CI]" in head and any(h.startswith("ratio to") for h in head)
    assert _width(head, body) <= width or len(head) == 3
    assert len(head) + len(dropped) == len(HEADERS) and all(len(line) == len(head) for line in body)
    # what goes: first a column no row fills, then NARROW_DROPS in order, nothing it did not need to
    order = [h for h in HEADERS if h in dropped]
    assert all(h in ("linear", "+ns vs sync_iter") + NARROW_DROPS for h in order)
    if dropped:
        kept_last = fit_width(HEADERS, BODY, width + 1000)
        assert kept_last[2] == []


def test_an_unfilled_column_goes_first_and_a_table_that_fits_keeps_every_column():
    head, _, dropped = fit_width(HEADERS, BODY, _width(HEADERS, BODY) - 1)
    assert dropped == ["linear"]  # "?" in every row: two sizes cannot tell
    assert fit_width(HEADERS, BODY, _width(HEADERS, BODY))[2] == []


def _args(wide: bool) -> argparse.Namespace:
    return argparse.Namespace(wide=wide)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_width_is_the_terminal_s_and_none_for_pipes_and_with_wide(monkeypatch):
    from aiterbench.cli import _common

    monkeypatch.setenv("COLUMNS", "90")
    monkeypatch.setattr("sys.stdout", _Tty())
    assert _common.table_width(_args(False)) == 90
    assert _common.table_width(_args(True)) is None
    monkeypatch.setattr("sys.stdout", io.StringIO())  # a pipe, a file, CI's log
    assert _common.table_width(_args(False)) is None


def test_show_fits_a_file_s_table_and_says_what_it_left_out(monkeypatch, capsys):
    from aiterbench.cli import main

    from .test_cli import ROOT

    path = str(ROOT / "docs" / "results" / "http-py311.json")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr("sys.stdout", _Tty())
    assert main(["show", path]) == 0
    out = sys.stdout.getvalue()
    table = out.split("Per-item cost")[0].splitlines()
    assert max(len(line) for line in table[:-1]) <= 100
    assert "left out to fit 100 columns; --wide shows every column" in out
    monkeypatch.setattr("sys.stdout", _Tty())
    assert main(["show", path, "--wide"]) == 0
    wide = sys.stdout.getvalue()
    assert "left out" not in wide and "+ns vs fastest async" in wide
