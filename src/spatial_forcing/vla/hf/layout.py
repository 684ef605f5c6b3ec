"""TokenLayout of a batch from its input_ids: where the image-placeholder tokens sit."""

from __future__ import annotations

import torch

from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.utils.errors import SFError


def layout_from_input_ids(input_ids: torch.Tensor, image_token_id: int, grid: tuple[int, int],
                          shift: int = 0) -> TokenLayout:
    """The layout of the image tokens of a batch [B, T] of input_ids.

    Each image is a contiguous run of h*w copies of `image_token_id` (processors expand the placeholder);
    consecutive images may be separated by other tokens (SmolVLM's <fake_token_around_image>), as long as the
    distance between image starts is constant. All samples must place their images at the same positions,
    because TokenLayout is one layout per batch: pad on the right, or put the images before the prompt.
    """
    if input_ids.dim() != 2:
        raise SFError(f"input_ids: expected [B, T], got shape {tuple(input_ids.shape)}")
    per_view = grid[0] * grid[1]
    is_image = input_ids == image_token_id
    counts = is_image.sum(1)
    if int(counts[0]) == 0:
        raise SFError(f"input_ids: no image token (id {image_token_id}) in sample 0")
    if bool((counts != counts[0]).any()):
        raise SFError(f"input_ids: samples hold different numbers of image tokens {counts.tolist()}; "
                      "every sample needs the same number of views")
    if int(counts[0]) % per_view:
        raise SFError(f"input_ids: {int(counts[0])} image tokens per sample is not a multiple of "
                      f"{per_view} (= grid {grid[0]}x{grid[1]} per image)")
    views = int(counts[0]) // per_view
    pos = is_image.nonzero()[:, 1].view(input_ids.shape[0], views, per_view)
    if per_view > 1 and bool((pos[..., 1:] - pos[..., :-1] != 1).any()):
        raise SFError(f"input_ids: image tokens do not form runs of {per_view} consecutive positions "
                      f"(one run per image with grid {grid[0]}x{grid[1]})")
    starts = pos[..., 0]  # [B, V]
    differs = (starts != starts[:1]).any(1)
    if bool(differs.any()):
        b = int(differs.nonzero()[0, 0])
        raise SFError(f"input_ids: image tokens start at positions {starts[0].tolist()} in sample 0 but "
                      f"{starts[b].tolist()} in sample {b}; all samples must share one offset (pad on the "
                      "right, not on the left)")
    gaps = (starts[0, 1:] - starts[0, :-1]).tolist()
    if len(set(gaps)) > 1:
        raise SFError(f"input_ids: images start at {starts[0].tolist()}, not evenly spaced; "
                      "TokenLayout needs a constant stride between views")
    stride = gaps[0] if gaps else None
    return TokenLayout(views=views, grid=grid, offset=int(starts[0, 0]),
                       stride=None if stride == per_view else stride, shift=shift)


def static_layout(views: int | None, grid: tuple[int, int], offset: int, shift: int = 0,
                  family: str = "") -> TokenLayout:
    """Views back to back from `offset` (used when the model inserts the image embeddings itself)."""
    if views is None or views < 1:
        raise SFError(f"{family} adapter: pass views=N (number of camera images per sample) when the layout "
                      "is not read from input_ids")
    return TokenLayout(views=views, grid=grid, offset=offset, shift=shift)
