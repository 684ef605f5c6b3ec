"""vision_init: a policy's ViT starts from a vit2d file, strictly; an exported policy no longer needs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini2d import Mini2D
from spatial_forcing.teachers.mini import save_weights
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla import vision_init
from spatial_forcing.vla.config import config_to_dict, tiny
from spatial_forcing.vla.export import export_policy
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.vision_pretrain import MaskedViT, ViT2DConfig


def _vit2d_file(path: Path, **shape) -> Path:
    """A fp16 vit2d weight file + sidecar (as the pretraining writes it) for tiny(**shape)'s ViT."""
    torch.manual_seed(1)
    save_weights(MaskedViT(ViT2DConfig.from_vla(tiny(**shape))), path, extra={"metrics": {}}, half=True)
    return path


def _saved_vit(path: Path) -> dict[str, torch.Tensor]:
    return {k[len("vit."):]: t.float() for k, t in load_file(str(path)).items() if k.startswith("vit.")}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_vision_init_loads_exactly_the_saved_encoder(tokenizer, tmp_path):
    path = _vit2d_file(tmp_path / "vit2d.safetensors")
    torch.manual_seed(0)
    plain = build_policy(tiny(), tokenizer)
    torch.manual_seed(0)
    policy = build_policy(tiny(vision_init=str(path)), tokenizer)
    _assert_same(policy.vit.state_dict(), _saved_vit(path))
    assert not torch.equal(policy.vit.patch.weight, plain.vit.patch.weight)
    rest = {k: v for k, v in policy.state_dict().items() if not k.startswith("vit.")}
    _assert_same(rest, {k: v for k, v in plain.state_dict().items() if not k.startswith("vit.")})


def test_shipped_picks_the_asset_named_by_the_shape(tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(vision_init, "assets_dir", lambda: tmp_path)
    config = tiny(vision_init="shipped")
    with pytest.raises(SFError, match=r"vit2d_32px_p8_d64x1\.safetensors"):
        build_policy(config, tokenizer)
    path = _vit2d_file(tmp_path / "vit2d_32px_p8_d64x1.safetensors")
    _assert_same(build_policy(config, tokenizer).vit.state_dict(), _saved_vit(path))


def test_wrong_shape_kind_or_missing_file_is_a_one_line_error(tokenizer, tmp_path):
    path = _vit2d_file(tmp_path / "vit2d.safetensors")  # vit_dim=64, vit_heads=2
    missing = tmp_path / "missing.safetensors"
    mini = tmp_path / "mini2d.safetensors"
    save_weights(Mini2D(MiniConfig(image_size=32, dim=32, depth=1, heads=2)), mini)
    cases = [  # (vision_init, other config fields, words the message must hold besides the file)
        (path, {"vit_dim": 32}, ["vit_dim=64", "vit_dim=32"]),
        (path, {"vit_heads": 4}, ["vit_heads=2", "vit_heads=4"]),  # same tensor shapes, other attention
        (path, {"patch_size": 4}, ["patch_size=8", "patch_size=4"]),
        (missing, {}, ["not found"]),
        (mini, {}, ["'mini2d'", "'vit2d'"]),
    ]
    for file, fields, words in cases:
        with pytest.raises(SFError) as err:
            build_policy(tiny(vision_init=str(file), **fields), tokenizer)
        message = str(err.value)
        assert "\n" not in message and message.startswith("vision_init: ")
        for word in [str(file), *words]:
            assert word in message, (word, message)
    with pytest.raises(SFError, match="vision_init"):
        tiny(vision_init=None)


def test_exported_policy_loads_without_the_init_file(tokenizer, tmp_path, make_batch):
    path = _vit2d_file(tmp_path / "init" / "vit2d.safetensors")
    torch.manual_seed(0)
    policy = build_policy(tiny(vision_init=str(path)), tokenizer).eval()
    with torch.no_grad():
        policy.vit.pos_embed.add_(0.5)  # "training" moved the ViT away from its init
    stats = {"q01": [-1.0] * 8, "q99": [1.0] * 8}
    normalizer = {"mode": "q99", "keys": ["observation.state", "action"],
                  "stats": {"observation.state": stats, "action": {"q01": [-1.0] * 7, "q99": [1.0] * 7}}}
    export_policy(tmp_path / "policy", policy, config_to_dict(policy.config), tokenizer.to_json(), normalizer,
                  extra={"cameras": ["agentview", "wrist"]})
    for f in (path, path.with_suffix(".json")):
        f.unlink()
    loaded = LoadedPolicy.load(tmp_path / "policy")
    recorded = json.loads((tmp_path / "policy" / "vla.json").read_text())["vision_init"]
    assert recorded == str(path)  # kept as provenance, not read
    _assert_same(loaded.model.state_dict(), policy.state_dict())
    batch = make_batch(policy.config, 2)
    assert torch.equal(loaded.model.predict_action(batch), policy.predict_action(batch))


def test_the_shipped_demo_encoder_loads_and_was_pretrained(tokenizer):
    """The asset that ships for the demo preset's ViT (64 px, patch 16, 128x2) loads, and its sidecar holds
    the command that made it and a held-out reconstruction well below predicting each patch's mean."""
    from spatial_forcing.vla.config import demo

    policy = build_policy(demo(vision_init="shipped"), tokenizer)
    path = vision_init.assets_dir() / "vit2d_64px_p16_d128x2.safetensors"
    _assert_same(policy.vit.state_dict(), _saved_vit(path))
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith("sf teacher pretrain --teacher vit2d --vla-preset demo")
    assert meta["metrics"]["recon"] < 0.3 * meta["metrics"]["baseline_recon"]


def test_the_stem_is_part_of_the_shape(tokenizer, tmp_path):
    assert vision_init.shipped_name(vision_init.vit_shape(tiny(vit_stem="conv"))) == "vit2d_32px_p8_conv_d64x1"
    path = _vit2d_file(tmp_path / "patch.safetensors")  # sidecars without vit_stem mean the patch stem
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["config"].pop("vit_stem", None)
    path.with_suffix(".json").write_text(json.dumps(meta))
    build_policy(tiny(vision_init=str(path)), tokenizer)
    with pytest.raises(SFError, match="vit_stem=patch .*but the policy's ViT has .*vit_stem=conv"):
        build_policy(tiny(vision_init=str(path), vit_stem="conv"), tokenizer)
    conv = _vit2d_file(tmp_path / "conv.safetensors", vit_stem="conv")
    _assert_same(build_policy(tiny(vision_init=str(conv), vit_stem="conv"), tokenizer).vit.state_dict(),
                 _saved_vit(conv))
