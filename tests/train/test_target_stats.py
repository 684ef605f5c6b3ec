"""Dataset-level target quantities of TargetProvider (statistics, mean target per token) and their use in
training: the SF module gets them, metrics gain position_only_cos / residual_cos."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.diagnostics import position_diagnostics
from spatial_forcing.core.target_norm import FeatureStatsAccumulator
from spatial_forcing.core.targets import build_targets
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.teachers.mini import save_weights
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import train
from spatial_forcing.train.targets import TargetProvider


@pytest.fixture()
def dataset(synthetic_dataset, tmp_path):
    return shutil.copytree(synthetic_dataset, tmp_path / "ds")


def small_teacher():
    torch.manual_seed(0)
    return build_teacher("mini3d", weights="random", dim=32, heads=2, depth=3, num_registers=2)


@pytest.mark.parametrize("norm", ["none", "position_mean", "token_mean"])
def test_position_mean_is_the_mean_of_the_final_targets_over_the_dataset(dataset, norm):
    data = ChunkDataset(dataset, image_size=32, episodes=[1, 4, 5])  # positions != global frame indices
    teacher = small_teacher()
    disk = TargetProvider.for_dataset(teacher, 2, "cache", data)
    cfg = AlignConfig(target_norm=norm, pe_scale=0.5)
    feats = disk(torch.arange(len(data)), None)
    acc = FeatureStatsAccumulator()
    acc.update(feats)  # statistics of the run's own frames, not of the cache's other episodes
    torch.testing.assert_close(disk.feature_stats.mean, acc.result().mean)
    torch.testing.assert_close(disk.feature_stats.std, acc.result().std)
    assert disk.feature_stats.frames == 36
    targets, _ = build_targets(feats, (3, 3), True, 0.5, norm=norm, stats=acc.result())
    mean = disk.position_mean((3, 3), cfg)
    assert mean.shape == (2 * 9, teacher.dim)
    torch.testing.assert_close(mean, targets.mean(dim=0), atol=1e-5, rtol=1e-5)
    cos, frames = disk.position_only_cos((3, 3), cfg)
    assert frames == len(data) == 36
    direct = position_diagnostics(targets, targets, None, mean)["position_only_cos"]
    assert cos == pytest.approx(direct, abs=1e-5)
    memory = TargetProvider(teacher, 2, "cache", images_u8=data.images)  # the in-memory fallback: same frames
    torch.testing.assert_close(memory.position_mean((3, 3), cfg), mean, atol=2e-3, rtol=2e-3)


def test_a_dataset_of_every_frame_reads_the_statistics_stored_with_the_cache(dataset, monkeypatch):
    data = ChunkDataset(dataset, image_size=32)
    provider = TargetProvider.for_dataset(small_teacher(), 2, "cache", data)
    acc = FeatureStatsAccumulator()
    acc.update(provider.disk[torch.arange(72)].float())
    recompute = lambda *a: pytest.fail("recomputed the statistics")
    monkeypatch.setattr(FeatureStatsAccumulator, "update", recompute)
    assert provider.feature_stats.frames == 72
    torch.testing.assert_close(provider.feature_stats.mean, acc.result().mean)


def test_online_statistics_come_from_the_teacher_on_a_seeded_subset(dataset):
    data = ChunkDataset(dataset, image_size=32)
    teacher = small_teacher()
    online = TargetProvider.for_dataset(teacher, 2, "online", data)
    cached = TargetProvider.for_dataset(teacher, 2, "cache", data)
    assert online.disk is None and cached.disk is not None
    # 72 frames < 256: the subset is the whole dataset, so online and cache statistics agree (fp16 both).
    torch.testing.assert_close(online.feature_stats.mean, cached.feature_stats.mean, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(online.feature_stats.std, cached.feature_stats.std, atol=2e-3, rtol=2e-3)
    cfg = AlignConfig(target_norm="position_mean")
    torch.testing.assert_close(online.position_mean((4, 4), cfg), cached.position_mean((4, 4), cfg),
                               atol=5e-3, rtol=5e-3)
    calls = []
    inner = teacher.forward_intermediates
    teacher.forward_intermediates = lambda *a, **k: calls.append(1) or inner(*a, **k)
    online.position_mean((2, 2), AlignConfig())  # the subset's features are kept: no new teacher run
    assert calls == []


@pytest.mark.parametrize("targets,norm", [("cache", "position_mean"), ("online", "token_mean")])
def test_training_logs_position_metrics_with_target_norms(dataset, tmp_path, targets, norm, caplog):
    weights = tmp_path / "mini3d_small.safetensors"
    save_weights(small_teacher().model, weights)
    cfg = TrainConfig(dataset=str(dataset), out=str(tmp_path / "run"), vla_preset="tiny",
                      align=AlignConfig(enabled=True, teacher="mini3d", layers=[2], target_norm=norm),
                      teacher_weights=str(weights), targets=targets, steps=2, batch_size=8, warmup_steps=1,
                      threads=1, log_every=1, save_every=2)
    with caplog.at_level("INFO", logger="spatial_forcing.train.loop"):
        train(cfg)
    assert any("alone has cosine" in r.message for r in caplog.records)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        assert {"align_cos", "position_only_cos", "residual_cos"} <= set(row)
        assert -1.0 <= row["residual_cos"] <= 1.0 and -1.0 <= row["position_only_cos"] <= 1.0
