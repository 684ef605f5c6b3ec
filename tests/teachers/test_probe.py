"""Dual-form ridge probes on held-out episodes."""

import numpy as np
import pytest
import torch

from spatial_forcing.teachers.probe import probe_r2, r2_score, ridge_predictions, split_episodes


def test_episode_split_keeps_episodes_whole_and_every_split_non_empty():
    episodes = np.repeat(np.arange(8), 5)
    fit, val, test = split_episodes(episodes, seed=3)
    assert (fit.astype(int) + val + test == 1).all()
    for mask in (fit, val, test):
        assert mask.any()
        chosen = set(episodes[mask])
        assert all(mask[episodes == e].all() for e in chosen)  # whole episodes
    assert len(set(episodes[test])) == 2 and len(set(episodes[val])) == 2
    assert split_episodes(np.array([0, 1, 2]), 0)[2].sum() == 1
    with pytest.raises(ValueError, match="at least 3 episodes"):
        split_episodes(np.array([0, 0, 1]), 0)


def test_dual_ridge_equals_primal_ridge_on_standardised_features():
    torch.manual_seed(0)
    x, y, x_new = torch.randn(20, 5) * torch.tensor([1, 2, 3, 4, 5.0]), torch.randn(20, 2), torch.randn(4, 5)
    lam = 0.3
    pred = ridge_predictions(x, y, x_new, (lam,))[0]
    mean, std = x.mean(0), x.std(0, correction=0)
    a, b = ((x - mean) / std).double(), ((x_new - mean) / std).double()
    scale = torch.linalg.eigvalsh(a @ a.T).clamp(min=0).mean()
    eye = torch.eye(5, dtype=torch.float64)
    w = torch.linalg.solve(a.T @ a + lam * scale * eye, a.T @ (y - y.mean(0)).double())
    torch.testing.assert_close(pred, b @ w + y.mean(0).double(), atol=1e-5, rtol=1e-5)
    assert r2_score(torch.ones(3, 1), torch.zeros(3, 1)).isnan().all()  # no variance: undefined


def test_linear_column_is_read_out_and_shuffled_or_missing_columns_are_not():
    rng = np.random.default_rng(0)
    episodes = np.repeat(np.arange(12), 15)
    latent = rng.normal(size=(180, 3))
    x = latent @ rng.normal(size=(3, 400)) + 0.05 * rng.normal(size=(180, 400))  # wider than the frame count
    x = x.astype(np.float32)
    linear = latent @ np.array([1.0, -2.0, 0.5]) + 3.0
    shuffled = rng.permutation(linear)
    partly_nan = linear.copy()
    partly_nan[episodes < 4] = np.nan  # an object absent from some episodes: probed on the others
    all_nan = np.full(180, np.nan)
    y = np.stack([linear, shuffled, partly_nan, all_nan], axis=1)
    r2 = probe_r2(torch.from_numpy(x), y, episodes, seed=0)
    assert r2[0] > 0.95 and r2[2] > 0.9
    assert r2[1] < 0.1
    assert np.isnan(r2[3])
