"""Normalisation statistics, computed once per dataset and stored in meta/stats.json.

Layout follows LeRobot: `{feature_key: {"min", "max", "mean", "std", "count", ...}}` with every value a
(nested) list. Numeric vectors get per-dimension stats plus the 1st/99th percentiles `q01`/`q99`; images get
per-channel stats of pixel values in [0, 1] with shape [3, 1, 1], as LeRobot stores them. Multi-dimensional
numeric features (depth maps, segmentation, camera matrices) get scalar stats over all values, shape [1].
NaN entries (absent objects) are ignored; a column with no number at all gets 0 for every statistic (LeRobot
reads stats.json into numpy arrays, which cannot hold JSON null: the file stays loadable by `LeRobotDataset`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

QUANTILES = {"q01": 0.01, "q99": 0.99}  # name -> quantile stored for numeric features


def vector_stats(values: np.ndarray) -> dict[str, list]:
    """Stats of an [N, D] (or [N]) array along the frame axis."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if len(x) == 0:
        raise ValueError("cannot compute statistics of an empty array")
    if np.isnan(x).any():
        return _nan_vector_stats(x)
    out = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0)}
    for name, q in QUANTILES.items():
        out[name] = np.quantile(x, q, axis=0)
    stats = {k: v.tolist() for k, v in out.items()}
    stats["count"] = [int(len(x))]
    return stats


def _nan_vector_stats(x: np.ndarray) -> dict[str, list]:
    """vector_stats ignoring NaN; all-NaN columns get 0 (finite: LeRobot loads these stats as numeric arrays)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        out = {"min": np.nanmin(x, 0), "max": np.nanmax(x, 0), "mean": np.nanmean(x, 0),
               "std": np.nanstd(x, 0)}
        for name, q in QUANTILES.items():
            out[name] = np.nanquantile(x, q, axis=0)
    stats = {k: [0.0 if np.isnan(e) else float(e) for e in v] for k, v in out.items()}
    stats["count"] = [int(len(x))]
    return stats


class ArrayStatsAccumulator:
    """min/max/mean/std over every value of a multi-dimensional numeric feature, shape [1] each (running sums:
    per-pixel stats of depth maps would be large and useless)."""

    def __init__(self) -> None:
        self.count = 0  # frames seen
        self._n, self._sum, self._sq = 0, 0.0, 0.0  # values seen, their sum and sum of squares
        self._min, self._max = np.inf, -np.inf

    def add(self, rows: np.ndarray) -> None:
        """Add frames [n, ...]."""
        x = np.asarray(rows, dtype=np.float64)
        if x.size == 0:
            return
        self.count += len(x)
        self._n += x.size
        self._sum += float(x.sum())
        self._sq += float(np.square(x).sum())
        self._min, self._max = min(self._min, float(x.min())), max(self._max, float(x.max()))

    def result(self) -> dict[str, list]:
        """The stats dict for this feature."""
        mean = self._sum / max(self._n, 1)
        std = float(np.sqrt(max(self._sq / max(self._n, 1) - mean**2, 0.0)))
        return {"min": [self._min], "max": [self._max], "mean": [mean], "std": [std], "count": [self.count]}


class ImageStatsAccumulator:
    """Per-channel min/max/mean/std of uint8 images, reported in [0, 1] with shape [3, 1, 1].

    Keeps an exact 256-bin histogram per channel, which is cheaper than float sums and has no round-off.
    """

    def __init__(self) -> None:
        self.count = 0  # number of images seen
        self._hist = np.zeros((3, 256), dtype=np.int64)

    def add(self, images: np.ndarray) -> None:
        """Add uint8 images [..., H, W, 3]."""
        images = np.asarray(images)
        if images.size == 0:
            return
        self.count += int(np.prod(images.shape[:-3])) if images.ndim > 3 else 1
        flat = images.reshape(-1, 3)
        for c in range(3):
            self._hist[c] += np.bincount(flat[:, c], minlength=256)

    def result(self) -> dict[str, list]:
        """The stats dict for this feature."""
        levels = np.arange(256, dtype=np.float64)
        n = np.maximum(self._hist.sum(1), 1)
        mean = (self._hist * levels).sum(1) / n
        var = np.maximum((self._hist * levels**2).sum(1) / n - mean**2, 0.0)
        seen = self._hist > 0
        lo = np.array([levels[s].min() if s.any() else 0.0 for s in seen])
        hi = np.array([levels[s].max() if s.any() else 0.0 for s in seen])

        def col(v: np.ndarray) -> list:
            return (v / 255.0).reshape(3, 1, 1).tolist()

        return {"min": col(lo), "max": col(hi), "mean": col(mean), "std": col(np.sqrt(var)),
                "count": [self.count]}


def stats_to_numpy(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, np.ndarray]]:
    """Lists -> float arrays (the inverse of json-serialising)."""
    return {key: {name: np.asarray(v, dtype=np.float64) for name, v in feat.items()}
            for key, feat in stats.items()}
