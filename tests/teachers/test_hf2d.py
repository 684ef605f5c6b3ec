"""2D teachers through transformers: tiny random checkpoints written with save_pretrained, loaded back."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    Dinov2Config,
    Dinov2Model,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError

SIZES = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
             image_size=56, patch_size=14)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf2d")
    models = {
        "dinov2": Dinov2Model(Dinov2Config(**SIZES)),
        "dinov2_reg": Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**SIZES, num_register_tokens=4)),
        "siglip": SiglipVisionModel(SiglipVisionConfig(**SIZES)),
    }
    for name, model in models.items():
        model.save_pretrained(root / name)
    (root / "siglip" / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.4, 0.5, 0.6], "image_std": [0.2, 0.3, 0.4]}))
    return root, {k: m.eval() for k, m in models.items()}


@pytest.mark.parametrize("name,teacher_name,prefix", [
    ("dinov2", "dinov2", 1), ("dinov2_reg", "dinov2", 5), ("siglip", "siglip", 0)])
def test_round_trip_features(checkpoints, name: str, teacher_name: str, prefix: int) -> None:
    root, models = checkpoints
    teacher = build_teacher(teacher_name, weights=root / name)
    assert isinstance(teacher, Teacher)
    assert (teacher.dim, teacher.num_layers, teacher.num_prefix) == (32, 3, prefix)
    assert teacher.grid((100, 80)) == (4, 4)
    images = torch.rand(2, 3, 3, 70, 84)
    outs = teacher.forward_intermediates(images, [0, -1])
    assert [tuple(o.shape) for o in outs] == [(2, 3, 4, 4, 32)] * 2
    # last layer with the final norm = the original model's last_hidden_state patch tokens
    x = F.interpolate(images.reshape(6, 3, 70, 84), size=(56, 56), mode="bicubic", antialias=True)
    x = (x - teacher.mean) / teacher.std
    with torch.no_grad():
        ref = models[name](pixel_values=x).last_hidden_state[:, prefix:]
    torch.testing.assert_close(outs[1], ref.reshape(2, 3, 4, 4, 32), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(outs[0], outs[1])


def test_siglip_uses_checkpoint_mean_std(checkpoints) -> None:
    root, _ = checkpoints
    teacher = build_teacher("siglip", weights=root / "siglip")
    assert teacher.mean.flatten().tolist() == pytest.approx([0.4, 0.5, 0.6])
    assert build_teacher("dinov2", weights=root / "dinov2").std.flatten().tolist() == pytest.approx(
        [0.229, 0.224, 0.225])


def test_bad_paths_are_clear_errors(checkpoints, tmp_path) -> None:
    root, _ = checkpoints
    with pytest.raises(SFError, match="no such directory"):
        build_teacher("dinov2", weights=tmp_path / "missing")
    with pytest.raises(SFError, match="no config.json"):
        build_teacher("siglip", weights=tmp_path)
    with pytest.raises(SFError, match="model_type 'siglip_vision_model'"):
        build_teacher("dinov2", weights=root / "siglip")
    with pytest.raises(SFError, match="model_type 'dinov2'"):
        build_teacher("siglip", weights=root / "dinov2")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((root / "dinov2" / "config.json").read_text())
    with pytest.raises(SFError, match="cannot load as Dinov2Model"):
        build_teacher("dinov2", weights=broken)
