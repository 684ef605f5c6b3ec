"""Pretraining data: synthetic MuJoCo renders, geometry targets, render cache, baseline metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatial_forcing.teachers.pretrain.evaluate import depth_errors, mean_depth_map
from spatial_forcing.teachers.pretrain.losses import geometry_targets
from spatial_forcing.teachers.pretrain.render_set import RenderSet
from spatial_forcing.teachers.pretrain.renders import get_renders
from spatial_forcing.teachers.pretrain.synthetic import render_synthetic
from spatial_forcing.utils.errors import SFError


@pytest.fixture(scope="module")
def renders() -> RenderSet:
    return render_synthetic(12, image_size=32, seed=3)


def test_render_shapes(renders):
    assert renders.images.shape == (12, 2, 32, 32, 3) and renders.images.dtype == np.uint8
    assert renders.depth.shape == (12, 2, 32, 32) and renders.intrinsics.shape == (12, 2, 3, 3)
    assert np.allclose(renders.extrinsics[:, :, 3], [0, 0, 0, 1])
    assert renders.images.std() > 10  # not blank


def test_geometry_targets_are_consistent(renders):
    arrays = (renders.depth, renders.intrinsics, renders.extrinsics)
    t = geometry_targets(*(torch.from_numpy(a) for a in arrays))
    assert torch.allclose(t["points"][:, 0, ..., 2], torch.from_numpy(renders.depth)[:, 0], atol=1e-4)
    eye6 = torch.tensor([0.0, 0, 0, 1, 0, 0, 0, 1, 0])
    assert torch.allclose(t["pose"][:, 0], eye6.expand(12, 9), atol=1e-5)
    # wrist points, moved into camera 0's frame, re-project onto camera 0 with matching depth
    k0 = torch.from_numpy(renders.intrinsics[:, 0])
    errs = []
    for n in range(12):
        p = t["points"][n, 1][t["valid"][n, 1]]
        uvw = p @ k0[n].T
        u, v, z = uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2], p[:, 2]
        ok = (z > 0) & (u > -0.5) & (u < 31.5) & (v > -0.5) & (v < 31.5)
        if ok.sum() > 20:
            seen = torch.from_numpy(renders.depth[n, 0])[v[ok].round().long(), u[ok].round().long()]
            errs.append((seen - z[ok]).abs().median().item())
    assert errs and float(np.median(errs)) < 0.03


def test_render_cache_round_trip(tmp_path, renders):
    path = tmp_path / "cache.npz"
    renders.save(path)
    back = get_renders("synthetic", 8, 32, path)  # served from the cache (no re-render)
    assert len(back) == 8 and np.array_equal(back.images, renders.images[:8])
    assert np.allclose(back.depth, renders.depth[:8], rtol=1e-3, atol=1e-3)
    with pytest.raises(SFError):
        get_renders("nope", 100, 32, tmp_path / "other.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(SFError):
        RenderSet.load(tmp_path / "bad.npz")


def test_mean_depth_baseline(renders):
    depth = torch.from_numpy(renders.depth)
    valid = depth < 3.5
    base = mean_depth_map(depth, valid)
    assert base.shape == (2, 32, 32)
    assert depth_errors(depth, depth, valid)["rmse_m"] == 0.0
    err = depth_errors(base[None], depth, valid)
    assert err["rmse_m"] > 0 and err["abs_rel"] > 0
