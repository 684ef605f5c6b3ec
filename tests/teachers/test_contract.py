"""Contract test run against every registered teacher with a tiny random build: the feature shape the Teacher
protocol documents for a small multi-view batch, frozen, deterministic, and `weights` meaning the same thing
for every factory (teachers.registry)."""

from __future__ import annotations

import functools

import pytest
import torch

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.registry import TEACHERS, build_teacher
from spatial_forcing.utils.errors import SFError

HF_SIZE = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64, image_size=28,
               patch_size=14)
# name -> options of a seconds-fast random build (next to weights="random")
TINY: dict[str, dict] = {
    "mini3d": dict(dim=32, depth=2, heads=2, patch=8, image_size=32, num_registers=1),
    "mini2d": dict(dim=32, depth=2, heads=2, patch=8, image_size=32, num_registers=1),
    "vggt": dict(config="tiny", image_size=28),
    "dinov2": HF_SIZE,
    "siglip": HF_SIZE,
    "oracle3d": dict(dim=64, pool=8),
}
# a size option of each teacher that has some (vggt's `config` names the architecture of loaded weights too)
SIZE_OPTION = {"mini3d": "dim", "mini2d": "dim", "dinov2": "hidden_size", "siglip": "hidden_size"}
SHIPS_WEIGHTS = {"mini3d", "mini2d", "oracle3d"}  # weights=None builds; the others need a path or 'random'
B, V, H, W = 2, 2, 32, 32


def tiny(name: str, seed: int | None = 0) -> Teacher:
    return build_teacher(name, weights="random", seed=seed, **TINY[name])


@functools.lru_cache(maxsize=None)
def cached(name: str) -> Teacher:
    return tiny(name)


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Images [B, V, 3, H, W] in [0, 1], and the simulator geometry the oracle reads instead."""
    g = torch.Generator().manual_seed(seed)
    extr = torch.eye(4).repeat(B, V, 1, 1)
    extr[:, 1, 0, 3] = 0.2  # the second camera 0.2 m to the side
    focal = torch.tensor([[30.0, 0, (W - 1) / 2], [0, 30.0, (H - 1) / 2], [0, 0, 1]])
    return {"images": torch.rand(B, V, 3, H, W, generator=g),
            "depth": 1.0 + torch.rand(B, V, H, W, generator=g), "seg": torch.randint(0, 5, (B, V, H, W), generator=g),
            "intrinsics": focal.expand(B, V, 3, 3), "extrinsics": extr}


def features(teacher: Teacher, x: dict[str, torch.Tensor], indices=(0, -1)) -> list[torch.Tensor]:
    if hasattr(teacher, "features_from_geometry"):  # oracle3d: one layer, from geometry, not pixels
        grid = teacher.grid((H, W))
        return [teacher.features_from_geometry(x["depth"], x["seg"], x["intrinsics"], x["extrinsics"], grid)
                for _ in indices]
    return teacher.forward_intermediates(x["images"], list(indices))


def test_every_teacher_has_a_tiny_build():
    assert sorted(TINY) == sorted(TEACHERS)


@pytest.fixture(params=sorted(TEACHERS))
def name(request) -> str:
    return request.param


def test_features_have_the_documented_shape(name):
    teacher = cached(name)
    assert isinstance(teacher, Teacher) and teacher.name == name
    assert teacher.num_layers >= 1 and teacher.dim >= 1
    outs = features(teacher, batch())
    h, w = teacher.grid((H, W))
    assert [tuple(o.shape) for o in outs] == [(B, V, h, w, teacher.dim)] * 2
    assert all(o.dtype == torch.float32 and torch.isfinite(o).all() for o in outs)


def test_frozen(name):
    teacher = cached(name)
    teacher.train()
    assert not teacher.training and not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    x = batch()
    x["images"].requires_grad_(True)
    assert not any(o.requires_grad for o in features(teacher, x))


def test_deterministic(name):
    x = batch()
    first = features(cached(name), x)
    again = features(cached(name), x)
    rebuilt = features(tiny(name), x)  # same weights="random" and seed: the same teacher
    for a, b, c in zip(first, again, rebuilt):
        assert torch.equal(a, b) and torch.equal(a, c)
    other = features(tiny(name, seed=1), x)[-1]
    assert not torch.allclose(first[-1], other)  # the seed is the init's


def test_random_without_seed_follows_the_global_rng(name):
    x = batch()
    torch.manual_seed(3)
    a = features(tiny(name, seed=None), x)[-1]
    torch.manual_seed(3)
    b = features(tiny(name, seed=None), x)[-1]
    assert torch.equal(a, b)


def test_layer_indices_count_from_either_end(name):
    teacher = cached(name)
    if hasattr(teacher, "features_from_geometry"):
        pytest.skip("oracle3d reads geometry: it has one layer and no forward_intermediates on images")
    n, x = teacher.num_layers, batch()
    last, minus_one = teacher.forward_intermediates(x["images"], [n - 1, -1])
    assert torch.equal(last, minus_one)
    with pytest.raises(SFError, match=rf"layer {n} out of range; expected an integer in -{n}\.\.{n - 1}$"):
        teacher.forward_intermediates(x["images"], [n])


def test_weights_mean_the_same_for_every_teacher(name, tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(SFError) as err:
        build_teacher(name, weights=str(missing))
    assert (str(missing) in str(err.value) or "has no weights" in str(err.value)) and "\n" not in str(err.value)
    if name in SHIPS_WEIGHTS:
        assert isinstance(build_teacher(name), Teacher)
    else:
        with pytest.raises(SFError, match=rf"^{name} teacher needs weights: a path to .*, or 'random'"):
            build_teacher(name)
    if name in SIZE_OPTION:  # loaded weights carry their shape; size options only shape a random init
        with pytest.raises(SFError, match=rf"^{name}: options \['{SIZE_OPTION[name]}'\] only apply with "
                                          "weights='random'"):
            build_teacher(name, weights=str(missing), **{SIZE_OPTION[name]: 32})
