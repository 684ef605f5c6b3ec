"""peft-wrapped models, hand-rolled layer loops (LeRobot style), and batch-layout errors."""

from __future__ import annotations

import pytest
import torch
from tiny_vlms import BOS, IMAGE_ID, LAYERS, TEXT, build_case, vision_parameter

from spatial_forcing.core.capture import TokenCapture
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.hf import HFSpatialForcing, get_adapter, layout_from_input_ids, resolve_layer_path


@pytest.mark.parametrize("family", ["paligemma", "prismatic"])
def test_hooks_fire_through_a_peft_lora_wrapper(family):
    peft = pytest.importorskip("peft", reason="peft is a test-only dependency (the [dev] extra)")
    case = build_case(family)
    with torch.no_grad():
        reference = case.hidden_states()
    wrapped = peft.get_peft_model(case.model, peft.LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                              init_lora_weights="gaussian"))
    adapter = get_adapter(wrapped)
    assert adapter.family == family
    path = adapter.layer_path(2)
    assert path.startswith("base_model.model.")
    assert resolve_layer_path(wrapped, adapter.layers_rel + ".1") == path
    with TokenCapture(wrapped, {2: path}) as cap, torch.no_grad():
        wrapped.disable_adapter_layers()  # LoRA off: the stream must equal the bare model's
        hidden = wrapped(**case.inputs, output_hidden_states=True).hidden_states
        wrapped.enable_adapter_layers()
        assert cap.calls[2] == 1
        torch.testing.assert_close(cap.pop()[2], reference[2], rtol=0, atol=0)
        torch.testing.assert_close(hidden[2], reference[2], rtol=0, atol=0)
    sf = SpatialForcing(AlignConfig(), adapter.hidden_size, 8, [2])
    module = HFSpatialForcing(wrapped, sf, adapter)
    _, align_loss, _ = module(torch.randn(2, 2, 3, 3, 8), **case.inputs)
    align_loss.backward()
    lora = [p for n, p in wrapped.named_parameters() if "lora_" in n and p.grad is not None]
    assert lora and any(p.grad.abs().sum() > 0 for p in lora)


def test_input_kind_captures_a_hand_rolled_layer_loop():
    """LeRobot's pi0 / SmolVLA call layer internals themselves: layer forward hooks never fire."""
    case = build_case("paligemma")
    adapter = get_adapter(case.model)
    lm = case.model.get_submodule(adapter.layers_abs.rsplit(".", 1)[0])
    ids = case.inputs["input_ids"]
    pos = torch.arange(ids.shape[1])[None]
    paths_out = {k: adapter.layer_path(k, "output") for k in (1, 3)}
    paths_in = {k: adapter.layer_path(k, "input") for k in (1, 3)}
    with TokenCapture(case.model, paths_out) as cap_out, \
            TokenCapture(case.model, paths_in, kind="input") as cap_in, torch.no_grad():
        x = lm.embed_tokens(ids)
        pe = lm.rotary_emb(x, pos)
        streams = []
        for layer in lm.layers:
            x = layer.forward(x, position_embeddings=pe, attention_mask=None, position_ids=pos)
            streams.append(x)
        x = lm.norm(x)
        assert cap_out.calls == {1: 0, 3: 0}
        got = cap_in.pop()
    for k in (1, 3):
        torch.testing.assert_close(got[k], streams[k - 1], rtol=0, atol=0)


def test_layout_errors_name_the_problem():
    grid = (2, 2)
    ok = torch.tensor([[BOS] + [IMAGE_ID] * 4 + TEXT, [BOS] + [IMAGE_ID] * 4 + TEXT])
    assert layout_from_input_ids(ok, IMAGE_ID, grid).offset == 1
    left_padded = torch.tensor([[BOS] + [IMAGE_ID] * 4 + TEXT, [0, BOS] + [IMAGE_ID] * 4 + TEXT[:-1]])
    with pytest.raises(SFError, match="share one offset"):
        layout_from_input_ids(left_padded, IMAGE_ID, grid)
    fewer = torch.tensor([[BOS] + [IMAGE_ID] * 4 + TEXT, [BOS] + [IMAGE_ID] * 3 + TEXT + [0]])
    with pytest.raises(SFError, match="different numbers"):
        layout_from_input_ids(fewer, IMAGE_ID, grid)
    split = torch.tensor([[BOS, IMAGE_ID, IMAGE_ID, 5, IMAGE_ID, IMAGE_ID, 6]])
    with pytest.raises(SFError, match="consecutive"):
        layout_from_input_ids(split, IMAGE_ID, grid)
    uneven = torch.tensor([[IMAGE_ID] * 4 + [5] + [IMAGE_ID] * 4 + [5, 5] + [IMAGE_ID] * 4])
    with pytest.raises(SFError, match="evenly spaced"):
        layout_from_input_ids(uneven, IMAGE_ID, grid)
    with pytest.raises(SFError, match="no image token"):
        layout_from_input_ids(torch.tensor([TEXT]), IMAGE_ID, grid)


def test_adapter_rejects_bad_requests():
    case = build_case("paligemma")
    adapter = get_adapter(case.model)
    with pytest.raises(SFError, match="out of range"):
        adapter.layer_path(LAYERS + 1)
    with pytest.raises(SFError, match="views=N"):
        adapter.token_layout()
    assert adapter.token_layout(views=3).offset == 0  # pi0 builds its own prefix: cameras first
    with pytest.raises(SFError, match="unknown VLM family"):
        get_adapter(case.model, family="nope")
    with pytest.raises(SFError, match="no VLM adapter"):
        get_adapter(torch.nn.Linear(2, 2))
    sf = SpatialForcing(AlignConfig(shift=1), adapter.hidden_size, 8, [2])
    with pytest.raises(SFError, match="shift set twice"):
        HFSpatialForcing(case.model, sf, get_adapter(case.model, shift=1))


def test_gradient_checkpointing_recompute_does_not_touch_captures():
    case = build_case("paligemma")
    adapter = get_adapter(case.model)
    with torch.no_grad():
        reference = case.hidden_states()[2]
    enable = (getattr(case.model, "activation_checkpointing_enable", None)
              or case.model.gradient_checkpointing_enable)
    enable()
    case.model.train()  # checkpointing is active in train mode only; the tiny configs have no dropout
    # a pre-hook fires again when backward recomputes the layer (non-reentrant checkpointing may stop
    # recomputing before a layer's end, so an output hook need not); the capture must keep the forward's
    norm = case.model.get_submodule(adapter.layer_path(2, "input"))
    raw_calls = []
    handle = norm.register_forward_pre_hook(lambda *_: raw_calls.append(1))
    with TokenCapture(case.model, {2: adapter.layer_path(2, "input")}, kind="input") as cap:
        case.model(**case.inputs).loss.backward()
        assert len(raw_calls) == 2 and cap.calls[2] == 1  # forward + recompute, only the first kept
        torch.testing.assert_close(cap.tensors[2], reference, rtol=0, atol=0)
    handle.remove()
    sf = SpatialForcing(AlignConfig(), adapter.hidden_size, 8, [2])
    module = HFSpatialForcing(case.model, sf, adapter)
    out, align_loss, _ = module(torch.randn(2, 2, 3, 3, 8), **case.inputs)
    (out.loss + align_loss).backward()
    assert sf.capture.calls[2] == 1 and not sf.capture.tensors
    assert vision_parameter(case.model, case.vision_param).grad.abs().sum() > 0
