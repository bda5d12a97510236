"""The per-item model and its intervals, on synthetic samples (nothing is timed)."""

from __future__ import annotations

import math
import random

import pytest

from aiterbench.stats.fit import Estimate, binomial_half_cdf, difference, fit_cell, median_ci, order_statistic_ranks, ratio, ratio_ci

SIZES = (16, 256, 4096)


def synthetic(per_item: float, fixed: float, rounds: int, noise: float, seed: int, curve: float = 0.0, drift=None):
    """``{round: {n: seconds per item}}`` for T(n) = fixed + n*per_item*(1 + curve*log2(n/16)/8), with noise."""
    rng = random.Random(seed)
    data = {}
    for r in range(rounds):
        scale = drift[r] if drift else 1.0
        data[r] = {}
        for n in SIZES:
            slope = per_item * (1 + curve * math.log2(n / SIZES[0]) / 8)
            total = (fixed + n * slope) * scale
            data[r][n] = total / n * (1 + rng.gauss(0, noise))
    return data


def test_noiseless_data_gives_the_exact_model():
    fit = fit_cell(synthetic(50e-9, 800e-9, rounds=4, noise=0.0, seed=0))
    assert fit.per_item.value == pytest.approx(50e-9)
    assert fit.fixed.value == pytest.approx(800e-9)
    assert fit.per_item.samples == 4
    assert fit.nonlinear is False or fit.curvature.value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("rounds", [6, 12, 20])
def test_interval_covers_the_truth_at_least_95_percent_of_the_time(rounds):
    fits = [fit_cell(synthetic(50e-9, 800e-9, rounds=rounds, noise=0.02, seed=seed)) for seed in range(300)]
    hits = sum(f.per_item.low <= 50e-9 <= f.per_item.high for f in fits)
    assert hits / 300 >= 0.94
    fixed_hits = sum(f.fixed.low <= 800e-9 <= f.fixed.high for f in fits)
    assert fixed_hits / 300 >= 0.94


@pytest.mark.parametrize("count", range(6, 40))
def test_order_statistic_interval_is_the_tightest_at_95_percent(count):
    lo, hi = order_statistic_ranks(count)
    assert hi == count - 1 - lo
    # [x(lo), x(hi)] misses the median when at most lo samples fall on one side of it.
    assert 1 - 2 * binomial_half_cdf(lo, count) >= 0.95
    assert 1 - 2 * binomial_half_cdf(lo + 1, count) < 0.95  # one rank tighter would fall short


@pytest.mark.parametrize("count", [1, 5, 10, 31])
def test_binomial_cdf_is_exact(count):
    assert binomial_half_cdf(count, count) == 1.0
    assert binomial_half_cdf(0, count) == 0.5**count


def test_one_disturbed_process_does_not_move_the_estimate():
    data = synthetic(50e-9, 800e-9, rounds=6, noise=0.002, seed=7)
    clean = fit_cell(data).per_item.value
    data[3] = {n: v * 1.4 for n, v in data[3].items()}  # a noisy neighbour slowed one process by 40%
    assert fit_cell(data).per_item.value == pytest.approx(clean, rel=0.01)


def test_curved_cost_is_flagged_and_straight_cost_is_not():
    assert fit_cell(synthetic(50e-9, 800e-9, rounds=6, noise=0.005, seed=1, curve=0.5)).nonlinear is True
    assert fit_cell(synthetic(50e-9, 800e-9, rounds=6, noise=0.005, seed=1)).nonlinear is False


def test_two_sizes_cannot_tell_linearity():
    data = {r: {16: v[16], 4096: v[4096]} for r, v in synthetic(50e-9, 800e-9, 4, 0.01, 2).items()}
    fit = fit_cell(data)
    assert fit.nonlinear is None
    assert fit.sizes == (16, 4096)


def test_rounds_are_fitted_on_the_sizes_they_measured():
    data = synthetic(50e-9, 800e-9, 4, 0.0, 3)
    del data[2][256]  # e.g. runs appended with other --sizes
    data[3] = {16: data[3][16]}  # one size says nothing about a slope
    fit = fit_cell(data)
    assert fit.per_item.samples == 3
    assert fit.per_item.value == pytest.approx(50e-9)
    assert fit.sizes == SIZES


