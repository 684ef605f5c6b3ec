"""Tiny pretraining runs on synthetic renders: the loss goes down, and an interrupted run resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch

import spatial_forcing.teachers.pretrain.loop as loop
from spatial_forcing.cli.main import main as sf_main
from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.teachers.mini3d import load_model
from spatial_forcing.teachers.pretrain.loop import (PretrainConfig, compute_losses, make_model, pretrain,
                                                    tensors)
from spatial_forcing.teachers.pretrain.synthetic import render_synthetic
from spatial_forcing.utils.errors import SFError

TINY = MiniConfig(image_size=32, patch=8, dim=32, depth=2, heads=2, num_registers=2, head_hidden=32)


@pytest.fixture(scope="module")
def renders():
    torch.set_num_threads(1)
    return render_synthetic(20, image_size=32, seed=5)


def _cfg(teacher: str, steps: int, ckpt_every: int = 10) -> PretrainConfig:
    return PretrainConfig(teacher=teacher, steps=steps, batch=6, lr=3e-3, warmup=5, heldout=0.2,
                          ckpt_every=ckpt_every, model=TINY)


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
    after = _train_loss(load_model(tmp_path / "checkpoint.safetensors", teacher), cfg, renders)
    assert after < 0.8 * before
    meta = json.loads((tmp_path / f"{teacher}.json").read_text())
    assert meta["steps"] == 40 and meta["metrics"] == pytest.approx(metrics)
    if teacher == "mini3d":
        assert set(metrics) == {"abs_rel", "rmse_m", "baseline_abs_rel", "baseline_rmse_m"}
    else:
        assert metrics["recon"] > 0


def test_resume_after_interruption_matches_uninterrupted(tmp_path, renders, monkeypatch):
    cfg = _cfg("mini3d", 30)
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
    a = load_model(tmp_path / "straight" / "checkpoint.safetensors", "mini3d").state_dict()
    b = load_model(tmp_path / "killed" / "checkpoint.safetensors", "mini3d").state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    other = PretrainConfig(**{**cfg.__dict__, "model": MiniConfig(image_size=32, dim=16, depth=1, heads=1)})
    with pytest.raises(SFError, match="--resume"):
        pretrain(other, renders, tmp_path / "killed", resume=True)


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
