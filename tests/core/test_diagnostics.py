"""Position diagnostics: the cosine of a per-position-mean predictor and of the prediction's residual."""

import pytest
import torch
from torch import nn

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.diagnostics import (PositionMeanAccumulator, position_diagnostics,
                                              position_variance_fraction)
from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.core.target_norm import FeatureStatsAccumulator
from spatial_forcing.core.targets import build_targets


def test_target_equal_to_its_position_mean_is_all_position():
    mu = torch.randn(6, 4)
    target = mu.expand(3, 6, 4).clone()
    d = position_diagnostics(torch.randn(3, 6, 4), target, None, mu)
    assert d["position_only_cos"] == pytest.approx(1.0, abs=1e-6)
    assert d["residual_cos"] == 0.0  # zero residual vector: cosine 0


def test_residual_cosine_is_plus_or_minus_one_and_masks_count():
    torch.manual_seed(0)
    mu, r = torch.randn(6, 4), torch.randn(3, 6, 4)
    target = mu + r
    assert position_diagnostics(mu + r, target, None, mu)["residual_cos"] == pytest.approx(1.0, abs=1e-5)
    assert position_diagnostics(mu - r, target, None, mu)["residual_cos"] == pytest.approx(-1.0, abs=1e-5)
    pred = mu + r
    pred[:, 3:] = mu[3:] - r[:, 3:]  # tokens 3.. are wrong
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[:, :3] = True
    assert position_diagnostics(pred, target, mask, mu)["residual_cos"] == pytest.approx(1.0, abs=1e-5)
    assert position_diagnostics(pred, target, None, mu)["residual_cos"] == pytest.approx(0.0, abs=1e-5)
    # Per sample over valid tokens, then over samples: sample 0 has one good token, sample 1 five bad ones.
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[0, 0], mask[1, 1:] = True, True  # sample 2 has no valid token and is left out
    pred = mu - r
    pred[0, 0] = mu[0] + r[0, 0]
    assert position_diagnostics(pred, target, mask, mu)["residual_cos"] == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="must be"):
        position_diagnostics(pred, target, mask, mu[:5])


def test_spatial_forcing_reports_position_metrics_only_with_a_position_mean():
    torch.manual_seed(0)
    model = nn.Sequential(*(nn.Linear(16, 16) for _ in range(3)))
    feats = torch.randn(4, 2, 2, 2, 8) + torch.randn(2, 2, 2, 8)
    acc = FeatureStatsAccumulator()
    acc.update(feats)
    cfg = AlignConfig(mode="multi", layers=[1, 3], target_norm="position_mean")
    sf = SpatialForcing(cfg, student_dim=16, teacher_dim=8, layers=[1, 3])
    sf.attach(model, {k: str(k - 1) for k in (1, 3)}, TokenLayout(views=2, grid=(2, 2), offset=1))
    model(torch.randn(4, 10, 16))
    with pytest.raises(ValueError, match="needs dataset feature statistics"):
        sf(feats)
    sf.set_target_stats(acc.result())
    model(torch.randn(4, 10, 16))
    _, metrics = sf(feats)
    assert "position_only_cos" not in metrics
    targets, _ = build_targets(feats, (2, 2), norm="position_mean", stats=acc.result())
    sf.set_position_mean(targets.mean(dim=0))
    x = torch.randn(4, 10, 16)
    model(x)
    _, metrics = sf(feats)
    hidden = [model[0](x), model(x)]
    preds = [sf.projectors[i](h[:, 1:9]) for i, h in enumerate(hidden)]
    want = [position_diagnostics(p, targets, None, targets.mean(dim=0)) for p in preds]
    assert metrics["residual_cos"] == pytest.approx((want[0]["residual_cos"] + want[1]["residual_cos"]) / 2)
    assert metrics["position_only_cos"] == pytest.approx(want[0]["position_only_cos"])
    assert not any(k.startswith(("target_", "position_")) for k in sf.state_dict())  # not in checkpoints
    assert {n for n, _ in sf.named_buffers()} >= {"target_mean", "target_std", "position_mean"}


def test_position_variance_fraction_matches_its_definition():
    torch.manual_seed(1)
    feats = torch.randn(40, 2, 3, 3, 6, dtype=torch.float64) + 2 * torch.randn(2, 3, 3, 6).double()
    acc = FeatureStatsAccumulator()
    acc.update(feats)
    stats = acc.result()
    mu_p, mu = feats.mean(dim=0), feats.mean(dim=(0, 1, 2, 3))
    want = 1 - (feats - mu_p).square().sum(-1).mean() / (feats - mu).square().sum(-1).mean()
    assert position_variance_fraction(stats.mean, stats.std) == pytest.approx(float(want), abs=1e-5)
    assert 0.5 < float(want) < 0.95
    constant = FeatureStatsAccumulator()
    constant.update(torch.randn(1, 2, 3, 3, 6).expand(5, -1, -1, -1, -1))
    assert position_variance_fraction(constant.result().mean, constant.result().std) == pytest.approx(1.0)


def test_position_mean_accumulator_equals_the_direct_computation():
    torch.manual_seed(2)
    targets = torch.randn(30, 8, 5) + torch.randn(8, 5)
    acc = PositionMeanAccumulator()
    for part in targets.split(7):
        acc.update(part)
    mean, cos = acc.result()
    torch.testing.assert_close(mean, targets.mean(dim=0))
    direct = position_diagnostics(targets, targets, None, targets.mean(dim=0))["position_only_cos"]
    assert acc.count == 30 and cos == pytest.approx(direct, abs=1e-6)
