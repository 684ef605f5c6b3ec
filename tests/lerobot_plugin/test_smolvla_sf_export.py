"""Deploy as stock: an smolvla_sf checkpoint exported by `sf export --lerobot` is a plain `smolvla` checkpoint:
no SF config fields, no SF weights, loadable strictly by stock SmolVLAPolicy, and it acts exactly as the SF policy."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (or dev)")

from lerobot.configs.policies import PreTrainedConfig  # noqa: E402
from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy  # noqa: E402
from lerobot_policy_sf.modeling_smolvla_sf import SmolVLASFPolicy  # noqa: E402

from spatial_forcing.cli.main import main  # noqa: E402


def test_export_is_a_stock_smolvla_that_acts_the_same(smolvla_sf_config, fake_batch, exported_after_one_step):
    torch.manual_seed(0)
    policy = SmolVLASFPolicy(smolvla_sf_config(teacher_weights="random"))
    config, keys, plain = exported_after_one_step(policy, fake_batch(seed=3))
    assert config["type"] == "smolvla" and not {"align", "teacher_weights", "align_log_every"} & set(config)
    assert not any(k.startswith("sf.") or "projector" in k for k in keys)

    stock_config = PreTrainedConfig.from_pretrained(plain)
    assert type(stock_config).__name__ == "SmolVLAConfig"
    stock = SmolVLAPolicy.from_pretrained(plain, config=stock_config, strict=True)
    assert set(stock.state_dict()) == keys
    batch = fake_batch(seed=4)
    noise = torch.randn(2, 8, 32, generator=torch.Generator().manual_seed(5))
    policy.eval()
    expected = policy.predict_action_chunk(dict(batch), noise=noise)
    torch.testing.assert_close(stock.predict_action_chunk(dict(batch), noise=noise), expected, rtol=0, atol=0)


def test_export_refuses_a_plain_checkpoint(tmp_path, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_text(json.dumps({"type": "smolvla"}))
    (tmp_path / "c" / "model.safetensors").write_bytes(b"")
    assert main(["export", str(tmp_path / "c"), "--lerobot", "--out", str(tmp_path / "o")]) == 2
    assert "type 'smolvla' is not an SF policy" in capsys.readouterr().err
