"""The generic `sf` wrapper on ACT: its config (base_type + a plain `base` dict) round-trips through
config.json and refuses bad input in one line; the ACT preset selects exactly the cameras' tokens of the
encoder stream; the training loss adds alpha x align_loss; and `sf export --lerobot` gives a stock `act`
checkpoint that loads strictly and acts exactly as the wrapped policy."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (dev)")

from lerobot.configs.policies import PreTrainedConfig  # noqa: E402
from lerobot.policies.act.configuration_act import ACTConfig  # noqa: E402
from lerobot.policies.act.modeling_act import ACTPolicy  # noqa: E402
from lerobot_policy_sf.configuration_sf import encode_base  # noqa: E402
from lerobot_policy_sf.layout_presets import layout_of, resolve  # noqa: E402
from lerobot_policy_sf.modeling_sf import SequenceFirstCapture, SFPolicy  # noqa: E402


CAMERAS = ("observation.images.agentview", "observation.images.wrist")


def act_batch(batch_size=2, image_hw=(64, 64), env_state=False, seed=0) -> dict:
    """A processed ACT training batch (images in [0, 1], normalised state and actions)."""
    g = torch.Generator().manual_seed(seed)
    batch = {k: torch.rand(batch_size, 3, *image_hw, generator=g) for k in CAMERAS}
    batch["observation.state"] = torch.randn(batch_size, 8, generator=g)
    if env_state:
        batch["observation.environment_state"] = torch.randn(batch_size, 12, generator=g)
    batch["action"] = torch.randn(batch_size, 8, 7, generator=g)
    batch["action_is_pad"] = torch.zeros(batch_size, 8, dtype=torch.bool)
    return batch


def observations(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("action")}


def test_config_round_trips_through_config_json(sf_act_config, tmp_path):
    config = sf_act_config(ignore_inputs=["observation.environment_state"], env_state=True)
    assert config.base_config.normalization_mapping["VISUAL"].value == "IDENTITY"  # the teacher's [0, 1]
    assert "observation.environment_state" not in config.base_config.input_features
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["type"] == "sf" and saved["base_type"] == "act"
    assert set(saved["base"]) == set(encode_base(ACTConfig(device="cpu")))  # the whole wrapped config
    assert "observation.environment_state" not in saved["base"]["input_features"]

    loaded = PreTrainedConfig.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "SFConfig" and loaded.base_config == config.base_config
    assert loaded.ignore_inputs == config.ignore_inputs and loaded.align == config.align
    # a --policy.base override on a saved config is merged into its fields (lerobot passes them as JSON)
    changed = PreTrainedConfig.from_pretrained(tmp_path, cli_overrides=['--base={"n_action_steps": 4}'])
    assert (changed.base_config.n_action_steps, changed.base_config.dim_model) == (4, 64)


@pytest.mark.parametrize("overrides, message", [
    ({"base_type": "sf"}, "--policy.base_type 'sf': expected a policy type to wrap"),
    ({"base_type": "nope"}, "--policy.base_type 'nope': expected a policy type to wrap"),
    ({"base": {"dim_modle": 64}}, "--policy.base is not a valid act config"),
    ({"base": {"chunk_size": 4, "n_action_steps": 8}}, "--policy.base is not a valid act config"),
    ({"base": {"type": "diffusion"}}, "names type 'diffusion' but --policy.base_type is 'act'"),
])
def test_bad_wrapped_config_is_a_one_line_error(sf_act_config, overrides, message):
    with pytest.raises(ValueError, match="^sf: ") as error:
        sf_act_config(**overrides)
    assert message in str(error.value)


@pytest.mark.parametrize("image_hw, env_state, offset, grid", [((64, 64), False, 2, (2, 2)),
                                                              ((50, 70), True, 3, (2, 3))])
def test_act_preset_selects_exactly_the_image_tokens(sf_act_config, image_hw, env_state, offset, grid):
    """At the encoder's input (layer 1's stream before attention mixes positions) the selected tokens are the
    projected ResNet feature maps of the cameras, in camera order, row-major; nothing follows them."""
    torch.manual_seed(0)
    policy = SFPolicy(sf_act_config(image_hw=image_hw, env_state=env_state)).eval()
    values = resolve(policy.config)
    assert (values["token_offset"], tuple(values["token_grid"]), values["token_dim"]) == (offset, grid, 64)
    assert policy.sf.sf.capture.paths == {1: "model.encoder.layers.0"}  # aligned layer 1 = its output
    layout = layout_of(values, views=2)

    maps = []
    proj = policy.base.model.encoder_img_feat_input_proj
    hook = proj.register_forward_hook(lambda module, args, out: maps.append(out))
    try:
        with SequenceFirstCapture(policy.base, {0: "model.encoder.layers.0"}, kind="input") as capture:
            with torch.no_grad():
                policy.predict_action_chunk(observations(act_batch(image_hw=image_hw, env_state=env_state)))
            stream = capture.pop()[0]
    finally:
        hook.remove()
    assert stream.shape[1] == offset + layout.num_tokens  # the cameras' tokens end the stream
    expected = torch.cat([m.flatten(2).transpose(1, 2) for m in maps], 1)  # b c h w -> b (h w) c
    torch.testing.assert_close(layout.select(stream), expected, rtol=0, atol=0)


def test_forward_adds_the_alignment_loss_and_trains_the_encoder(sf_act_config):
    torch.manual_seed(0)
    policy = SFPolicy(sf_act_config())
    loss, info = policy.forward(act_batch())
    assert {"action_loss", "align_loss", "align_cos", "l1_loss", "loss"} <= set(info)
    assert loss.item() == pytest.approx(info["action_loss"] + 0.5 * info["align_loss"], rel=1e-5)
    loss.backward()
    assert policy.base.model.encoder.layers[0].linear1.weight.grad.abs().sum() > 0
    assert all(k.startswith("sf.sf.projectors.") for k in policy.state_dict() if k.startswith("sf."))
    projector = {id(p) for p in policy.sf.parameters()}
    groups = policy.get_optim_params()
    assert {id(p) for p in groups[-1]["params"]} == projector  # ACT's groups, then the projector's


def test_export_is_a_stock_act_that_acts_the_same(sf_act_config, exported_after_one_step):
    torch.manual_seed(0)
    policy = SFPolicy(sf_act_config(env_state=True, ignore_inputs=["observation.environment_state"]))
    config, keys, plain = exported_after_one_step(policy, act_batch(seed=3))
    assert config["type"] == "act" and config["normalization_mapping"]["VISUAL"] == "IDENTITY"
    assert not {"base", "base_type", "align", "teacher_weights", "ignore_inputs"} & set(config)
    assert set(config["input_features"]) == {*CAMERAS, "observation.state"}
    assert not any(k.startswith(("sf.", "base.")) or "projector" in k for k in keys)

    stock = ACTPolicy.from_pretrained(plain, strict=True).eval()
    assert set(stock.state_dict()) == keys
    batch = observations(act_batch(seed=4, env_state=True))
    expected = policy.eval().predict_action_chunk(dict(batch))
    torch.testing.assert_close(stock.predict_action_chunk(dict(batch)), expected, rtol=0, atol=0)
