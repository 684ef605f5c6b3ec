"""The depth probe on a synthetic case where the answer is known: tokens that encode each patch's depth
linearly give a low AbsRel; the same tokens shuffled across frames do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatial_forcing.probe.fit import DepthFit, fit_depth_probe
from spatial_forcing.probe.metrics import depth_metrics, valid_depth
from spatial_forcing.probe.ridge import r2, ridge_fit, ridge_r2

GRID, SIZE, FRAMES, VIEWS, DIM = (4, 4), 16, 160, 1, 24


def synthetic(seed: int = 0):
    """Depth maps: a tilted plane per frame (0.5-2.5 m) with a box at a random place; tokens: a fixed random
    linear map of each patch's 4x4 depth values (plus a little noise), in 4 'layers'."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, SIZE), torch.linspace(0, 1, SIZE), indexing="ij")
    base = 0.5 + 1.5 * torch.rand(FRAMES, 1, 1, 1, generator=g)
    tilt = 0.5 * torch.rand(FRAMES, 1, 1, 1, generator=g)
    depth = base + tilt * ys + 0.3 * torch.rand(FRAMES, 1, 1, 1, generator=g) * xs
    for i in range(FRAMES):
        r, c = torch.randint(0, SIZE - 6, (2,), generator=g).tolist()
        depth[i, 0, r:r + 6, c:c + 6] -= 0.3
    depth = depth.expand(FRAMES, VIEWS, SIZE, SIZE).clone()
    p = SIZE // GRID[0]
    patches = depth.reshape(FRAMES, VIEWS, GRID[0], p, GRID[1], p).permute(0, 1, 2, 4, 3, 5)
    patches = patches.reshape(FRAMES, VIEWS, GRID[0] * GRID[1], p * p)
    tokens = []
    for _ in range(4):
        w = torch.randn(p * p, DIM, generator=g) / p
        tokens.append(patches @ w + 0.01 * torch.randn(FRAMES, VIEWS, GRID[0] * GRID[1], DIM, generator=g))
    return tokens, depth


def test_tokens_that_encode_depth_give_a_low_abs_rel_and_shuffled_ones_do_not():
    torch.set_num_threads(1)
    tokens, depth = synthetic()
    valid = valid_depth(depth, 10.0)
    train = torch.arange(FRAMES) % 4 != 0
    fit = DepthFit(steps=120, batch_size=32, lr=3e-3, width=16)
    _, pred, good = fit_depth_probe(tokens, depth, valid, train, GRID, fit, progress=False)
    assert pred.shape == (FRAMES // 4, VIEWS, SIZE, SIZE)
    perm = torch.randperm(FRAMES, generator=torch.Generator().manual_seed(1))
    _, _, shuffled = fit_depth_probe([t[perm] for t in tokens], depth, valid, train, GRID, fit, progress=False)
    assert good["test"]["abs_rel"] < 0.08 and good["test"]["delta1"] > 0.95
    assert shuffled["test"]["abs_rel"] > 0.2 and shuffled["test"]["delta1"] < 0.7
    assert good["test"]["abs_rel"] < 0.3 * good["test_mean_depth"]["abs_rel"]
    assert shuffled["test"]["abs_rel"] > 0.7 * shuffled["test_mean_depth"]["abs_rel"]  # no better than the mean


def test_depth_metrics_are_the_standard_ones():
    gt = torch.tensor([1.0, 2.0, 4.0, 0.0, float("inf")])
    pred = torch.tensor([1.1, 3.0, 4.0, 5.0, 1.0])
    valid = valid_depth(gt, 10.0)
    assert valid.tolist() == [True, True, True, False, False]
    out = depth_metrics(pred, gt, valid)
    assert out["abs_rel"] == pytest.approx((0.1 + 0.5 + 0.0) / 3) and out["pixels"] == 3
    assert out["delta1"] == pytest.approx(2 / 3)  # 3/2 = 1.5 fails the 1.25 threshold
    with pytest.raises(ValueError, match="no valid pixel"):
        depth_metrics(pred, gt, torch.zeros(5, dtype=torch.bool))


def test_ridge_probe_recovers_a_linear_target_and_not_a_shuffled_one():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 4))
    x = latent @ rng.normal(size=(4, 300)) + 0.1 * rng.normal(size=(200, 300))  # 300 features > 150 rows: dual
    y = latent[:, :3] @ rng.normal(size=(3, 2))
    train = np.arange(200) % 4 != 0
    assert ridge_r2(x, y, train, alpha=1e-4) > 0.8
    assert ridge_r2(x, rng.permutation(y), train, alpha=1e-4) < 0.1
    assert ridge_r2(x[:, :20], y, train, alpha=1e-4) > 0.9  # the primal solve
    a = x[train][:, :20]  # both solves give the same weights
    a = (a - a.mean(0)) / (a.std(0) + 1e-6)
    lam = 0.5 * len(a)
    yc = y[train] - y[train].mean(0)
    primal = np.linalg.solve(a.T @ a + lam * np.eye(20), a.T @ yc)
    dual = a.T @ np.linalg.solve(a @ a.T + lam * np.eye(len(a)), yc)
    assert np.allclose(primal, dual)
    assert np.allclose(ridge_fit(x[train][:, :20], y[train], 0.5)(x[train][:, :20]), a @ primal + y[train].mean(0))
    assert r2(y, y) == 1.0
