"""Weight loading: prefix stripping, explicit head dropping, strict checks with one clear error."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.config import get_config
from spatial_forcing.teachers.vggt.loading import load_aggregator_weights, read_state_dict, select_aggregator
from spatial_forcing.teachers.vggt.teacher import build
from spatial_forcing.utils.errors import SFError


def _tiny(seed: int) -> Aggregator:
    model = Aggregator(get_config("tiny"))
    model.init_random(torch.Generator().manual_seed(seed))
    return model


def _checkpoint(model: Aggregator) -> dict[str, torch.Tensor]:
    """An official-style file: aggregator.* plus head tensors."""
    state = {f"aggregator.{k}": v.clone() for k, v in model.state_dict().items()}
    state["camera_head.trunk.0.norm1.weight"] = torch.ones(8)
    state["depth_head.scratch.output_conv.weight"] = torch.ones(2, 2)
    state["track_head.tracker.x"] = torch.ones(3)
    return state


def _equal(a: Aggregator, b: Aggregator) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_pt_and_safetensors_load_and_drop_heads(tmp_path) -> None:
    src = _tiny(1)
    state = _checkpoint(src)
    torch.save(state, tmp_path / "model.pt")
    torch.save({"model": state}, tmp_path / "nested.pt")
    save_file(state, str(tmp_path / "model.safetensors"))
    selected, dropped = select_aggregator(read_state_dict(tmp_path / "model.pt"))
    assert dropped == 3
    assert not any(k.startswith(("camera_head", "depth_head", "track_head")) for k in selected)
    for name in ("model.pt", "nested.pt", "model.safetensors"):
        dst = _tiny(2)
        assert not _equal(src, dst)
        load_aggregator_weights(dst, tmp_path / name)
        assert _equal(src, dst)


def test_missing_and_misshaped_keys_are_listed(tmp_path) -> None:
    state = _checkpoint(_tiny(1))
    del state["aggregator.frame_blocks.1.attn.q_norm.weight"]
    state["aggregator.global_blocks.0.mlp.fc1.bias"] = torch.zeros(7)
    state["aggregator.extra.thing"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(SFError) as err:
        load_aggregator_weights(_tiny(2), path)
    msg = str(err.value)
    assert str(path) in msg
    assert "missing (1): frame_blocks.1.attn.q_norm.weight" in msg
    assert "unexpected (1): extra.thing" in msg
    assert "global_blocks.0.mlp.fc1.bias (7,) != (128,)" in msg
    assert "\n" not in msg


def test_long_lists_are_truncated(tmp_path) -> None:
    state = _checkpoint(_tiny(1))
    for key in [k for k in state if k.startswith("aggregator.global_blocks.")]:
        del state[key]
    path = tmp_path / "half.safetensors"
    save_file(state, str(path))
    with pytest.raises(SFError, match=r"missing \(72\): .*\(\+64 more\)"):
        load_aggregator_weights(_tiny(2), path)


def test_build_loads_through_meta_device(tmp_path) -> None:
    src = _tiny(3)
    torch.save(_checkpoint(src), tmp_path / "model.pt")
    teacher = build(weights=tmp_path / "model.pt", config="tiny", image_size=56)
    assert _equal(src, teacher.aggregator)
    assert not any(t.is_meta for t in [*teacher.parameters(), *teacher.buffers()])
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in teacher.parameters())
    out = teacher.forward_intermediates(torch.rand(1, 2, 3, 56, 56), [-1])[0]
    assert torch.isfinite(out).all()


def test_missing_file_and_random_full_model_are_errors(tmp_path) -> None:
    with pytest.raises(SFError, match="no such file"):
        build(weights=tmp_path / "nope.pt", config="tiny")
    with pytest.raises(SFError, match="needs weights"):
        build()
