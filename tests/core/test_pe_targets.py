import math

import pytest
import torch

from spatial_forcing.core.pe import sincos_pe_2d, uv_grid
from spatial_forcing.core.targets import build_targets, resample_grid


def test_uv_grid_span_matches_reference_for_37x37():
    g = uv_grid(37, 37)
    edge = math.sqrt(0.5) * 36 / 37  # +-0.7071 * 36/37 = 0.688
    assert g[0, 0, 0].item() == pytest.approx(-edge)
    assert g[0, -1, 0].item() == pytest.approx(edge)
    assert g[-1, 0, 1].item() == pytest.approx(edge)  # y grows downwards (row index)
    assert g[18, 18].abs().max().item() == pytest.approx(0.0, abs=1e-12)  # centre


def test_pe_values_at_known_grid_points():
    c = 16  # 4 frequencies per sin/cos block, omega_k = 100^(-k/4)
    pe = sincos_pe_2d(37, 37, c, scale=0.1)
    x0 = -math.sqrt(0.5) * 36 / 37
    y_last = math.sqrt(0.5) * 36 / 37
    for k in range(4):
        w = 100 ** (-k / 4)
        assert pe[0, 0, k].item() == pytest.approx(0.1 * math.sin(x0 * w), abs=1e-6)  # x, sin
        assert pe[0, 0, 4 + k].item() == pytest.approx(0.1 * math.cos(x0 * w), abs=1e-6)  # x, cos
        assert pe[-1, 0, 8 + k].item() == pytest.approx(0.1 * math.sin(y_last * w), abs=1e-6)  # y, sin
        assert pe[-1, 0, 12 + k].item() == pytest.approx(0.1 * math.cos(y_last * w), abs=1e-6)  # y, cos
    # centre token: sin 0, cos 1 -> norm 0.1 * sqrt(c/2)
    centre = sincos_pe_2d(1, 1, 2048)[0, 0]
    assert centre.norm().item() == pytest.approx(0.1 * math.sqrt(1024), rel=1e-6)  # 3.2, as the reference
    assert sincos_pe_2d(37, 37, 2048).abs().max().item() <= 0.1 + 1e-7


def test_pe_rejects_bad_channels():
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pe_2d(4, 4, 10)


def test_bilinear_resampling_of_a_linear_ramp_is_exact():
    h, w, hs, ws = 37, 37, 16, 16
    i = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    j = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    ramp = (2.0 * i - 0.5 * j + 3.0)[None, :, :, None]
    out = resample_grid(ramp, (hs, ws))[0, :, :, 0]
    ii = torch.arange(hs, dtype=torch.float32)[:, None] * (h - 1) / (hs - 1)  # align_corners=True
    jj = torch.arange(ws, dtype=torch.float32)[None, :] * (w - 1) / (ws - 1)
    assert torch.allclose(out, 2.0 * ii - 0.5 * jj + 3.0, atol=1e-4)


def test_build_targets_layout_and_masks():
    b, v, h, w, c = 2, 2, 4, 4, 8
    feats = torch.randn(b, v, h, w, c)
    targets, mask = build_targets(feats, (4, 4), use_pe=False)
    assert targets.shape == (b, v * 16, c) and mask.all()
    # view-major, row-major ordering
    assert torch.equal(targets[1, 16 + 5], feats[1, 1, 1, 1])
    view_valid = torch.tensor([[True, False], [True, True]])
    pixel_valid = torch.ones(b, v, 32, 32, dtype=torch.bool)
    pixel_valid[1, 0, :16] = False  # top half of view 0 of sample 1 is letterbox padding
    _, mask = build_targets(feats, (4, 4), use_pe=True, view_valid=view_valid, pixel_valid=pixel_valid)
    assert mask[0, :16].all() and not mask[0, 16:].any()
    assert not mask[1, :8].any() and mask[1, 8:].all()
    with pytest.raises(ValueError, match=r"\[B, V, h, w, C\]"):
        build_targets(torch.randn(2, 4, 4, 8), (4, 4))
