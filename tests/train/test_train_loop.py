import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError


def tiny_cfg(dataset, out, **kw):
    align = kw.pop("align", AlignConfig(enabled=True, teacher="mini3d", layers=[2]))
    base = dict(dataset=str(dataset), out=str(out), vla_preset="tiny", align=align, teacher_weights="random",
                steps=12, batch_size=8, warmup_steps=2, threads=1, log_every=2, save_every=4)
    base.update(kw)
    return TrainConfig(**base)


def test_sf_training_logs_both_losses_and_exports_a_student_without_projector(synthetic_dataset, tmp_path):
    policy_dir = train(tiny_cfg(synthetic_dataset, tmp_path / "run"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 12
    assert {"action_loss", "align_loss", "align_cos", "lr"} <= set(rows[-1])
    assert all(r["step_s"] > 0 for r in rows if "action_loss" in r)  # seconds per training step
    exported = load_file(str(policy_dir / "model.safetensors"))
    assert not any(k.startswith("sf.") or "projector" in k and k.startswith("sf") for k in exported)
    ckpt = load_file(str(tmp_path / "run" / "checkpoints" / "step_000012" / "model.safetensors"))
    assert any(k.startswith("sf.projectors.0.") for k in ckpt)
    assert set(exported) == {k[len("policy."):] for k in ckpt if k.startswith("policy.")}
    policy = LoadedPolicy.load(policy_dir)
    obs = {"observation.images.agentview": torch.zeros(32, 32, 3, dtype=torch.uint8).numpy(),
           "observation.images.wrist": torch.zeros(32, 32, 3, dtype=torch.uint8).numpy(),
           "observation.state": torch.zeros(8).numpy()}
    actions = policy.act([obs], ["pick up the block left of the cylinder"])
    assert actions.shape == (1, 8, 7)


KILL_SCRIPT = """
import os, sys
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import train
cfg = TrainConfig(dataset=sys.argv[1], out=sys.argv[2], vla_preset="tiny", teacher_weights="random",
                  align=AlignConfig(enabled=True, teacher="mini3d", layers=[2]), steps=12, batch_size=8,
                  warmup_steps=2, threads=1, log_every=2, save_every=4, eval_every=6)
train(cfg, on_eval=lambda step, policy: os.kill(os.getpid(), 9))
"""


def test_sigkilled_run_resumes_to_identical_weights(synthetic_dataset, tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(synthetic_dataset), str(killed)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (killed / "checkpoints" / "latest").read_text() == "step_000004"  # killed at step 6, after ckpt 4
    train(tiny_cfg(synthetic_dataset, killed), resume=True)
    train(tiny_cfg(synthetic_dataset, tmp_path / "straight"))
    a = load_file(str(killed / "checkpoints" / "step_000012" / "model.safetensors"))
    b = load_file(str(tmp_path / "straight" / "checkpoints" / "step_000012" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # the killed run's tail was dropped, no duplicates


def test_baseline_has_no_alignment(synthetic_dataset, tmp_path):
    cfg = tiny_cfg(synthetic_dataset, tmp_path / "base", align=AlignConfig(enabled=False), steps=4)
    train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "base" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["align_loss"] == 0.0 for r in rows) and "align_cos" not in rows[-1]


@pytest.mark.parametrize("align,message", [
    (AlignConfig(enabled=True, teacher="mini3d", layers=[7]), "out of range"),
    (AlignConfig(enabled=True, teacher="mini3d", layers=[2], teacher_layer=9), "align.teacher_layer 9 out of range"),
    (AlignConfig(enabled=True, teacher="nope"), "unknown teacher 'nope'"),
])
def test_bad_configuration_fails_before_training(synthetic_dataset, tmp_path, align, message):
    with pytest.raises(SFError, match=message):
        train(tiny_cfg(synthetic_dataset, tmp_path / "bad", align=align))
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_token_layout_mismatch_is_caught_by_preflight(synthetic_dataset, tmp_path):
    from spatial_forcing.vla import model as vla_model

    original = vla_model.SmallVLA.token_layout

    def broken(self):
        layout = original(self)
        return type(layout)(layout.views, layout.grid, offset=layout.offset + 10_000)

    vla_model.SmallVLA.token_layout = broken
    try:
        with pytest.raises(SFError, match="preflight check failed: token layout"):
            train(tiny_cfg(synthetic_dataset, tmp_path / "bad"))
    finally:
        vla_model.SmallVLA.token_layout = original


def test_missing_dataset_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spatial_forcing.cli.main", "train", "--dataset",
                           str(tmp_path / "nope"), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope" in lines[0] and "Traceback" not in proc.stderr


def test_teacher_channel_mismatch_is_caught_before_training(synthetic_dataset, tmp_path, monkeypatch):
    from spatial_forcing.teachers.registry import build_teacher
    from spatial_forcing.train import setup

    class WrongChannels:
        def __init__(self, inner):
            self.inner, self.name, self.num_layers = inner, "wrong", inner.num_layers
            self.dim = inner.dim + 4  # claims more channels than it returns

        def grid(self, hw):
            return self.inner.grid(hw)

        def forward_intermediates(self, images, indices, valid=None):
            return self.inner.forward_intermediates(images, indices, valid)

    monkeypatch.setattr(setup, "build_teacher", lambda name, **kw: WrongChannels(build_teacher(name, **kw)))
    with pytest.raises(SFError, match=r"preflight check failed: teacher 'wrong' gave features .* expected"):
        train(tiny_cfg(synthetic_dataset, tmp_path / "bad", targets="online"))
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_config_file_with_command_line_overrides(synthetic_dataset, tmp_path, capsys):
    from spatial_forcing.cli.main import main

    cfg = {"vla_preset": "tiny", "steps": 50, "batch_size": 4, "warmup_steps": 1, "threads": 1, "save_every": 2,
           "align": {"enabled": True, "teacher": "mini3d", "layers": [2], "alpha": 0.25},
           "teacher_weights": "random", "targets": "online"}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    run = tmp_path / "run"
    assert main(["train", "--config", str(path), "--dataset", str(synthetic_dataset), "--out", str(run),
                 "--steps", "2", "--align.alpha", "0.5"]) == 0
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["steps"] == 2 and saved["batch_size"] == 4  # command line over file, file over defaults
    assert saved["align"]["alpha"] == 0.5 and saved["align"]["layers"] == [2]
    assert saved["align"]["teacher"] == "mini3d"
    path.write_text(json.dumps({**cfg, "stepz": 3}))
    assert main(["train", "--config", str(path), "--dataset", str(synthetic_dataset), "--out", str(tmp_path / "r2")]) == 2
    assert "unknown field(s) ['stepz']" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.json"), "--dataset", "x"]) == 2
    assert "missing.json: file not found" in capsys.readouterr().err
    path.write_text("[1, 2]")
    assert main(["train", "--config", str(path), "--dataset", "x"]) == 2
    assert "expected a JSON object of TrainConfig fields, got list" in capsys.readouterr().err


def test_val_dataset_logs_a_held_out_action_loss(synthetic_dataset, make_synthetic_dataset, tmp_path):
    val = make_synthetic_dataset(tmp_path / "val", episodes_per_task=1, seed=1)
    train(tiny_cfg(synthetic_dataset, tmp_path / "run", align=AlignConfig(enabled=False), val_dataset=str(val),
                   val_every=5, val_samples=10))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    vals = [(r["step"], r["val/action_loss"]) for r in rows if "val/action_loss" in r]
    assert [s for s, _ in vals] == [5, 10, 12] and all(v > 0 for _, v in vals)  # and at the last step
    with pytest.raises(SFError, match="--val-dataset"):
        tiny_cfg(synthetic_dataset, tmp_path / "r2", val_every=4)
