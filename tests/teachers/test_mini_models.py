"""Shapes, Teacher-protocol compliance and cross-view mixing of the mini teachers (random init, tiny size)."""

from __future__ import annotations

import pytest
import torch

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini2d import Mini2D
from spatial_forcing.teachers.mini3d import Mini3D
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError

TINY = dict(image_size=32, patch=8, dim=32, depth=2, heads=2, num_registers=2, head_hidden=32)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.mark.parametrize("name", ["mini3d", "mini2d"])
def test_protocol_and_shapes(name):
    teacher = build_teacher(name, weights="random", **TINY)
    assert isinstance(teacher, Teacher)
    assert teacher.name == name and teacher.dim == 2 * TINY["dim"] and teacher.num_layers == TINY["depth"]
    assert teacher.grid((32, 32)) == (4, 4)
    assert teacher.grid((64, 64)) == (4, 4)  # larger inputs are resized to the native scale
    x = torch.rand(3, 2, 3, 32, 32)
    feats = teacher.forward_intermediates(x, [0, -1])
    assert [tuple(f.shape) for f in feats] == [(3, 2, 4, 4, 64)] * 2
    big = teacher.forward_intermediates(torch.rand(1, 2, 3, 64, 64), [1])[0]
    assert big.shape == (1, 2, 4, 4, 64)
    assert torch.equal(feats[1], teacher.forward_intermediates(x, [1])[0])  # -1 is the last layer
    assert not feats[0].requires_grad
    teacher.train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    with pytest.raises(SFError):
        teacher.forward_intermediates(x, [TINY["depth"]])
    with pytest.raises(SFError):
        teacher.forward_intermediates(x[0], [0])


def test_native_grid_is_8x8_at_64px():
    teacher = build_teacher("mini3d", weights="random", dim=32, depth=1, heads=2)
    assert teacher.grid((64, 64)) == (8, 8) and teacher.grid((128, 128)) == (8, 8)


def _perturb_view1(x: torch.Tensor) -> torch.Tensor:
    y = x.clone()
    y[:, 1] = torch.rand_like(y[:, 1])
    return y


def test_mini3d_global_attention_mixes_views():
    teacher = build_teacher("mini3d", weights="random", **TINY)
    x = torch.rand(2, 2, 3, 32, 32)
    a, b = (teacher.forward_intermediates(t, [0])[0] for t in (x, _perturb_view1(x)))
    d = TINY["dim"]
    assert torch.allclose(a[:, 0, ..., :d], b[:, 0, ..., :d])  # frame half of layer 0: view 0 alone
    assert (a[:, 0, ..., d:] - b[:, 0, ..., d:]).abs().max() > 1e-4  # global half sees view 1


def test_mini2d_views_are_independent():
    teacher = build_teacher("mini2d", weights="random", **TINY)
    x = torch.rand(2, 2, 3, 32, 32)
    a, b = (teacher.forward_intermediates(t, [-1])[0] for t in (x, _perturb_view1(x)))
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6)
    assert (a[:, 1] - b[:, 1]).abs().max() > 1e-4


def test_mini3d_heads_shapes():
    model = Mini3D(MiniConfig(**TINY))
    out = model(torch.rand(2, 3, 3, 32, 32))
    assert out["depth"].shape == out["depth_logconf"].shape == out["points_logconf"].shape == (2, 3, 32, 32)
    assert out["points"].shape == (2, 3, 32, 32, 3) and out["pose"].shape == (2, 3, 9)
    model.init_output_bias(1.5, [0.1, -0.2, 1.0])
    assert model(torch.zeros(1, 2, 3, 32, 32))["depth"].mean().item() == pytest.approx(1.5, abs=0.5)


def test_mini2d_masking():
    model = Mini2D(MiniConfig(**TINY, mask_ratio=0.5))
    mask = model.random_mask(6, 16, torch.Generator().manual_seed(0))
    assert mask.shape == (6, 16) and (mask.sum(1) == 8).all()
    out = model(torch.rand(3, 2, 3, 32, 32), mask)
    assert out["pixels"].shape == (6, 3, 32, 32) and torch.equal(out["mask"], mask)


def test_bad_config_rejected():
    with pytest.raises(ValueError):
        MiniConfig(image_size=30, patch=8)
    with pytest.raises(SFError):
        build_teacher("mini3d", weights="/nonexistent/file.safetensors")
