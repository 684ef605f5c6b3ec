"""Fixtures of the lerobot_policy_sf tests: a tiny local SmolVLM, a tabletop dataset from `sf generate`, tiny
smolvla_sf configs and tiny `sf` configs wrapping ACT (everything offline, seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    from lerobot_policy_sf.tiny_vlm import write_tiny_vlm

    return write_tiny_vlm(tmp_path_factory.mktemp("tiny_smolvlm"))


@pytest.fixture(scope="session")
def tabletop_dataset(tmp_path_factory) -> Path:
    """Two scripted tabletop episodes (64 px image features), written by `sf generate`."""
    from spatial_forcing.cli.main import main

    out = tmp_path_factory.mktemp("tabletop") / "ds"
    assert main(["generate", "--env", "tabletop", "--out", str(out), "--episodes-per-task", "1", "--tasks", "0,1",
                 "--image-size", "64", "--init-states", "0-0"]) == 0
    return out


@pytest.fixture
def smolvla_sf_config(tiny_vlm):
    """make(**overrides) -> a tiny SmolVLASFConfig on two cameras (image shape `image_hw`), state 8, action 7."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot_policy_sf.configuration_smolvla_sf import SmolVLASFConfig

    from spatial_forcing.core.config import AlignConfig

    def make(image_hw=(64, 64), layers=(2,), **overrides):
        features = {f"observation.images.{c}": PolicyFeature(FeatureType.VISUAL, (3, *image_hw))
                    for c in ("agentview", "wrist")}
        features["observation.state"] = PolicyFeature(FeatureType.STATE, (8,))
        kw = dict(vlm_model_name=str(tiny_vlm), resize_imgs_with_padding=(64, 64), num_vlm_layers=4, chunk_size=8,
                  n_action_steps=8, device="cpu", align=AlignConfig(layers=list(layers)), input_features=features,
                  output_features={"action": PolicyFeature(FeatureType.ACTION, (7,))})
        return SmolVLASFConfig(**{**kw, **overrides})

    return make


@pytest.fixture
def tiny_act() -> dict:
    """A tiny ACT's fields (`--policy.base` of the generic `sf` wrapper); no pretrained ResNet: offline."""
    return {"dim_model": 64, "n_heads": 2, "dim_feedforward": 128, "n_encoder_layers": 2,
            "n_decoder_layers": 1, "n_vae_encoder_layers": 1, "chunk_size": 8, "n_action_steps": 8,
            "pretrained_backbone_weights": None}


@pytest.fixture
def sf_act_config(tiny_act):
    """make(image_hw, env_state, **overrides) -> an SFConfig wrapping a tiny ACT on two cameras (image shape
    `image_hw`), state 8 (and an environment state 12 if `env_state`), action 7; teacher weights random."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot_policy_sf.configuration_sf import SFConfig

    from spatial_forcing.core.config import AlignConfig

    def make(image_hw=(64, 64), env_state=False, layers=(1,), **overrides):
        features = {f"observation.images.{c}": PolicyFeature(FeatureType.VISUAL, (3, *image_hw))
                    for c in ("agentview", "wrist")}
        features["observation.state"] = PolicyFeature(FeatureType.STATE, (8,))
        if env_state:
            features["observation.environment_state"] = PolicyFeature(FeatureType.ENV, (12,))
        kw = dict(base_type="act", base=dict(tiny_act), device="cpu", align=AlignConfig(layers=list(layers)),
                  teacher_weights="random", input_features=features,
                  output_features={"action": PolicyFeature(FeatureType.ACTION, (7,))})
        return SFConfig(**{**kw, **overrides})

    return make


@pytest.fixture
def fake_batch():
    """make(batch_size, image_hw, tokens, seed) -> a processed batch as SmolVLA's forward takes it (images in
    [0, 1], language tokens, normalised state and action chunk)."""
    return _fake_batch


def _fake_batch(batch_size: int = 2, image_hw=(64, 64), tokens: int = 6, seed: int = 0) -> dict:
    import torch

    g = torch.Generator().manual_seed(seed)
    return {"observation.images.agentview": torch.rand(batch_size, 3, *image_hw, generator=g),
            "observation.images.wrist": torch.rand(batch_size, 3, *image_hw, generator=g),
            "observation.state": torch.randn(batch_size, 8, generator=g),
            "action": torch.randn(batch_size, 8, 7, generator=g),
            "observation.language.tokens": torch.randint(8, 20, (batch_size, tokens), generator=g),
            "observation.language.attention_mask": torch.ones(batch_size, tokens, dtype=torch.bool)}


@pytest.fixture
def exported_after_one_step(tmp_path):
    """Train `policy` one AdamW step on `batch` (trained weights, not the init), save it, `sf export --lerobot`
    it; returns (the exported config.json, the exported weight keys, the export's directory)."""
    import json

    import torch
    from safetensors.torch import load_file

    from spatial_forcing.cli.main import main

    def export(policy, batch) -> tuple[dict, set, Path]:
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2)
        loss, _ = policy.forward(batch)
        loss.backward()
        optimizer.step()
        policy.save_pretrained(tmp_path / "sf")
        assert any(k.startswith("sf.") for k in load_file(str(tmp_path / "sf" / "model.safetensors")))
        assert main(["export", str(tmp_path / "sf"), "--lerobot", "--out", str(tmp_path / "plain")]) == 0
        config = json.loads((tmp_path / "plain" / "config.json").read_text())
        return config, set(load_file(str(tmp_path / "plain" / "model.safetensors"))), tmp_path / "plain"

    return export
