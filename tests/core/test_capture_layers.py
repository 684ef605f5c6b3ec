import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from spatial_forcing.core.capture import TokenCapture
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.layers import LayerMix
from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.utils.errors import SFError


class Stack(nn.Module):
    def __init__(self, dim=8, n=3, ckpt=False):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n))
        self.ckpt = ckpt

    def forward(self, x):
        for layer in self.layers:
            x = checkpoint(layer, x, use_reentrant=False) if self.ckpt and self.training else layer(x)
        return x


@pytest.mark.parametrize("ckpt", [False, True])
def test_hook_fires_once_per_forward_even_under_checkpointing(ckpt):
    model = Stack(ckpt=ckpt)
    with TokenCapture(model, {1: "layers.1"}) as cap:
        for _ in range(3):
            out = model(torch.randn(2, 5, 8, requires_grad=True))
            tokens = cap.pop()[1]
            (out.sum() + tokens.pow(2).sum()).backward()
        assert cap.calls[1] == 3
    assert not model.layers[1]._forward_hooks  # removed on exit


def test_captured_tokens_equal_layer_output_and_carry_gradient():
    model = Stack()
    x = torch.randn(2, 5, 8)
    with TokenCapture(model, {2: "layers.1"}) as cap:
        model(x)
        got = cap.pop()[2]
    want = model.layers[1](model.layers[0](x))
    assert torch.allclose(got, want) and got.requires_grad
    with TokenCapture(model, {2: "layers.2"}, kind="input") as cap:
        model(x)
        assert torch.allclose(cap.pop()[2], want)


def test_wrong_module_path_is_a_clear_error_and_leaves_no_hook():
    model = Stack()
    with pytest.raises(ValueError, match="no submodule 'layers.7'"):
        TokenCapture(model, {1: "layers.0", 2: "layers.7"})
    assert not model.layers[0]._forward_hooks


def test_layout_select_and_mismatch():
    layout = TokenLayout(views=2, grid=(2, 2), offset=1)
    h = torch.arange(12.0)[None, :, None]
    assert layout.select(h)[0, :, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    shifted = TokenLayout(views=2, grid=(2, 2), offset=1, shift=1)
    assert shifted.indices().tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    gapped = TokenLayout(views=2, grid=(2, 2), offset=0, stride=5)
    assert gapped.indices().tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    with pytest.raises(ValueError, match="captured sequence has 6 tokens"):
        layout.select(torch.zeros(1, 6, 3))


def test_adaptive_weights_sum_to_one_and_learn():
    mix = LayerMix(3, 8)
    assert mix.weights().sum().item() == pytest.approx(1.0)
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([2.0, -1.0, 0.5]))
    assert mix.weights().sum().item() == pytest.approx(1.0)
    out = mix([torch.randn(2, 4, 8) for _ in range(3)])
    out.sum().backward()
    assert mix.logits.grad is not None


@pytest.mark.parametrize("mode,layers", [("single", [2]), ("multi", [1, 3]), ("adaptive", [1, 2, 3])])
def test_spatial_forcing_end_to_end_reduces_loss(mode, layers):
    torch.manual_seed(0)
    model = Stack(dim=16, n=3)
    cfg = AlignConfig(mode=mode, layers=layers, use_pe=False)
    sf = SpatialForcing(cfg, student_dim=16, teacher_dim=8, layers=layers)
    sf.attach(model, {k: f"layers.{k - 1}" for k in layers}, TokenLayout(views=2, grid=(2, 2), offset=1))
    x = torch.randn(4, 10, 16)
    feats = torch.randn(4, 2, 2, 2, 8)
    opt = torch.optim.Adam(list(model.parameters()) + list(sf.parameters()), lr=1e-2)
    first = None
    for _ in range(60):
        model(x)
        loss, metrics = sf(feats)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert 0.0 <= metrics["align_cos"] <= 1.0
    if mode == "adaptive":
        assert sum(metrics[f"layer_weight/{k}"] for k in layers) == pytest.approx(1.0)
    sf.detach()
    assert not any(m._forward_hooks for m in model.layers)


def test_config_validation():
    with pytest.raises(SFError, match=r"align.layers: layer 9 out of range; expected an integer in 1..8"):
        AlignConfig(layers=[9]).resolve_layers(8)
    assert AlignConfig().resolve_layers(32) == [24]
    assert AlignConfig().resolve_layers(18) == [14]
    with pytest.raises(ValueError, match="align.mode"):
        AlignConfig(mode="weird")
