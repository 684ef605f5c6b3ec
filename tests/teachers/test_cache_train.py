"""Training reads the on-disk cache: same targets as in-memory computation, no teacher compute per run."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.data.augment import crop_boxes, crop_features
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


def test_cache_targets_equal_in_memory_targets_on_an_episode_subset(dataset):
    data = ChunkDataset(dataset, image_size=32, episodes=[1, 4, 5])  # positions != global frame indices
    teacher = small_teacher()
    disk = TargetProvider.for_dataset(teacher, 2, "cache", data)
    memory = TargetProvider(teacher, 2, "cache", images_u8=data.images)
    assert disk.disk is not None and memory.disk is None
    assert (dataset.parent / "ds.sf_cache").is_dir()
    positions = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:16]
    images = torch.stack([data[int(i)]["images"] for i in positions])
    a, b = disk(positions, images), memory(positions, images)
    assert a.dtype == torch.float32 and a.shape == (16, 2, 8, 8, teacher.dim)
    torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3)  # at most an fp16 rounding flip (batching differs)
    boxes = crop_boxes(16, 2, 0.9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(disk(positions, images, boxes), crop_features(b, boxes), atol=2e-3, rtol=2e-3)
    # A second run opens the cache: the teacher is never called.
    calls = []
    inner = teacher.forward_intermediates
    teacher.forward_intermediates = lambda *a, **k: calls.append(1) or inner(*a, **k)
    again = TargetProvider.for_dataset(teacher, 2, "cache", ChunkDataset(dataset, image_size=32))
    again(torch.arange(8), None)
    assert calls == []


@pytest.mark.parametrize("targets", ["cache", "online"])
def test_training_with_crops_runs_in_both_target_modes(dataset, tmp_path, targets):
    weights = tmp_path / "mini3d_small.safetensors"
    save_weights(small_teacher().model, weights)
    cfg = TrainConfig(dataset=str(dataset), out=str(tmp_path / targets), vla_preset="tiny",
                      align=AlignConfig(enabled=True, teacher="mini3d", layers=[2]), teacher_weights=str(weights),
                      targets=targets, crop_scale=0.9, steps=3, batch_size=8, warmup_steps=1, threads=1,
                      log_every=1, save_every=3)
    train(cfg)
    rows = [json.loads(line) for line in (tmp_path / targets / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor(r["align_loss"])) and r["align_loss"] > 0 for r in rows)
    assert (dataset.parent / "ds.sf_cache").is_dir() == (targets == "cache")
