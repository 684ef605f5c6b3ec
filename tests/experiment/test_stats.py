"""Student-t quantiles without scipy, and the paired t-interval."""

from __future__ import annotations

import math

import pytest

from spatial_forcing.experiment.stats import mean_std, t_cdf, t_interval, t_quantile

# Two-sided 95% (p = 0.975) and 90% (p = 0.95) critical values from standard tables.
TABLE = {1: (12.706, 6.314), 2: (4.303, 2.920), 3: (3.182, 2.353), 4: (2.776, 2.132), 5: (2.571, 2.015),
         6: (2.447, 1.943), 9: (2.262, 1.833), 10: (2.228, 1.812), 19: (2.093, 1.729), 29: (2.045, 1.699),
         30: (2.042, 1.697), 120: (1.980, 1.658)}


@pytest.mark.parametrize("df", sorted(TABLE))
def test_t_quantile_matches_tables(df):
    q975, q95 = TABLE[df]
    assert t_quantile(0.975, df) == pytest.approx(q975, abs=5e-4)
    assert t_quantile(0.95, df) == pytest.approx(q95, abs=5e-4)


def test_t_quantile_limits_and_symmetry():
    z = 1.959964  # large df: the normal quantile plus the first Cornish-Fisher term (z^3 + z) / (4 df)
    assert t_quantile(0.975, 5000) == pytest.approx(z + (z**3 + z) / (4 * 5000), abs=1e-5)
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-9)
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))
    assert t_quantile(0.9995, 1) == pytest.approx(636.619, rel=1e-4)
    assert t_cdf(t_quantile(0.8, 7), 7) == pytest.approx(0.8, abs=1e-10)
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    assert t_cdf(-2.0, 6) + t_cdf(2.0, 6) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_cdf(1.0, 0)


def test_t_interval_of_paired_differences():
    diffs = [0.3, 0.1, 0.3]
    out = t_interval(diffs)
    sd = math.sqrt(((0.3 - 7 / 30) ** 2 * 2 + (0.1 - 7 / 30) ** 2) / 2)
    half = 4.302653 * sd / math.sqrt(3)
    assert out["n"] == 3 and out["mean"] == pytest.approx(7 / 30) and out["std"] == pytest.approx(sd)
    assert out["ci"] == pytest.approx([7 / 30 - half, 7 / 30 + half], abs=1e-6)
    assert t_interval([0.2])["ci"] is None and t_interval([0.2])["mean"] == 0.2
    assert t_interval([])["mean"] is None
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2.0)))
