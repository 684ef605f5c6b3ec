"""align.until_step: alignment for the first N steps only (HASTE-style), then the action loss alone."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.train import loop
from spatial_forcing.train.checkpoint import save_checkpoint
from spatial_forcing.train.loop import train

ALIGN = AlignConfig(enabled=True, teacher="mini3d", layers=[2], until_step=2)


def _ckpt(run, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step_{step:06d}" / "model.safetensors"))


def _part(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_projector_stops_after_until_step_while_the_action_training_goes_on(synthetic_dataset, tmp_path,
                                                                            tiny_train_cfg, monkeypatch):
    states = {}  # step -> the weights saved in its checkpoint (only the newest two checkpoints are kept)

    def save(run_dir, step, model, *args, **kw):
        states[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return save_checkpoint(run_dir, step, model, *args, **kw)

    monkeypatch.setattr(loop, "save_checkpoint", save)
    run = tmp_path / "run"
    train(tiny_train_cfg(synthetic_dataset, run, align=ALIGN, steps=4, save_every=1, log_every=1))
    assert sorted(states) == [1, 2, 3, 4] and _same(states[4], _ckpt(run, 4))
    sf = {s: _part(states[s], "sf.") for s in states}
    policy = {s: _part(states[s], "policy.") for s in states}
    assert sf[1] and not _same(sf[1], sf[2])  # aligned during steps 1 and 2
    assert _same(sf[2], sf[3]) and _same(sf[3], sf[4])  # untouched afterwards (no gradient, no weight decay)
    assert not _same(policy[2], policy[3]) and not _same(policy[3], policy[4])  # the action loss trains on
    rows = {r["step"]: r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}
    assert rows[1]["align_loss"] > 0 and rows[2]["align_loss"] > 0 and "align_cos" in rows[2]
    for step in (3, 4):
        assert rows[step]["align_loss"] == 0.0 and "align_cos" not in rows[step]
        assert rows[step]["loss"] == pytest.approx(rows[step]["action_loss"])


def test_a_run_stopped_after_until_step_resumes_exactly(synthetic_dataset, tmp_path, tiny_train_cfg):
    def stop(step, policy):
        raise KeyboardInterrupt

    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):  # at step 3's evaluation, before its checkpoint: resumes from 2
        train(tiny_train_cfg(synthetic_dataset, stopped, align=ALIGN, steps=4, save_every=1, eval_every=3),
              on_eval=stop)
    train(tiny_train_cfg(synthetic_dataset, stopped, align=ALIGN, steps=4, save_every=1, eval_every=3),
          resume=True, on_eval=lambda step, policy: {})
    straight = tmp_path / "straight"
    train(tiny_train_cfg(synthetic_dataset, straight, align=ALIGN, steps=4, save_every=1, eval_every=3),
          on_eval=lambda step, policy: {})
    assert _same(_ckpt(stopped, 4), _ckpt(straight, 4))


def test_until_step_must_not_be_negative():
    with pytest.raises(ValueError, match="align.until_step must be >= 0"):
        AlignConfig(until_step=-1)
    assert AlignConfig().active(10_000) and not AlignConfig(until_step=3).active(3)
    assert AlignConfig(until_step=3).active(2) and not AlignConfig(enabled=False).active(0)
