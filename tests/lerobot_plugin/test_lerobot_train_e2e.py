"""Done-when, end to end: stock `lerobot-train --policy.type=smolvla_sf` on an `sf generate` tabletop dataset
(tiny local SmolVLM, CPU, 3 steps) logs align_loss and saves a checkpoint; `sf export --lerobot` makes it a
`smolvla` checkpoint that a process with no SF code loads and acts with exactly as the SF checkpoint does; and
`sf eval tabletop` runs it. The same for the generic `sf` wrapper on a tiny ACT (`act` checkpoint)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (or dev)")

from lerobot_policy_sf.modeling_smolvla_sf import SmolVLASFPolicy  # noqa: E402

from spatial_forcing.cli.main import main  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
TIMEOUT = 1800  # a safety net only: ~40 s each on an idle 2-core machine, minutes when it is shared

STOCK_ACT = """
import sys, torch
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy
policy = SmolVLAPolicy.from_pretrained(sys.argv[1], strict=True)
batch = torch.load(sys.argv[2])
torch.save(policy.predict_action_chunk(batch, noise=batch.pop("noise")), sys.argv[3])
assert not any(m.startswith(("lerobot_policy_sf", "spatial_forcing")) for m in sys.modules), "SF code imported"
"""


def lerobot_train(args: list[str], out: Path) -> str:
    exe = Path(sys.executable).with_name("lerobot-train")
    run = subprocess.run([str(exe), *args, f"--output_dir={out}", "--batch_size=4", "--steps=3", "--log_freq=1",
                          "--save_freq=3", "--num_workers=0", "--wandb.enable=false", "--eval_freq=0",
                          "--policy.push_to_hub=false", "--policy.device=cpu"],
                         capture_output=True, text=True,
                         timeout=TIMEOUT, env=ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def test_lerobot_train_smolvla_sf_then_stock_smolvla(tabletop_dataset, tiny_vlm, fake_batch, tmp_path):
    log = lerobot_train(["--policy.type=smolvla_sf", "--dataset.repo_id=local/tabletop",
                         f"--dataset.root={tabletop_dataset}", f"--policy.vlm_model_name={tiny_vlm}",
                         "--policy.resize_imgs_with_padding=[64,64]", "--policy.num_vlm_layers=4",
                         "--policy.chunk_size=8", "--policy.n_action_steps=8", "--policy.align.layers=[2]",
                         "--policy.align_log_every=1"], tmp_path / "run")
    align = [float(v) for v in re.findall(r"align_loss=([0-9.]+)", log)]
    assert len(align) == 3 and all(0 < v < 2 for v in align), log[-2000:]
    ckpt = tmp_path / "run" / "checkpoints" / "last" / "pretrained_model"
    assert json.loads((ckpt / "config.json").read_text())["type"] == "smolvla_sf"

    assert main(["export", str(ckpt.parent), "--lerobot", "--out", str(tmp_path / "plain")]) == 0
    batch = fake_batch(batch_size=1, seed=7)
    batch.pop("action")
    batch["noise"] = torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(8))
    torch.save(batch, tmp_path / "batch.pt")
    run = subprocess.run([sys.executable, "-c", STOCK_ACT, str(tmp_path / "plain"), str(tmp_path / "batch.pt"),
                          str(tmp_path / "actions.pt")], capture_output=True, text=True,
                         timeout=TIMEOUT, env=ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    sf_policy = SmolVLASFPolicy.from_pretrained(ckpt).eval()
    noise = batch.pop("noise")
    expected = sf_policy.predict_action_chunk(batch, noise=noise)
    torch.testing.assert_close(torch.load(tmp_path / "actions.pt"), expected, rtol=0, atol=0)

    assert main(["eval", "tabletop", "--policy", str(tmp_path / "plain"), "--out", str(tmp_path / "eval.json"),
                 "--tasks", "0", "--init-states", "0", "--image-size", "64", "--max-steps", "8"]) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["episodes"] == 1 and result["per_task"] == {"left_of_cylinder": result["success_rate"]}


STOCK_ACT_POLICY = """
import sys, torch
from lerobot.policies.act.modeling_act import ACTPolicy
policy = ACTPolicy.from_pretrained(sys.argv[1], strict=True)
torch.save(policy.predict_action_chunk(torch.load(sys.argv[2])), sys.argv[3])
sf_code = [m for m in sys.modules if m.startswith(("lerobot_policy_sf", "spatial_forcing"))]
assert not sf_code, f"SF code imported: {sf_code}"
"""


def test_lerobot_train_generic_sf_on_act_then_stock_act(tabletop_dataset, tiny_act, tmp_path):
    from lerobot_policy_sf.modeling_sf import SFPolicy

    # our tabletop's environment_state is NaN for absent objects: not an ACT input
    policy = ["--policy.type=sf", "--policy.base_type=act", f"--policy.base={json.dumps(tiny_act)}",
              "--policy.align.layers=[1]", "--policy.align_log_every=1",
              '--policy.ignore_inputs=["observation.environment_state"]']
    log = lerobot_train([*policy, "--dataset.repo_id=local/tabletop", f"--dataset.root={tabletop_dataset}"],
                        tmp_path / "run")
    align = [float(v) for v in re.findall(r"align_loss=([0-9.]+)", log)]
    assert len(align) == 3 and all(0 < v < 2 for v in align), log[-2000:]
    ckpt = tmp_path / "run" / "checkpoints" / "last" / "pretrained_model"
    config = json.loads((ckpt / "config.json").read_text())
    assert config["type"] == "sf" and config["base_type"] == "act" and config["base"]["dim_model"] == 64

    assert main(["export", str(ckpt), "--lerobot", "--out", str(tmp_path / "plain")]) == 0
    plain = json.loads((tmp_path / "plain" / "config.json").read_text())
    assert plain["type"] == "act" and plain["normalization_mapping"]["VISUAL"] == "IDENTITY"
    assert "observation.environment_state" not in plain["input_features"]
    g = torch.Generator().manual_seed(9)
    batch = {"observation.images.agentview": torch.rand(1, 3, 64, 64, generator=g),
             "observation.images.wrist": torch.rand(1, 3, 64, 64, generator=g),
             "observation.state": torch.randn(1, 8, generator=g)}
    torch.save(batch, tmp_path / "batch.pt")
    run = subprocess.run([sys.executable, "-c", STOCK_ACT_POLICY, str(tmp_path / "plain"),
                          str(tmp_path / "batch.pt"), str(tmp_path / "actions.pt")],
                         capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = SFPolicy.from_pretrained(ckpt).eval().predict_action_chunk(dict(batch))
    torch.testing.assert_close(torch.load(tmp_path / "actions.pt"), expected, rtol=0, atol=0)

    assert main(["eval", "tabletop", "--policy", str(tmp_path / "plain"), "--out",
                 str(tmp_path / "eval.json"), "--tasks", "0", "--init-states", "0", "--image-size", "64",
                 "--max-steps", "8"]) == 0
    assert json.loads((tmp_path / "eval.json").read_text())["episodes"] == 1
