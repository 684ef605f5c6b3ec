"""Learning curves over seeds and steps to reach the reference's final success."""

from __future__ import annotations

import pytest

from spatial_forcing.experiment.curves import convergence, read_metrics, seed_band, series, steps_to_reach


def test_seed_band_uses_the_steps_every_seed_logged():
    band = seed_band([{2: 0.0, 4: 0.5, 6: 1.0}, {2: 0.2, 4: 0.1}])
    assert band == {"steps": [2, 4], "mean": [0.1, 0.3], "min": [0.0, 0.1], "max": [0.2, 0.5], "seeds": 2}
    assert seed_band([]) is None and seed_band([{2: 0.1}, {4: 0.1}]) is None


def test_steps_to_reach_and_ratio_to_the_reference():
    ref = seed_band([{2: 0.0, 4: 0.1, 6: 0.3}, {2: 0.0, 4: 0.2, 6: 0.3}, {2: 0.1, 4: 0.1, 6: 0.3}])
    fast = seed_band([{2: 0.1, 4: 0.3, 6: 0.5}] * 3)
    slow = seed_band([{2: 0.0, 4: 0.0, 6: 0.2}] * 3)
    out = convergence({"baseline": ref, "sf": fast, "sf_slow": slow, "none": None}, "baseline")
    assert out["target"] == pytest.approx(0.3) and out["target_step"] == 6 and out["reference_steps"] == 6
    assert out["variants"]["sf"] == {"steps_to_reach": 4, "ratio_to_reference": pytest.approx(2 / 3),
                                     "speedup": pytest.approx(1.5)}
    assert out["variants"]["sf_slow"]["steps_to_reach"] is None and out["variants"]["none"]["speedup"] is None
    assert "note" not in out
    assert steps_to_reach(ref, 0.1) == 4 and steps_to_reach(None, 0.0) is None


def test_convergence_without_reference_curve_or_with_zero_target():
    assert convergence({"baseline": None}, "baseline")["target"] is None
    zero = convergence({"baseline": seed_band([{5: 0.0, 10: 0.0}])}, "baseline")
    assert zero["reference_steps"] == 5 and "final success is 0" in zero["note"]


def test_metrics_of_a_killed_run_are_read_without_the_torn_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "eval/success": 0.5}\n{"step": 4, "eval/succ')
    assert series(read_metrics(tmp_path), "eval/success") == {2: 0.5}
    assert read_metrics(tmp_path / "missing") == []
