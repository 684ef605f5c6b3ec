"""SmallVLA: shapes, attention pattern, padding, layer paths and the visual-token layout."""

from __future__ import annotations

import pytest
import torch

from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import tiny
from spatial_forcing.vla.model import SmallVLA
from spatial_forcing.vla.protocol import VLAPolicy
from spatial_forcing.vla.registry import build_policy


def _model(tokenizer, seed: int = 0, **overrides) -> SmallVLA:
    torch.manual_seed(seed)
    return build_policy(tiny(**overrides), tokenizer).eval()


@pytest.mark.parametrize("head,slots", [("l1", "per_dim"), ("flow", "per_dim"), ("l1", "per_step"),
                                        ("flow", "per_step")])
def test_shapes_and_protocol(tokenizer, make_batch, head, slots):
    model = _model(tokenizer, head=head, action_slots=slots)
    cfg = model.config
    assert isinstance(model, VLAPolicy) and model.num_layers == cfg.llm_layers
    batch = make_batch(cfg, 3)
    out = model.train()(batch)
    assert out["action_loss"].dim() == 0 and out["action_loss"].requires_grad
    out["action_loss"].backward()
    assert model.vit.patch.weight.grad is not None and model.vit.patch.weight.grad.abs().sum() > 0
    if head == "l1":
        assert out["pred_actions"].shape == (3, cfg.chunk, cfg.action_dim)
    pred = model.eval().predict_action(batch)
    assert pred.shape == (3, cfg.chunk, cfg.action_dim) and not pred.requires_grad
    hidden = model.encode(batch).last_hidden_state
    assert hidden.shape == (3, SmallVLA.sequence_length(cfg), cfg.llm_dim)
    assert hidden.shape[1] - model.action_start == cfg.chunk * (cfg.action_dim if slots == "per_dim" else 1)


def test_flow_prediction_is_deterministic_given_noise(tokenizer, make_batch):
    model = _model(tokenizer, head="flow")
    batch = make_batch(model.config, 2)
    batch["noise"] = torch.randn(2, model.config.chunk, model.config.action_dim)
    assert torch.equal(model.predict_action(batch), model.predict_action(batch))


