"""Real behaviour of the SHIPPED weights on freshly rendered tabletop frames (seeds unseen in pretraining)."""

from __future__ import annotations

import json

import pytest
import torch

from spatial_forcing.teachers.mini import shipped_weights
from spatial_forcing.teachers.pretrain.evaluate import eval_mini2d, eval_mini3d, mean_depth_map
from spatial_forcing.teachers.pretrain.loop import tensors
from spatial_forcing.teachers.pretrain.losses import mini2d_loss
from spatial_forcing.teachers.pretrain.renders import render_tabletop
from spatial_forcing.teachers.registry import build_teacher

MARGIN = 0.75  # the teacher's depth error must be below 75% of the mean-depth baseline's


@pytest.fixture(scope="module")
def frames():
    torch.set_num_threads(1)
    test = tensors(render_tabletop(16, image_size=64, seed=9_001))
    reference = tensors(render_tabletop(32, image_size=64, seed=9_002))  # training-like set -> baseline
    return test, mean_depth_map(reference["depth"], reference["valid"])


@pytest.mark.parametrize("kind", ["mini3d", "mini2d"])
def test_shipped_files(kind):
    path = shipped_weights(kind)
    assert path.is_file() and path.stat().st_size <= 20 * 2**20
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["kind"] == kind and meta["metrics"]
    teacher = build_teacher(kind)
    assert teacher.grid((64, 64)) == (8, 8) and teacher.grid((128, 128)) == (8, 8)
    assert teacher.dim == 2 * meta["config"]["dim"]


def test_shipped_mini3d_beats_mean_depth_baseline(frames):
    test, baseline = frames
    model = build_teacher("mini3d").model
    m = eval_mini3d(model, test["images"], test["depth"], test["valid"], baseline)
    assert m["abs_rel"] < MARGIN * m["baseline_abs_rel"], m
    assert m["rmse_m"] < MARGIN * m["baseline_rmse_m"], m
    assert m["abs_rel"] < 0.08, m  # 16 fresh frames; the sidecar's 1,000 held-out frames say 0.041
    meta = json.loads(shipped_weights("mini3d").with_suffix(".json").read_text())
    assert meta["metrics"]["abs_rel"] <= 0.06 and "command" in meta


def test_shipped_mini2d_reconstructs_masked_patches(frames):
    test, _ = frames
    model = build_teacher("mini2d").model
    ours = eval_mini2d(model, test["images"])["recon"]
    x = test["images"].float() / 255.0
    p = model.cfg.patch
    mask = torch.ones(x.shape[0] * x.shape[1], (64 // p) ** 2, dtype=torch.bool)
    zeros = {"pixels": torch.zeros(x.shape[0] * x.shape[1], 3, 64, 64), "mask": mask}
    patch_mean = mini2d_loss(zeros, x, p)["loss"].item()  # predicting each patch's mean colour
    assert ours < 0.8 * patch_mean, (ours, patch_mean)
