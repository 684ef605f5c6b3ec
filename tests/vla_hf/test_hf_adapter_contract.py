"""Contract test run against every registered VLM adapter with a tiny random model of its family."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from tiny_vlms import BUILDERS, HIDDEN, LAYERS, TOKENS_PER_VIEW, VIEWS, TinyCase, build_case, vision_parameter

from spatial_forcing.core.capture import TokenCapture
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.vla.hf import HFSpatialForcing, families, get_adapter

TEACHER_DIM, TEACHER_GRID = 24, 6


@functools.lru_cache(maxsize=None)
def _cached(family: str) -> TinyCase:
    return build_case(family)


def fresh(family: str) -> TinyCase:
    """A private copy of the family's tiny model (building costs more than copying)."""
    return copy.deepcopy(_cached(family))


def teacher_feats(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, VIEWS, TEACHER_GRID, TEACHER_GRID, TEACHER_DIM, generator=g)


def make_sf(adapter, layer: int | None = None) -> SpatialForcing:
    return SpatialForcing(AlignConfig(), adapter.hidden_size, TEACHER_DIM, [layer or adapter.default_layer()])


def test_every_family_has_a_tiny_model():
    assert sorted(BUILDERS) == families()


@pytest.fixture(params=families())
def family(request) -> str:
    return request.param


def test_adapter_geometry(family):
    case = fresh(family)
    adapter = get_adapter(case.model)
    assert adapter.family == family
    assert (adapter.num_layers, adapter.hidden_size) == (LAYERS, HIDDEN)
    assert adapter.grid[0] * adapter.grid[1] == TOKENS_PER_VIEW
    assert 1 <= adapter.default_layer() <= LAYERS


@pytest.mark.parametrize("kind", ["output", "input"])
def test_hooked_module_is_hidden_state_k(family, kind):
    case = fresh(family)
    adapter = get_adapter(case.model)
    paths = {k: adapter.layer_path(k, kind) for k in range(1, LAYERS + 1)}
    with TokenCapture(case.model, paths, kind=kind) as cap, torch.no_grad():
        hidden = case.hidden_states()
        got = cap.pop()
    for k in range(1, LAYERS):  # HF hidden_states[k], k < L, is the raw residual stream after layer k
        torch.testing.assert_close(got[k], hidden[k], rtol=0, atol=0)
    # hidden_states[L] is final-normed in HF; the hook gives the raw stream, which the final norm maps to it
    norm = case.model.get_submodule(adapter.layer_path(LAYERS, "input"))
    with torch.no_grad():
        torch.testing.assert_close(norm(got[LAYERS]), hidden[LAYERS])


def test_layout_selects_exactly_the_image_tokens(family):
    case = fresh(family)
    adapter = get_adapter(case.model)
    layout = adapter.token_layout(case.inputs["input_ids"])
    assert layout.views == VIEWS and layout.grid == adapter.grid
    seq_len = case.image_positions.shape[1]
    selected = torch.zeros(seq_len, dtype=torch.bool)
    selected[layout.indices()] = True
    for row in case.image_positions:
        assert torch.equal(selected, row)
    # the gathered tokens are the hidden states at those positions, view-major then row-major
    with torch.no_grad():
        hidden = case.hidden_states()[1]
    expected = torch.stack([h[row] for h, row in zip(hidden, case.image_positions)])
    torch.testing.assert_close(layout.select(hidden), expected, rtol=0, atol=0)
    shifted = get_adapter(case.model, shift=1).token_layout(case.inputs["input_ids"])
    assert torch.equal(shifted.indices(), layout.indices() + 1)


def test_sf_gradients_reach_vision_tower_and_decoder(family):
    case = fresh(family)
    adapter = get_adapter(case.model)
    k = 2
    module = HFSpatialForcing(case.model, make_sf(adapter, k), adapter)
    _, align_loss, metrics = module(teacher_feats(), **case.inputs)
    align_loss.backward()
    assert -1.0 <= metrics["align_cos"] <= 1.0
    assert vision_parameter(case.model, case.vision_param).grad.abs().sum() > 0
    layers = case.model.get_submodule(adapter.layer_path(1).rsplit(".", 1)[0])
    for i, layer in enumerate(layers):
        grads = [p.grad for p in layer.parameters()]
        if i < k:  # layers 1..k feed the aligned stream
            assert any(g is not None and g.abs().sum() > 0 for g in grads), f"layer {i + 1} got no gradient"
        else:  # later layers cannot influence it
            assert all(g is None or g.abs().sum() == 0 for g in grads), f"layer {i + 1} got a gradient"
    assert all(p.grad is not None for p in module.sf.parameters())


def test_sf_loss_decreases_on_a_fixed_batch(family):
    case = fresh(family)
    case.model.train()
    adapter = get_adapter(case.model)
    module = HFSpatialForcing(case.model, make_sf(adapter), adapter)
    opt = torch.optim.Adam(module.parameters(), lr=1e-2)
    feats, align_losses, lm_losses = teacher_feats(), [], []
    for _ in range(10):
        out, align_loss, _ = module(feats, **case.inputs)
        loss = out.loss + module.sf.cfg.alpha * align_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        align_losses.append(float(align_loss.detach()))
        lm_losses.append(float(out.loss.detach()))
    assert align_losses[-1] < align_losses[0] - 0.05, align_losses
    assert lm_losses[-1] < lm_losses[0], lm_losses


def _hook_ids(model) -> dict[str, tuple]:
    return {name: (tuple(m._forward_hooks), tuple(m._forward_pre_hooks)) for name, m in model.named_modules()}


def test_detaching_leaves_the_model_unchanged(family):
    case = fresh(family)
    keys = list(case.model.state_dict())
    with torch.no_grad():
        before = case.model(**case.inputs).logits
    hooks = _hook_ids(case.model)  # after a forward: transformers installs its own output-recording hooks
    adapter = get_adapter(case.model)
    for kind in ("output", "input"):
        module = HFSpatialForcing(case.model, make_sf(adapter), adapter, kind=kind)
        with torch.no_grad():
            module(teacher_feats(), **case.inputs)
        module.detach_hooks()
    assert _hook_ids(case.model) == hooks
    assert list(case.model.state_dict()) == keys
    with torch.no_grad():
        torch.testing.assert_close(case.model(**case.inputs).logits, before, rtol=0, atol=0)