def test_attention_is_bidirectional(tokenizer, make_batch):
    """Changing an action-slot input (the last tokens) changes the hidden state of the first visual token."""
    model = _model(tokenizer)
    embeds, mask = model.embed(make_batch(model.config, 2))
    first_visual = model.token_layout().indices()[0]
    base = model.llm(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    poked = embeds.clone()
    poked[:, -1] += 1.0
    changed = model.llm(inputs_embeds=poked, attention_mask=mask).last_hidden_state
    assert (changed[:, first_visual] - base[:, first_visual]).abs().max() > 1e-4
    # with no mask at all the same LlamaModel is causal: this is what the 4D mask overrides
    causal = model.llm(inputs_embeds=poked).last_hidden_state
    causal_base = model.llm(inputs_embeds=embeds).last_hidden_state
    torch.testing.assert_close(causal[:, first_visual], causal_base[:, first_visual])


def test_padded_text_tokens_do_not_affect_outputs(tokenizer, make_batch):
    model = _model(tokenizer, action_query="learned")
    batch = make_batch(model.config, 2)
    ids, text_mask = tokenizer.encode(batch["instruction"], model.config.max_text_tokens)
    assert (~text_mask).any(), "test needs padded positions"
    other = torch.where(text_mask, ids, torch.randint(3, len(tokenizer), ids.shape))
    base = model.predict_action({**batch, "input_ids": ids, "text_mask": text_mask})
    swapped = model.predict_action({**batch, "input_ids": other, "text_mask": text_mask})
    torch.testing.assert_close(base, swapped, rtol=0, atol=1e-5)
    # sanity: the same id change *does* matter once those positions are unmasked
    unmasked = model.predict_action({**batch, "input_ids": other, "text_mask": torch.ones_like(text_mask)})
    assert (unmasked - base).abs().max() > 1e-4
    # and the instruction path tokenizes to exactly these ids
    torch.testing.assert_close(model.predict_action(batch), base, rtol=0, atol=0)


def test_layer_path_hook_matches_hidden_states(tokenizer, make_batch):
    model = _model(tokenizer)
    batch = make_batch(model.config, 2)
    captured: dict[int, torch.Tensor] = {}
    handles = []
    for k in range(1, model.num_layers + 1):
        module = model.get_submodule(model.layer_path(k))
        handles.append(module.register_forward_hook(
            lambda _m, _i, out, k=k: captured.__setitem__(k, out[0] if isinstance(out, tuple) else out)))
    hidden = model.encode(batch, output_hidden_states=True).hidden_states
    for h in handles:
        h.remove()
    assert len(hidden) == model.num_layers + 1
    for k in range(1, model.num_layers):
        torch.testing.assert_close(captured[k], hidden[k], rtol=0, atol=0)
    # the last layer: HF applies the final RMSNorm to hidden_states[-1], the hook sees the raw stream
    torch.testing.assert_close(model.llm.norm(captured[model.num_layers]), hidden[-1])
    for bad in (0, model.num_layers + 1, -1):
        with pytest.raises(SFError, match="layer"):
            model.layer_path(bad)


@pytest.mark.parametrize("use_bos", [True, False])
def test_token_layout_points_at_each_views_tokens(tokenizer, make_batch, use_bos):
    model = _model(tokenizer, use_bos=use_bos)
    layout = model.token_layout()
    assert layout.offset == int(use_bos) and layout.grid == model.config.grid and layout.shift == 0
    batch = make_batch(model.config, 2)
    base = model.encode(batch, output_hidden_states=True).hidden_states[0]
    per_view = layout.indices().view(layout.views, -1)
    for view in range(layout.views):
        poked = {**batch, "images": batch["images"].clone()}
        poked["images"][:, view] = torch.rand_like(poked["images"][:, view])
        emb = model.encode(poked, output_hidden_states=True).hidden_states[0]
        changed = ((emb - base).abs().amax(dim=(0, 2)) > 1e-6).nonzero().flatten()
        assert changed.tolist() == per_view[view].tolist()
    assert layout.select(base).shape == (2, layout.num_tokens, model.config.llm_dim)


def test_bad_batch_shapes_raise_sferror(tokenizer, make_batch):
    model = _model(tokenizer)
    batch = make_batch(model.config, 2)
    with pytest.raises(SFError, match="images"):
        model.predict_action({**batch, "images": batch["images"][:, :1]})
    with pytest.raises(SFError, match="dtype"):
        model.predict_action({**batch, "images": (batch["images"] * 255).to(torch.uint8)})
    with pytest.raises(SFError, match="input_ids"):
        ids, mask = tokenizer.encode(batch["instruction"], model.config.max_text_tokens + 1)
        model.predict_action({**batch, "input_ids": ids, "text_mask": mask})
    with pytest.raises(SFError, match="state"):
        model.predict_action({**batch, "state": batch["state"][:, :7]})
    with pytest.raises(SFError, match="actions"):
        model({**batch, "actions": batch["actions"][:, :3]})
    with pytest.raises(SFError, match="family"):
        build_policy(tiny(family="nope"), tokenizer)


@pytest.mark.parametrize("head", ["l1", "flow"])
def test_padded_action_steps_do_not_enter_the_loss(tokenizer, make_batch, head):
    model = _model(tokenizer, head=head)
    batch = make_batch(model.config, 2)
    batch["action_is_pad"][:, -3:] = True
    other = batch["actions"].clone()
    other[:, -3:] = 5.0  # garbage where the episode has ended
    torch.manual_seed(0)
    base = model(batch)["action_loss"]
    torch.manual_seed(0)  # same flow-matching noise and times
    same = model({**batch, "actions": other})["action_loss"]
    torch.manual_seed(0)
    unmasked = model({**batch, "actions": other, "action_is_pad": torch.zeros_like(batch["action_is_pad"])})
    torch.testing.assert_close(base, same)
    assert unmasked["action_loss"] > base + 0.1


def test_timing_tool_reports_positive_times():
    from spatial_forcing.vla.timing import measure

    row = measure("tiny", "flow", batch=2, steps=1, infer=1)
    cfg = tiny()
    visual = cfg.views * cfg.grid[0] * cfg.grid[1]
    expected_len = 1 + visual + 1 + cfg.max_text_tokens + cfg.chunk * cfg.action_dim
    assert row["step_s"] > 0 and row["infer_b1_ms"] > 0 and row["seq_len"] == expected_len


@pytest.mark.parametrize("head,query", [("l1", "zero"), ("flow", "learned")])
def test_rebuild_from_saved_config_tokenizer_and_weights(tokenizer, make_batch, tmp_path, head, query):
    from safetensors.torch import load_file, save_file

    from spatial_forcing.vla.config import config_from_dict, config_to_dict
    from spatial_forcing.vla.tokenizer import WordTokenizer

    model = _model(tokenizer, seed=3, head=head, action_query=query)
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    tokenizer.save(tmp_path / "tokenizer.json")
    config = config_from_dict(config_to_dict(model.config))
    torch.manual_seed(99)  # different init, so equality below must come from the loaded weights
    again = build_policy(config, WordTokenizer.load(tmp_path / "tokenizer.json")).eval()
    again.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=True)
    batch = make_batch(model.config, 2)
    batch["noise"] = torch.randn(2, config.chunk, config.action_dim)
    torch.testing.assert_close(again.predict_action(batch), model.predict_action(batch), rtol=0, atol=0)