def test_fewer_than_six_processes_give_no_interval_and_no_linearity_verdict():
    fit = fit_cell(synthetic(50e-9, 800e-9, rounds=5, noise=0.005, seed=1, curve=0.5))
    assert math.isnan(fit.per_item.low) and math.isnan(fit.per_item.high)
    assert fit.nonlinear is None


def test_a_ratio_without_positive_slopes_is_none():
    flat = {r: {16: 1e-7, 256: 1e-7 * 16 / 256} for r in range(6)}  # total time flat: slope 0
    steep = fit_cell(synthetic(50e-9, 800e-9, 6, 0.0, 2))
    assert ratio(fit_cell(flat), steep) is None


def test_fewer_than_two_sizes_is_an_error():
    with pytest.raises(ValueError, match="two sizes"):
        fit_cell({0: {16: 1e-7}, 1: {16: 1e-7}})


def test_pairing_by_round_cancels_drift():
    drift = [1.0, 1.06, 0.95, 1.10, 0.97, 1.03]  # the machine slows and speeds up between rounds
    a = fit_cell(synthetic(60e-9, 800e-9, 6, 0.002, 4, drift=drift))
    b = fit_cell(synthetic(40e-9, 800e-9, 6, 0.002, 5, drift=drift))
    r = ratio(a, b)
    assert r.value == pytest.approx(1.5, rel=0.01)
    assert r.high - r.low < 0.03  # far narrower than the 15% drift seen by each cell alone
    assert a.per_item.high - a.per_item.low > 5 * (r.high - r.low) * 40e-9
    d = difference(a, b)
    assert d.low < 20e-9 < d.high


def test_ratio_without_common_rounds_is_none():
    a = fit_cell({0: {16: 1e-7, 256: 1e-7}, 1: {16: 1e-7, 256: 1e-7}})
    b = fit_cell({"x": {16: 1e-7, 256: 1e-7}, "y": {16: 1e-7, 256: 1e-7}})
    assert ratio(a, b) is None and difference(a, b) is None


def test_median_ci_of_one_sample_has_no_interval():
    e = median_ci([3.0])
    assert e.value == 3.0 and math.isnan(e.low) and not e.excludes(0.0)


def test_ratio_ci_is_symmetric_in_logs():
    xs = [2.0, 2.2, 1.8, 2.1, 1.9, 2.05]
    e = ratio_ci(xs, [1.0] * 6)
    assert e.low < 2.0 < e.high
    inv = ratio_ci([1.0] * 6, xs)
    assert inv.value == pytest.approx(1 / e.value)


def test_estimate_rejects_an_interval_that_misses_its_value():
    with pytest.raises(ValueError):
        Estimate(1.0, 2.0, 3.0, 2)


def test_a_ratio_says_how_many_pairs_it_dropped():
    """A process whose slope is not positive (noise at tiny sizes) has no log ratio: left out, and counted."""
    xs = [2.0, 2.1, 1.9, 2.0, 2.2, 2.0, -0.1, 2.05]
    ys = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    e = ratio_ci(xs, ys)
    assert e.dropped == 2 and e.samples == 6
    assert ratio_ci([2.0] * 6, [1.0] * 6).dropped == 0


def test_the_table_shows_dropped_pairs_in_the_ratio_and_the_json():
    import json

    from aiterbench.analysis import Cell, CellData, analyze, format_json, format_text

    def data(impl, slope_of):
        rounds = {f"r:{k}": {16: slope_of(k) + 1e-6 / 16, 256: slope_of(k) + 1e-6 / 256} for k in range(8)}
        return CellData(Cell(impl, "none", "asyncio"), rounds, {"family": impl})

    cells = {c.cell: c for c in (data("class_anext", lambda k: 100e-9),
                                 data("asyncgen", lambda k: -1e-5 if k == 3 else 60e-9))}
    rows = analyze(cells)
    text = format_text(rows)
    assert "(1 of 8 pairs dropped)" in text and "a ratio drops the pairs" in text
    doc = {c["cell"]: c for c in json.loads(format_json(rows))["cells"]}
    assert doc["asyncgen/none/asyncio"]["ratio_to_class_anext"]["dropped"] == 1
