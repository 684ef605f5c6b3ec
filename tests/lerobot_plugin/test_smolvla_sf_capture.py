"""smolvla_sf's capture: the chosen layer's prefix stream, and from it only the image tokens (checked at the
embedding stream, where nothing has mixed positions yet: deeper, SmolVLA's bidirectional prefix attention puts
language into every image token by design). Padded patches are masked, and the teacher sees the padded geometry."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (or dev)")

from lerobot_policy_sf.modeling_smolvla_sf import SmolVLASFPolicy  # noqa: E402
from lerobot_policy_sf.smolvla_layout import TEXT_MODEL, image_layout, teacher_images  # noqa: E402

from spatial_forcing.core.capture import TokenCapture  # noqa: E402
from spatial_forcing.core.targets import build_targets  # noqa: E402


@pytest.fixture
def policy(smolvla_sf_config):
    torch.manual_seed(0)
    return SmolVLASFPolicy(smolvla_sf_config(teacher_weights="random"))


def test_forward_adds_the_alignment_loss_and_logs_it(policy, fake_batch):
    loss, info = policy.forward(fake_batch())
    assert {"action_loss", "align_loss", "align_cos", "loss"} <= set(info)
    assert loss.item() == pytest.approx(info["action_loss"] + 0.5 * info["align_loss"], rel=1e-5)
    loss.backward()
    layer0 = policy.model.vlm_with_expert.get_vlm_model().text_model.layers[0]
    assert layer0.mlp.up_proj.weight.grad.abs().sum() > 0  # the VLM below the aligned layer learns
    assert all(k.startswith("sf.sf.projectors.") for k in policy.state_dict() if k.startswith("sf."))


def test_hook_sees_the_prefix_stream_of_the_chosen_layer_once_per_forward(policy, fake_batch, monkeypatch):
    capture = policy.sf.sf.capture
    assert capture.paths == {2: f"{TEXT_MODEL}.layers.2.input_layernorm"}
    popped = []
    pop = capture.pop
    monkeypatch.setattr(capture, "pop", lambda: popped.append(pop()) or popped[-1])
    batch = fake_batch(tokens=6)
    policy.forward(batch)
    policy.forward(batch)
    assert capture.calls[2] == 2  # the expert's layers have their own norms: one call per forward
    prefix = 2 * 16 + 6 + 1  # two cameras x 4x4 tokens, language, state
    assert [p[2].shape for p in popped] == [(2, prefix, 64)] * 2


def test_layout_selects_exactly_the_image_tokens(policy, fake_batch):
    vlm = policy.model.vlm_with_expert
    layout = image_layout(vlm.config, policy.config, views=2)
    assert (layout.grid, layout.offset) == ((4, 4), 0)
    policy.eval()

    def image_slice(batch):
        with TokenCapture(policy, {0: f"{TEXT_MODEL}.layers.0.input_layernorm"}, kind="input") as cap:
            with torch.no_grad():
                policy.forward(batch, noise=torch.zeros(2, 8, 32), time=torch.full((2,), 0.5))
            return layout.select(cap.pop()[0])

    batch = fake_batch(seed=1)
    base = image_slice(batch)
    images, _ = policy.prepare_images(batch)
    expected = torch.cat([vlm.embed_image(img) for img in images], 1) * math.sqrt(base.shape[-1])
    torch.testing.assert_close(base, expected)
    other_words = {**batch, "observation.language.tokens": batch["observation.language.tokens"].flip(1) + 1}
    other_state = {**batch, "observation.state": batch["observation.state"] + 1}
    torch.testing.assert_close(image_slice(other_words), base, rtol=0, atol=0)
    torch.testing.assert_close(image_slice(other_state), base, rtol=0, atol=0)
    wrist = batch["observation.images.wrist"].clone()
    wrist[:, :, :8, :8] = 1 - wrist[:, :, :8, :8]  # one corner of camera 2
    moved = image_slice({**batch, "observation.images.wrist": wrist})
    assert torch.equal(moved[:, :16], base[:, :16])  # camera 1's tokens untouched
    assert not torch.allclose(moved[:, 16:], base[:, 16:])


def test_padding_is_white_for_the_teacher_and_masked_in_the_loss(smolvla_sf_config, fake_batch):
    config = smolvla_sf_config(image_hw=(48, 64), teacher_weights="random")
    batch = fake_batch(image_hw=(48, 64))
    images, valid = teacher_images(batch, config)
    assert images.shape == (2, 2, 3, 64, 64) and valid.shape == (2, 2, 64, 64)
    assert not valid[:, :, :16].any() and valid[:, :, 16:].all()  # SmolVLA pads the top (and left)
    assert torch.all(images[:, :, :, :16] == 1.0)
    _, mask = build_targets(torch.randn(2, 2, 8, 8, 16), (4, 4), pixel_valid=valid)
    mask = mask.reshape(2, 2, 4, 4)
    assert not mask[:, :, 0].any() and mask[:, :, 1:].all()  # the padded row of 16 px patches is out
    policy = SmolVLASFPolicy(config)
    loss, info = policy.forward(batch)
    assert torch.isfinite(loss) and 0 <= 1 - info["align_loss"] <= 1


def test_frozen_vlm_is_refused(smolvla_sf_config):
    with pytest.raises(ValueError, match="train_expert_only=True freezes the VLM"):
        smolvla_sf_config(train_expert_only=True)
