"""calibrate replays ab's own sequential looks on A/A pairs: what it suggests is what ab decides (synthetic pairs)."""

from __future__ import annotations

import math
import random

import pytest

from aiterbench.orchestrate.calibrate import GRID, Calibration, at_threshold, replay
from aiterbench.stats.sequential import DESIGN, sequential_verdict

from .test_cli import cli


def _aa(sigma: float, pairs: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, sigma) for _ in range(pairs)]


def _ab(logs, threshold, family):
    return sequential_verdict(list(logs), threshold, len(logs), len(logs), final=True, design=DESIGN, family=family)


@pytest.mark.parametrize(("sigma", "family"), [(0.01, 1), (0.02, 1), (0.02, 16), (0.04, 4)])
def test_the_suggested_threshold_is_the_smallest_at_which_ab_decides_every_window_unchanged(sigma, family):
    logs, window = _aa(sigma, 120, seed=int(sigma * 1000) + family), 40
    k = replay("c", logs, window, family)
    windows = [logs[i:i + window] for i in range(0, len(logs), window)]
    assert k.windows == len(windows) == 3 and k.unchanged_from is not None
    assert all(_ab(w, k.unchanged_from, family).kind == "unchanged" for w in windows)
    below = GRID[GRID.index(k.unchanged_from) - 1] if k.unchanged_from > GRID[0] else None
    if below is not None:
        assert any(_ab(w, below, family).kind != "unchanged" for w in windows)


def test_the_job_s_size_moves_what_is_detected_not_the_threshold():
    """unchanged keeps 5% per cell, so its threshold is the cell's own; regression shares 5% among the job's
    cells, so a larger job flags a change no sooner (and no smaller one) than a job of one."""
    logs = _aa(0.02, 48, seed=5)
    one, many = replay("c", logs, 48, 1), replay("c", logs, 48, 16)
    assert one.unchanged_from == many.unchanged_from is not None
    one = at_threshold(one, logs, 48, 1, one.unchanged_from)
    many = at_threshold(many, logs, 48, 16, many.unchanged_from)
    assert one.detects <= many.detects


def test_what_it_detects_is_flagged_in_every_window_and_a_smaller_change_is_not():
    logs, window, family = _aa(0.02, 96, seed=9), 48, 4
    k = replay("c", logs, window, family)
    k = at_threshold(k, logs, window, family, k.unchanged_from)
    windows = [logs[i:i + window] for i in range(0, len(logs), window)]
    assert k.detects is not None and k.detects > k.unchanged_from and k.pairs_to_detect <= window
    assert all(_ab([x + math.log1p(k.detects) for x in w], k.unchanged_from, family).kind == "regression"
               for w in windows)
    smaller = GRID[GRID.index(k.detects) - 1]
    if smaller > k.unchanged_from:
        assert not all(_ab([x + math.log1p(smaller) for x in w], k.unchanged_from, family).kind == "regression"
                       for w in windows)


def test_no_suggestion_when_some_cell_is_never_decided():
    quiet, wild = replay("q", _aa(0.005, 40, 1), 40, 1), replay("w", _aa(0.5, 40, 2), 40, 1)
    assert quiet.unchanged_from is not None and wild.unchanged_from is None
    assert Calibration((quiet, wild), 40, 1.0, 40, 2, (), (), False).suggested is None
    assert Calibration((quiet,), 40, 1.0, 40, 1, (), (), False).suggested == quiet.unchanged_from


def test_calibrate_measures_with_ab_s_design_and_says_what_ab_decides():
    proc = cli("calibrate", "-i", "asyncgen", "-w", "none", "-l", "asyncio", "--budget", "1")
    assert proc.returncode == 0, proc.stderr
    assert "A/A on this machine with ab's own design" in proc.stdout and "asyncgen/none/asyncio" in proc.stdout
    assert "Suggested: 'ab --quick --threshold " in proc.stdout or "No threshold up to 25%" in proc.stdout
    # ab's processes: one per loop and side and round (two sizes each), never one per cell.
    assert proc.stderr.count("check+calibrate") <= 2