def test_conv_stem_gives_the_same_token_grid_and_trains(tokenizer, make_batch):
    model = _model(tokenizer, vit_stem="conv")
    cfg = model.config
    convs = [m for m in model.vit.patch.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride for c in convs[:-1]] == [(2, 2)] * 3 and convs[-1].kernel_size == (1, 1)  # 32 px / patch 8
    batch = make_batch(cfg, 2)
    tokens = model.vit(batch["images"])
    assert tokens.shape == (2, cfg.views * cfg.grid[0] * cfg.grid[1], cfg.vit_dim)
    model.train()(batch)["action_loss"].backward()
    assert convs[0].weight.grad is not None and convs[0].weight.grad.abs().sum() > 0


def test_conv_stem_needs_a_power_of_two_patch():
    with pytest.raises(SFError, match="vit_stem='conv' needs a power-of-2 patch_size"):
        tiny(image_size=36, patch_size=12, vit_stem="conv")
    with pytest.raises(SFError, match="vit_stem='bad'"):
        tiny(vit_stem="bad")


def test_sincos_pos_embed_is_fixed_and_not_saved(tokenizer, make_batch):
    model = _model(tokenizer, vit_pos_embed="sincos")
    assert not any("pos_embed" in k for k in model.state_dict())
    assert not any(p is model.vit.pos_embed for p in model.parameters())
    pe = model.vit.pos_embed[0]
    assert pe.shape == (16, 64) and pe.std() > 0.3  # unit-scale code, distinct per patch
    assert torch.cdist(pe, pe).fill_diagonal_(1.0).min() > 0.1
    model.train()(make_batch(model.config, 2))["action_loss"].backward()
    with pytest.raises(SFError, match="vit_pos_embed='bad'"):
        tiny(vit_pos_embed="bad")


def test_the_encoder_refuses_an_unknown_stem_or_position_embedding():
    from spatial_forcing.vla.vit import ViTEncoder

    with pytest.raises(SFError, match="stem='bad'"):
        ViTEncoder(32, 8, 2, 64, 1, 2, stem="bad")
    with pytest.raises(SFError, match="pos_embed='rope'"):
        ViTEncoder(32, 8, 2, 64, 1, 2, pos_embed="rope")
