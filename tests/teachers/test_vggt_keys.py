"""The full-size aggregator's state_dict layout equals the official VGGT-1B checkpoint's `aggregator.*`
entries (documented in the method reference, section 8), built on the meta device."""

from __future__ import annotations

import json

import torch

from spatial_forcing.cli.main import main as sf_main
from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.keys_cli import summary


def _block(prefix: str, dim: int, qk_norm: bool) -> dict[str, tuple[int, ...]]:
    """One block's documented tensors."""
    out = {
        "norm1.weight": (dim,), "norm1.bias": (dim,),
        "attn.qkv.weight": (3 * dim, dim), "attn.qkv.bias": (3 * dim,),
        "attn.proj.weight": (dim, dim), "attn.proj.bias": (dim,),
        "ls1.gamma": (dim,),
        "norm2.weight": (dim,), "norm2.bias": (dim,),
        "mlp.fc1.weight": (4 * dim, dim), "mlp.fc1.bias": (4 * dim,),
        "mlp.fc2.weight": (dim, 4 * dim), "mlp.fc2.bias": (dim,),
        "ls2.gamma": (dim,),
    }
    if qk_norm:
        out.update({f"attn.{n}.{p}": (64,) for n in ("q_norm", "k_norm") for p in ("weight", "bias")})
    return {prefix + k: v for k, v in out.items()}


def documented_layout() -> dict[str, tuple[int, ...]]:
    """The official `aggregator.*` key -> shape map as the reference document lists it."""
    c = 1024
    keys: dict[str, tuple[int, ...]] = {
        "camera_token": (1, 2, 1, c), "register_token": (1, 2, 4, c),
        "patch_embed.cls_token": (1, 1, c), "patch_embed.pos_embed": (1, 1370, c),
        "patch_embed.register_tokens": (1, 4, c), "patch_embed.mask_token": (1, c),
        "patch_embed.patch_embed.proj.weight": (c, 3, 14, 14), "patch_embed.patch_embed.proj.bias": (c,),
        "patch_embed.norm.weight": (c,), "patch_embed.norm.bias": (c,),
    }
    for i in range(24):
        keys.update(_block(f"patch_embed.blocks.{i}.", c, qk_norm=False))
        keys.update(_block(f"frame_blocks.{i}.", c, qk_norm=True))
        keys.update(_block(f"global_blocks.{i}.", c, qk_norm=True))
    return {"aggregator." + k: v for k, v in keys.items()}


def test_meta_model_matches_documented_checkpoint_layout() -> None:
    with torch.device("meta"):
        model = Aggregator()
    ours = {"aggregator." + k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == documented_layout()  # keys and shapes; the ImageNet buffers are not persistent
    info = summary({k: list(v) for k, v in ours.items()})
    assert info["count"] == 1210
    assert round(info["params"] / 1e6, 1) == 909.1
    assert sum(p.numel() for p in model.parameters()) == info["params"]


def test_keys_cli_json(capsys) -> None:
    assert sf_main(["teacher", "keys", "vggt", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["count"] == 1210 == len(data["keys"])
    assert round(data["params"] / 1e6, 1) == 909.1
    assert data["keys"]["aggregator.patch_embed.pos_embed"] == [1, 1370, 1024]


def test_keys_cli_rejects_other_teachers(capsys) -> None:
    assert sf_main(["teacher", "keys", "dinov2"]) == 2
    assert "only 'vggt'" in capsys.readouterr().err
