"""Tiny pretraining runs on synthetic renders (mini teachers and the student's vit2d): the loss goes down, an
interrupted run resumes exactly, the CLI writes the weight file and its sidecar."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

import spatial_forcing.teachers.pretrain.loop as loop
from spatial_forcing.cli.main import main as sf_main
from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini import load_model
from spatial_forcing.teachers.pretrain.loop import (MODELS, PretrainConfig, compute_losses, make_model,
                                                    pretrain, tensors)
from spatial_forcing.teachers.pretrain.synthetic import render_synthetic
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import tiny
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer
from spatial_forcing.vla.vision_init import vit_shape
from spatial_forcing.vla.vision_pretrain import MaskedViT, ViT2DConfig

TINY = MiniConfig(image_size=32, patch=8, dim=32, depth=2, heads=2, num_registers=2, head_hidden=32)
VIT = ViT2DConfig(image_size=32, patch_size=8, vit_dim=32, vit_depth=1, vit_heads=2)


@pytest.fixture(scope="module")
def renders():
    torch.set_num_threads(1)
    return render_synthetic(20, image_size=32, seed=5)


def _cfg(teacher: str, steps: int, ckpt_every: int = 10) -> PretrainConfig:
    return PretrainConfig(teacher=teacher, steps=steps, batch=6, lr=3e-3, warmup=5, heldout=0.2,
                          ckpt_every=ckpt_every, model=VIT if teacher == "vit2d" else TINY)


def _checkpoint(path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "checkpoint.safetensors"))


def _train_loss(model, cfg, data) -> float:
    train = tensors(data.subset(slice(0, 16)))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return compute_losses(model.eval(), cfg, train, torch.arange(16), gen)["loss"].item()


@pytest.mark.parametrize("teacher", ["mini3d", "mini2d"])
def test_tiny_run_decreases_loss(tmp_path, renders, teacher):
    cfg = _cfg(teacher, 40, ckpt_every=40)
    metrics = pretrain(cfg, renders, tmp_path)
    before = _train_loss(make_model(cfg, tensors(renders.subset(slice(0, 16)))), cfg, renders)
    after = _train_loss(load_model(tmp_path / "checkpoint.safetensors", MODELS[teacher][0]), cfg, renders)
    assert after < 0.8 * before
    meta = json.loads((tmp_path / f"{teacher}.json").read_text())
    assert meta["steps"] == 40 and meta["metrics"] == pytest.approx(metrics)
    if teacher == "mini3d":
        assert set(metrics) == {"abs_rel", "rmse_m", "baseline_abs_rel", "baseline_rmse_m"}
    else:
        assert metrics["recon"] > 0


def test_vit2d_run_decreases_loss_and_beats_the_predict_the_mean_baseline(tmp_path, renders):
    cfg = _cfg("vit2d", 40, ckpt_every=40)
    metrics = pretrain(cfg, renders, tmp_path, options={"vla_preset": "tiny"})
    before = _train_loss(make_model(cfg, tensors(renders.subset(slice(0, 16)))), cfg, renders)
    trained = MaskedViT(VIT)
    trained.load_state_dict(_checkpoint(tmp_path))
    after = _train_loss(trained, cfg, renders)
    assert after < 0.8 * before
    assert set(metrics) == {"recon", "baseline_recon"} and metrics["recon"] < metrics["baseline_recon"]
    meta = json.loads((tmp_path / "vit2d.json").read_text())
    assert meta["kind"] == "vit2d" and meta["config"] == dataclasses.asdict(VIT)
    assert meta["metrics"] == pytest.approx(metrics) and meta["options"] == {"vla_preset": "tiny"}
    one_view = dataclasses.replace(VIT, views=1)
    wrong_views = dataclasses.replace(cfg, model=one_view)
    with pytest.raises(SFError, match="views"):
        pretrain(wrong_views, renders, tmp_path / "other")


@pytest.mark.parametrize("teacher", ["mini3d", "vit2d"])
def test_resume_after_interruption_matches_uninterrupted(tmp_path, renders, monkeypatch, teacher):
    cfg = _cfg(teacher, 30)
    pretrain(cfg, renders, tmp_path / "straight")
    original = loop._save_checkpoint

    def save_then_die(out, model, opt, state):
        original(out, model, opt, state)
        if state["step"] == 20:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, renders, tmp_path / "killed")
    monkeypatch.setattr(loop, "_save_checkpoint", original)
    state = json.loads((tmp_path / "killed" / "checkpoint.json").read_text())["state"]
    assert state["step"] == 20
    pretrain(cfg, renders, tmp_path / "killed", resume=True)
    final = json.loads((tmp_path / "killed" / "checkpoint.json").read_text())["state"]
    assert final["step"] == 30
    a, b = _checkpoint(tmp_path / "straight"), _checkpoint(tmp_path / "killed")
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    smaller = MiniConfig(image_size=32, dim=16, depth=1, heads=1) if teacher == "mini3d" else \
        ViT2DConfig(image_size=32, patch_size=8, vit_dim=16, vit_depth=1, vit_heads=1)
    other = PretrainConfig(**{**cfg.__dict__, "model": smaller})
    with pytest.raises(SFError, match="--resume"):
        pretrain(other, renders, tmp_path / "killed", resume=True)
    if teacher == "mini3d":
        with pytest.raises(SFError, match="--resume: .* holds a 'mini3d' model, not 'mini2d'"):
            pretrain(_cfg("mini2d", 30), renders, tmp_path / "killed", resume=True)


def test_cli_runs_on_synthetic_data(tmp_path, capsys):
    code = sf_main(["teacher", "pretrain", "--teacher", "mini2d", "--out", str(tmp_path),
                    "--data", "synthetic",
                    "--steps", "4", "--renders", "10", "--image-size", "32", "--dim", "32", "--depth", "1",
                    "--heads", "2", "--batch", "4", "--ckpt-every", "2"])
    assert code == 0
    assert (tmp_path / "mini2d.safetensors").is_file() and (tmp_path / "renders_synthetic_32px.npz").is_file()
    assert "recon=" in capsys.readouterr().out
    bad = ["teacher", "pretrain", "--teacher", "mini3d", "--out", str(tmp_path), "--steps", "0"]
    assert sf_main(bad) == 2


def test_cli_pretrains_the_student_vit(tmp_path, capsys):
    base = ["teacher", "pretrain", "--teacher", "vit2d", "--out", str(tmp_path), "--data", "synthetic",
            "--vla-preset", "tiny", "--vla", '{"vit_dim": 32}']
    code = sf_main(base + ["--steps", "3", "--renders", "6", "--batch", "4", "--ckpt-every", "2"])
    assert code == 0
    meta = json.loads((tmp_path / "vit2d.json").read_text())
    student = tiny(vit_dim=32)
    assert meta["kind"] == "vit2d"
    assert {k: meta["config"][k] for k in vit_shape(student)} == vit_shape(student)
    assert set(meta["metrics"]) == {"recon", "baseline_recon"} and meta["steps"] == 3
    assert meta["options"]["vla_preset"] == "tiny" and meta["options"]["vla"] == {"vit_dim": 32}
    assert meta["options"]["steps"] == 3 and "dim" not in meta["options"]
    out = capsys.readouterr().out
    assert "recon=" in out and "baseline_recon=" in out and "vit2d_32px_p8_d32x1.safetensors" in out
    weights = tmp_path / "vit2d.safetensors"
    policy = build_policy(tiny(vit_dim=32, vision_init=str(weights)), WordTokenizer.build(["pick it up"]))
    assert torch.equal(policy.vit.pos_embed, load_file(str(weights))["vit.pos_embed"].float())
    for bad in (["--dim", "32"], ["--vla", "[1]"], ["--vla", '{"nope": 1}'], ["--vla", "{"],
                ["--image-size", "64"]):
        assert sf_main(base + bad) == 2, bad
    mini = ["teacher", "pretrain", "--teacher", "mini2d", "--out", str(tmp_path), "--vla-preset", "demo"]
    assert sf_main(mini) == 2
