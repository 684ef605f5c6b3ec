"""Weight files of the mini teachers: save/load round trip, fp16 storage, and user-facing errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini2d import Mini2D
from spatial_forcing.teachers.mini import load_model, save_weights
from spatial_forcing.teachers.mini3d import Mini3D
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError

TINY = MiniConfig(image_size=32, patch=8, dim=32, depth=2, heads=2, num_registers=2, head_hidden=32)


@pytest.mark.parametrize("cls", [Mini3D, Mini2D])
def test_round_trip_fp32_exact(tmp_path, cls):
    torch.manual_seed(0)
    model = cls(TINY)
    path = tmp_path / f"{cls.kind}.safetensors"
    save_weights(model, path, extra={"metrics": {"x": 1.0}})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["kind"] == cls.kind and meta["config"]["dim"] == 32 and meta["metrics"] == {"x": 1.0}
    loaded = load_model(path, cls)
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(1, 2, 3, 32, 32)
    teacher = build_teacher(cls.kind, weights=path)
    ref = build_teacher(cls.kind, weights="random", **dataclasses.asdict(TINY))
    ref.model.load_state_dict(model.state_dict())
    assert torch.equal(teacher.forward_intermediates(x, [-1])[0], ref.forward_intermediates(x, [-1])[0])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_fp16_storage_is_smaller_and_close(tmp_path):
    model = Mini3D(TINY)
    save_weights(model, tmp_path / "a.safetensors")
    save_weights(model, tmp_path / "b.safetensors", half=True)
    assert (tmp_path / "b.safetensors").stat().st_size < 0.6 * (tmp_path / "a.safetensors").stat().st_size
    x = torch.rand(1, 2, 3, 32, 32)
    fa = build_teacher("mini3d", weights=tmp_path / "a.safetensors").forward_intermediates(x, [-1])[0]
    fb = build_teacher("mini3d", weights=tmp_path / "b.safetensors").forward_intermediates(x, [-1])[0]
    assert (fa - fb).abs().max() < 0.05 * fa.abs().max()


def test_errors(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(Mini2D(TINY), path)
    with pytest.raises(SFError, match="mini2d"):
        build_teacher("mini3d", weights=path)  # wrong kind
    with pytest.raises(SFError):
        build_teacher("mini3d", weights=tmp_path / "missing.safetensors")
    with pytest.raises(SFError):
        build_teacher("mini2d", weights=path, dim=64)  # config overrides only with random init
