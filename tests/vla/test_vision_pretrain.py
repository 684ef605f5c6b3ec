"""Masked-image pretraining of the student ViT: the mask hook, per-view masks, the masked loss, learning."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spatial_forcing.vla.vision_pretrain import MaskedViT, ViT2DConfig, masked_mse, patch_targets

TINY = ViT2DConfig(image_size=32, patch_size=8, views=2, vit_dim=32, vit_depth=1, vit_heads=2)


def _smooth_images(n: int, seed: int = 0) -> torch.Tensor:
    """[n, 2, 3, 32, 32] low-frequency images: a masked patch is predictable from its neighbours."""
    coarse = torch.rand(n * 2, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False).view(n, 2, 3, 32, 32)


def test_no_mask_gives_the_encoder_output_and_a_mask_changes_it():
    torch.manual_seed(0)
    model = MaskedViT(TINY).eval()
    x = torch.rand(2, 2, 3, 32, 32)
    assert torch.equal(model(x)["tokens"], model.vit(x))
    mask = model.random_mask(4, torch.Generator().manual_seed(0))
    hidden = model(x, mask)["tokens"]
    assert hidden.shape == (2, 2 * 16, 32) and not torch.allclose(hidden, model.vit(x))


def test_random_mask_is_exact_and_drawn_per_view():
    model = MaskedViT(TINY)
    mask = model.random_mask(6, torch.Generator().manual_seed(1))
    assert mask.shape == (6, 16) and mask.dtype == torch.bool
    assert (mask.sum(1) == round(0.6 * 16)).all()
    assert len({tuple(row.tolist()) for row in mask}) == 6  # each view of each sample has its own mask


def test_targets_are_per_patch_normalised_and_only_masked_patches_count():
    x = torch.rand(1, 2, 3, 32, 32)
    target = patch_targets(x, 8)
    assert target.shape == (2, 16, 3 * 8 * 8)
    assert target.mean(-1).abs().max() < 1e-5 and (target.var(-1) - 1).abs().max() < 1e-3
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[:, :3] = True
    wrong_elsewhere = target.clone()
    wrong_elsewhere[:, 3:] += 5.0
    assert masked_mse(wrong_elsewhere, target, mask) == 0
    zeros = masked_mse(torch.zeros_like(target), target, mask)
    torch.testing.assert_close(zeros, target[mask].pow(2).mean())


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = MaskedViT(TINY)
    images = _smooth_images(4)
    mask = model.random_mask(8, torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model.loss(images, mask)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model.vit.patch.weight.grad.abs().sum() > 0 and model.mask_token.grad.abs().sum() > 0
    assert losses[-1] < 0.7 * losses[0]
