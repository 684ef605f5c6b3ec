"""VGGT teacher behaviour: protocol, early stop, retained outputs, preprocessing, RoPE."""

from __future__ import annotations

import pytest
import torch

from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.teachers.vggt.preprocess import letterbox
from spatial_forcing.teachers.vggt.rope import apply_rope_2d, patch_positions
from spatial_forcing.utils.errors import SFError


@pytest.fixture(scope="module")
def teacher():
    torch.set_num_threads(1)
    return build_teacher("vggt", weights="random", config="tiny", image_size=56, seed=0)


def test_protocol_and_shapes(teacher) -> None:
    assert isinstance(teacher, Teacher)
    assert (teacher.dim, teacher.num_layers, teacher.grid((224, 224))) == (64, 4, (4, 4))
    x = torch.rand(2, 3, 3, 48, 48, requires_grad=True)
    outs = teacher.forward_intermediates(x, [0, -1, 2])
    assert [tuple(o.shape) for o in outs] == [(2, 3, 4, 4, 64)] * 3
    assert all(o.dtype == torch.float32 and not o.requires_grad for o in outs)
    teacher.train()
    assert not teacher.training and not teacher.aggregator.training
    with pytest.raises(SFError, match="layer 4"):
        teacher.forward_intermediates(x, [4])
    with pytest.raises(SFError, match=r"\[B, V, 3, H, W\]"):
        teacher.forward_intermediates(x[0], [0])


def test_stops_at_deepest_layer_and_keeps_only_requested(teacher) -> None:
    agg = teacher.aggregator
    calls: list[str] = []
    hooks = [blk.register_forward_hook(lambda m, i, o, n=f"{kind}{j}": calls.append(n))
             for kind, blocks in (("f", agg.frame_blocks), ("g", agg.global_blocks))
             for j, blk in enumerate(blocks)]
    try:
        outs = agg.forward_layers(torch.rand(1, 2, 3, 56, 56), [1])
    finally:
        for h in hooks:
            h.remove()
    assert calls == ["f0", "g0", "f1", "g1"]  # blocks 2 and 3 never run
    assert list(outs) == [1]  # one retained tensor, not depth of them
    full, _ = agg(torch.rand(1, 2, 3, 56, 56))
    assert len(full) == agg.cfg.depth


def test_views_interact_through_global_attention(teacher) -> None:
    x = torch.rand(1, 2, 3, 56, 56)
    y = x.clone()
    y[:, 1] = torch.rand(3, 56, 56)
    a, b = (teacher.forward_intermediates(t, [-1])[0] for t in (x, y))
    assert not torch.allclose(a[:, 0], b[:, 0])  # view 0 output depends on view 1
    single = teacher.forward_intermediates(x[:, :1], [-1])[0]
    assert not torch.allclose(single[:, 0], a[:, 0])


def test_letterbox_pads_white_and_masks() -> None:
    img = torch.rand(1, 3, 28, 56)
    out, mask = letterbox(img, 56)
    assert out.shape == (1, 3, 56, 56) and mask.shape == (1, 56, 56)
    assert mask[0, 14:42].all() and not mask[0, :14].any() and not mask[0, 42:].any()
    assert (out[:, :, :14] == 1).all() and (out[:, :, 42:] == 1).all()
    valid = torch.ones(1, 28, 56, dtype=torch.bool)
    valid[:, :, :28] = False
    out2, mask2 = letterbox(img, 56, valid)
    assert (out2[:, :, 14:42, :20] == 1).all() and not mask2[0, 14:42, :28].any()


def test_feature_valid_grid(teacher) -> None:
    m = teacher.feature_valid(torch.rand(2, 1, 3, 28, 56))
    assert m.shape == (2, 1, 4, 4)
    assert m[:, :, 1:3].all() and not m[:, :, 0].any() and not m[:, :, 3].any()


def test_rope_identity_at_zero_and_relative() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, 2, 5, 16, generator=g).unbind(0)
    zero = torch.zeros(1, 5, 2, dtype=torch.long)
    torch.testing.assert_close(apply_rope_2d(q, zero), q, atol=0, rtol=0)
    pos = torch.randint(0, 30, (1, 5, 2), generator=g)
    shift = torch.tensor([7, 3])
    logits = apply_rope_2d(q, pos) @ apply_rope_2d(k, pos).transpose(-1, -2)
    shifted = apply_rope_2d(q, pos + shift) @ apply_rope_2d(k, pos + shift).transpose(-1, -2)
    torch.testing.assert_close(logits, shifted, atol=1e-4, rtol=1e-4)  # depends on offsets only
    assert not torch.allclose(logits, q @ k.transpose(-1, -2), atol=1e-2)
    pos_grid = patch_positions(2, 3, num_special=5)
    assert pos_grid[:5].eq(0).all() and pos_grid[5].tolist() == [1, 1] and pos_grid[-1].tolist() == [2, 3]
