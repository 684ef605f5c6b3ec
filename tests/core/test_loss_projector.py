import pytest
import torch

from spatial_forcing.core.loss import cosine_align_loss
from spatial_forcing.core.projector import AlignProjector


def test_loss_zero_for_identical_and_one_for_orthogonal():
    x = torch.randn(3, 5, 8)
    loss, cos = cosine_align_loss(x, 2.5 * x)  # cosine ignores scale
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and cos.item() == pytest.approx(1.0, abs=1e-6)
    a = torch.zeros(1, 2, 4)
    b = torch.zeros(1, 2, 4)
    a[..., 0] = 1.0
    b[..., 1] = 1.0
    loss, cos = cosine_align_loss(a, b)
    assert loss.item() == pytest.approx(1.0) and cos.item() == pytest.approx(0.0)
    loss, _ = cosine_align_loss(a, -a)
    assert loss.item() == pytest.approx(2.0)


def test_masked_tokens_are_ignored_and_mean_is_per_sample_then_batch():
    pred = torch.randn(2, 6, 8)
    target = pred.clone()
    target[0, 3:] = -pred[0, 3:]  # masked-out tokens disagree completely
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[0, 3:] = False
    loss, _ = cosine_align_loss(pred, target, mask)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # sample 0: 1 token valid, cos -1 (loss 2); sample 1: all valid, loss 0 -> batch mean 1.0
    target = pred.clone()
    target[0] = -pred[0]
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0, 0] = True
    mask[1] = True
    loss, _ = cosine_align_loss(pred, target, mask)
    assert loss.item() == pytest.approx(1.0, abs=1e-6)
    # a sample with no valid token is left out of the batch mean
    mask[0] = False
    loss, _ = cosine_align_loss(pred, target, mask)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("norm", ["layernorm", "batchnorm", "none"])
def test_projector_shapes_init_and_norms(norm):
    proj = AlignProjector(32, 16, norm=norm)
    assert proj.fc1.out_features == 16  # hidden = out_dim (2048 for VGGT's 2048-d target), as the reference
    assert torch.count_nonzero(proj.fc1.bias) == 0 and torch.count_nonzero(proj.fc2.bias) == 0
    out = proj(torch.randn(4, 10, 32))
    assert out.shape == (4, 10, 16)
    with pytest.raises(ValueError, match="projector norm"):
        AlignProjector(8, 8, norm="groupnorm")
