"""Stats against numpy; normaliser round trips in both modes, numpy and torch, and through a state dict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from lerobot_helpers import make_episodes

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.stats import vector_stats


def test_stored_stats_match_numpy(tiny):
    root, episodes = tiny
    stats = json.loads((root / "meta/stats.json").read_text())
    for key in (fmt.STATE_KEY, fmt.ACTION_KEY):
        x = np.stack([f[key] for ep in episodes for f in ep["frames"]]).astype(np.float64)
        s = stats[key]
        np.testing.assert_allclose(s["min"], x.min(0), rtol=1e-6)
        np.testing.assert_allclose(s["max"], x.max(0), rtol=1e-6)
        np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-5)
        np.testing.assert_allclose(s["q01"], np.quantile(x, 0.01, axis=0), rtol=1e-6)
        np.testing.assert_allclose(s["q99"], np.quantile(x, 0.99, axis=0), rtol=1e-6)
        assert s["count"] == [len(x)]
    imgs = np.stack([f[fmt.image_key("agentview")] for ep in episodes for f in ep["frames"]]) / 255.0
    s = stats[fmt.image_key("agentview")]
    np.testing.assert_allclose(np.array(s["mean"]).ravel(), imgs.reshape(-1, 3).mean(0), rtol=1e-6)
    np.testing.assert_allclose(np.array(s["std"]).ravel(), imgs.reshape(-1, 3).std(0), rtol=1e-5)
    np.testing.assert_allclose(np.array(s["max"]).ravel(), imgs.reshape(-1, 3).max(0))


@pytest.mark.parametrize("mode", ["q99", "mean_std"])
def test_normalizer_round_trip(mode):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 7)) * np.arange(1, 8) + np.arange(7)
    x[:, 6] = np.where(rng.random(500) < 0.5, -1.0, 1.0)  # gripper-like binary dim
    x[:, 5] = 0.25  # a constant dimension
    stats = {"action": vector_stats(x), "observation.state": vector_stats(x)}
    norm = Normalizer(stats, mode=mode)
    y = norm.normalize("action", x)
    if mode == "q99":
        assert y.min() >= -1 and y.max() <= 1
        np.testing.assert_allclose(y[:, 6], x[:, 6])  # bounds -1/1 map to themselves
        np.testing.assert_array_equal(y[:, 5], 0.0)
        inside = np.all((x >= stats["action"]["q01"]) & (x <= stats["action"]["q99"]), axis=1)
        assert inside.sum() > 400
        np.testing.assert_allclose(norm.unnormalize("action", y)[inside], x[inside], atol=1e-9)
        lo = np.asarray(stats["action"]["q01"])
        np.testing.assert_allclose(norm.normalize("action", lo[None])[0, :5], -1.0)
    else:
        np.testing.assert_allclose(y[:, :5].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(y[:, :5].std(0), 1, atol=1e-9)
        np.testing.assert_allclose(norm.unnormalize("action", y), x, atol=1e-9)
    # torch path agrees, keeps float32, and the state dict rebuilds the same map through JSON
    xt = torch.tensor(x, dtype=torch.float32)
    yt = norm.normalize("action", xt)
    assert yt.dtype == torch.float32
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-5)
    again = Normalizer.from_state_dict(json.loads(json.dumps(norm.state_dict())))
    back = again.unnormalize("action", yt).numpy()
    np.testing.assert_allclose(back, norm.unnormalize("action", y), atol=1e-4)


def test_normalizer_rejects_missing_stats():
    from spatial_forcing.utils.errors import SFError

    with pytest.raises(SFError, match="observation.state"):
        Normalizer({"action": vector_stats(np.zeros((3, 7)))})
    with pytest.raises(SFError, match="unknown normalization"):
        Normalizer({}, mode="minmax")


def test_stats_of_episodes_helper_is_deterministic():
    a = make_episodes(seed=3)
    b = make_episodes(seed=3)
    np.testing.assert_array_equal(a[2]["frames"][1][fmt.STATE_KEY], b[2]["frames"][1][fmt.STATE_KEY])
