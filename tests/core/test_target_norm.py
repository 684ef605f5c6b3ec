"""Target normalisation: streamed dataset statistics, the three modes, where build_targets applies them."""

import pytest
import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.pe import sincos_pe_2d
from spatial_forcing.core.target_norm import FeatureStats, FeatureStatsAccumulator, normalize_features
from spatial_forcing.core.targets import build_targets, resample_grid


def test_streamed_stats_equal_two_pass_statistics_and_round_trip():
    torch.manual_seed(0)
    feats = 3.0 + 2.0 * torch.randn(23, 2, 3, 4, 8, dtype=torch.float64) + torch.randn(1, 2, 3, 4, 8)
    acc = FeatureStatsAccumulator()
    for part in feats.split(5):  # uneven batches
        acc.update(part.float())
    stats = acc.result()
    mean = feats.float().double().mean(dim=0)
    std = (feats.float().double() - mean).square().mean(dim=(0, 1, 2, 3)).sqrt()
    assert stats.frames == 23 and stats.mean.shape == (2, 3, 4, 8) and stats.std.shape == (8,)
    torch.testing.assert_close(stats.mean.double(), mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(stats.std.double(), std, atol=1e-6, rtol=1e-6)
    back = FeatureStats.from_tensors(stats.to_tensors())
    assert back.frames == 23 and torch.equal(back.mean, stats.mean) and torch.equal(back.std, stats.std)
    with pytest.raises(ValueError, match="do not match earlier batches"):
        acc.update(torch.zeros(1, 2, 3, 4, 7))
    with pytest.raises(ValueError, match=r"lack tensor\(s\) \['frames'\]"):
        FeatureStats.from_tensors({"mean": stats.mean, "std": stats.std})


def test_position_mean_gives_zero_mean_unit_variance_residuals_and_checks_stats():
    torch.manual_seed(1)
    feats = torch.randn(64, 2, 3, 3, 8) * torch.linspace(0.5, 4, 8) + 5 * torch.randn(2, 3, 3, 8)
    acc = FeatureStatsAccumulator()
    acc.update(feats)
    out = normalize_features(feats, "position_mean", stats=acc.result())
    assert out.mean(dim=0).abs().max() < 1e-4  # per-position mean removed
    per_channel_var = out.square().mean(dim=(0, 1, 2, 3))
    torch.testing.assert_close(per_channel_var, torch.ones(8), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="needs dataset feature statistics"):
        normalize_features(feats, "position_mean")
    with pytest.raises(ValueError, match=r"do not match teacher features"):
        normalize_features(feats[:, :1], "position_mean", stats=acc.result())
    with pytest.raises(ValueError, match="target norm must be one of"):
        normalize_features(feats, "weird")
    assert normalize_features(feats, "none") is feats


def test_token_mean_is_per_sample_and_view_spatial_normalisation():
    torch.manual_seed(2)
    feats = torch.randn(3, 2, 4, 4, 8) + torch.randn(3, 2, 1, 1, 8) * 10
    full = normalize_features(feats, "token_mean", gamma=1.0)
    assert full.mean(dim=(2, 3)).abs().max() < 1e-5
    torch.testing.assert_close(full.std(dim=(2, 3), correction=0), torch.ones(3, 2, 8), atol=1e-4, rtol=1e-4)
    part = normalize_features(feats, "token_mean", gamma=0.6, eps=0.0)
    x = feats[1, 0]  # one sample and view by hand
    want = (x - 0.6 * x.mean(dim=(0, 1))) / x.std(dim=(0, 1), correction=0)
    torch.testing.assert_close(part[1, 0], want, atol=1e-5, rtol=1e-5)
    constant = normalize_features(torch.ones(1, 1, 2, 2, 4), "token_mean", gamma=1.0)
    assert torch.isfinite(constant).all() and constant.abs().max() == 0  # std 0: eps keeps it finite


def test_build_targets_normalises_raw_features_before_pe_and_resampling():
    torch.manual_seed(3)
    feats = torch.randn(4, 2, 5, 5, 8)
    acc = FeatureStatsAccumulator()
    acc.update(feats)
    stats = acc.result()
    targets, _ = build_targets(feats, (3, 3), use_pe=True, pe_scale=0.1, norm="position_mean", stats=stats)
    by_hand = (feats - stats.mean) / stats.std + sincos_pe_2d(5, 5, 8, scale=0.1)
    want = resample_grid(by_hand.reshape(8, 5, 5, 8), (3, 3)).reshape(4, 2 * 9, 8)
    torch.testing.assert_close(targets, want, atol=1e-5, rtol=1e-5)
    default, _ = build_targets(feats, (3, 3))
    raw, _ = build_targets(feats, (3, 3), norm="none")
    assert torch.equal(default, raw)


def test_align_config_validates_target_norm():
    assert AlignConfig().target_norm == "none" and AlignConfig().target_norm_gamma == 0.6
    assert AlignConfig(target_norm="position_mean").target_norm == "position_mean"
    with pytest.raises(ValueError, match="align.target_norm must be one of"):
        AlignConfig(target_norm="mean")
    with pytest.raises(ValueError, match="align.target_norm_gamma"):
        AlignConfig(target_norm_gamma=1.5)
