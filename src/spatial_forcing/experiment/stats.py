"""Small-sample statistics over seeds: mean, sample std, and the paired t-interval of a difference.

No scipy: Student's t CDF for integer degrees of freedom has an exact finite series in
theta = atan(t / sqrt(df)) (Abramowitz & Stegun 26.7.3-4), and its quantile is found by bisection.
"""

from __future__ import annotations

import math
from typing import Sequence


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` (an integer >= 1) degrees of freedom."""
    if df < 1 or int(df) != df:
        raise ValueError(f"t_cdf: df must be an integer >= 1, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    total, term = 0.0, 1.0
    if df % 2:  # A = 2/pi * (theta + sin * (cos + 2/3 cos^3 + 2*4/(3*5) cos^5 + ... up to cos^(df-2)))
        term = math.cos(theta)
        for k in range((df - 1) // 2):
            total += term
            term *= cos2 * (2 * k + 2) / (2 * k + 3)
        inside = 2.0 / math.pi * (theta + sin * total)
    else:  # A = sin * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        for k in range(df // 2):
            total += term
            term *= cos2 * (2 * k + 1) / (2 * k + 2)
        inside = sin * total
    inside = min(1.0, inside)  # A = P(|T| <= |t|)
    return 0.5 + 0.5 * inside if t >= 0 else 0.5 - 0.5 * inside


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p, e.g. t_quantile(0.975, 2) = 4.303."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, sample standard deviation with n - 1); std is None below 2 values, both None for none."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def t_interval(values: Sequence[float], level: float = 0.95) -> dict:
    """Mean, sample std, n, the t quantile and the two-sided `level` t-interval of the mean of `values`
    (for paired differences: the interval of the mean difference); interval None below 2 values."""
    mean, std = mean_std(values)
    n = len(values)
    out = {"n": n, "mean": mean, "std": std, "level": level, "t": None, "ci": None}
    if std is not None:
        t = t_quantile(0.5 + level / 2.0, n - 1)
        half = t * std / math.sqrt(n)
        out.update(t=t, ci=[mean - half, mean + half])
    return out
