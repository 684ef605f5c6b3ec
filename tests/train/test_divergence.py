"""A diverging run stops at its first non-finite loss or gradient with one line naming the step and the
likely cause; it writes no non-finite checkpoint or policy, and what was written before stays intact."""

from __future__ import annotations

import json

import pytest
import torch

from spatial_forcing.cli.main import main
from spatial_forcing.train import loop
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.tensor_file import load_tensors


def test_lr_1e6_stops_and_keeps_the_good_checkpoints_and_policy(synthetic_dataset, tmp_path, tiny_train_cfg,
                                                                 tiny_train_args, capsys):
    run = tmp_path / "run"
    train(tiny_train_cfg(synthetic_dataset, run, steps=4))
    policy_before = (run / "policy" / "model.safetensors").read_bytes()
    code = main(tiny_train_args(synthetic_dataset, run, "--overwrite", "--lr", "1e6", "--save-every", "1"))
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sf train: error: ")]
    assert code == 2 and len(err) == 1, err  # one line (the rest of stderr is progress bars)
    assert "the run diverged, likely from too high a learning rate (--lr 1e+06)" in err[0]
    step = int(err[0].split("error: step ")[1].split(":")[0])
    assert step >= 2  # step 1 is finite: its checkpoint was written, and is the one kept as latest
    latest = (run / "checkpoints" / "latest").read_text()
    assert latest == f"step_{step - 1:06d}" and f"the last checkpoint is {run}/checkpoints/{latest}" in err[0]
    assert "Traceback" not in err[0]
    for ckpt in (run / "checkpoints").glob("step_*"):
        load_tensors(ckpt / "model.safetensors", "checkpoint weights")  # finite, else SFError
    assert (run / "policy" / "model.safetensors").read_bytes() == policy_before  # not replaced


def test_injected_nan_stops_at_its_step_and_the_run_resumes_from_the_last_checkpoint(
        synthetic_dataset, tmp_path, tiny_train_cfg, monkeypatch):
    augment = loop.augment_batch

    def nan_at_step_7(batch, crop, seed, step, *shard):
        if step == 6:  # 0-based: the 7th optimizer step
            batch["state"][0, 0] = float("nan")
        return augment(batch, crop, seed, step, *shard)

    monkeypatch.setattr(loop, "augment_batch", nan_at_step_7)
    cfg = tiny_train_cfg(synthetic_dataset, tmp_path / "run")
    with pytest.raises(SFError, match=r"^step 7: the action loss is nan: the batch's normalised state hold "
                                      r"NaN or inf: check the dataset and its meta/stats.json; stopped"):
        train(cfg)
    ckpts = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step_000004"]
    assert not (tmp_path / "run" / "policy").exists()
    monkeypatch.setattr(loop, "augment_batch", augment)  # the bad input is fixed: resume from step 4
    train(cfg, resume=True)
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in metrics] == [2, 4, 6, 8, 10, 12]
    assert (tmp_path / "run" / "policy" / "model.safetensors").is_file()


def test_divergence_before_any_checkpoint_leaves_nothing_behind(synthetic_dataset, tmp_path, tiny_train_cfg):
    with pytest.raises(SFError, match=r"no checkpoint was written"):
        train(tiny_train_cfg(synthetic_dataset, tmp_path / "run", lr=1e6, save_every=100))
    assert not (tmp_path / "run").exists()  # so the corrected command can be rerun as it is


def test_teacher_features_that_turn_nan_name_the_teacher(synthetic_dataset, tmp_path, tiny_train_cfg,
                                                        monkeypatch):
    from spatial_forcing.train.targets import TargetProvider

    call = TargetProvider.__call__

    def nan_feats(self, positions, images, boxes=None):
        return torch.full_like(call(self, positions, images, boxes), float("nan"))

    monkeypatch.setattr(TargetProvider, "__call__", nan_feats)
    with pytest.raises(SFError, match=r"^step 1: the alignment loss is nan: the batch's teacher features "
                                      r"hold NaN or inf: check the teacher"):
        train(tiny_train_cfg(synthetic_dataset, tmp_path / "run", targets="online"))
