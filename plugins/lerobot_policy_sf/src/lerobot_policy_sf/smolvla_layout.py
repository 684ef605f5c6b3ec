"""Where SmolVLA's image tokens are, and the geometry its images are padded to (what the teacher must see).

The VLM prefix is: per camera (config.image_features order, cameras present in the batch) optionally 2
special tokens, the image tokens, optionally 1 end token; then language; then one state token. SmolVLA's
decoder loop is hand-written and calls each layer's `input_layernorm` directly, so the stream after layer k is
captured by a pre-hook on `layers[k].input_layernorm` (or on the final `norm` after the last layer).
"""

from __future__ import annotations

import torch
from lerobot.policies.smolvla.modeling_smolvla import resize_with_pad

from spatial_forcing.core.layout import TokenLayout

TEXT_MODEL = "model.vlm_with_expert.vlm.model.text_model"  # from the policy


def stream_paths(layers: list[int], num_layers: int) -> dict[int, str]:
    """Layer k (1..num_layers) -> module whose input is the prefix stream after decoder layer k."""
    return {k: f"{TEXT_MODEL}.layers.{k}.input_layernorm" if k < num_layers else f"{TEXT_MODEL}.norm"
            for k in layers}


def image_layout(vlm_config, config, views: int) -> TokenLayout:
    """TokenLayout of the image tokens of `views` cameras for a SmolVLA config and its SmolVLM config."""
    width, height = config.resize_imgs_with_padding
    step = vlm_config.vision_config.patch_size * vlm_config.scale_factor
    if width != height or width % step:
        raise ValueError(f"smolvla_sf: resize_imgs_with_padding {config.resize_imgs_with_padding} must be "
                         f"square and a multiple of patch_size x scale_factor = {step}")
    side = width // step
    special = 3 if config.add_image_special_tokens else 0  # <fake><global-img> ... <fake>
    return TokenLayout(views=views, grid=(side, side), offset=2 if special else 0,
                       stride=side * side + special)


def teacher_images(batch: dict, config) -> tuple[torch.Tensor, torch.Tensor]:
    """The cameras SmolVLA embeds, in its order and padded geometry: ([B, V, 3, S, S] in [0, 1], padding white
    as VGGT expects; valid [B, V, S, S], False on the padding)."""
    width, height = config.resize_imgs_with_padding
    images, valid = [], []
    for key in (k for k in config.image_features if k in batch):
        img = batch[key][:, -1] if batch[key].ndim == 5 else batch[key]
        images.append(resize_with_pad(img.float(), width, height, pad_value=1.0))
        ones = torch.ones_like(img[:, :1], dtype=torch.float32)
        valid.append(resize_with_pad(ones, width, height, pad_value=0.0)[:, 0] > 0.5)
    return torch.stack(images, 1).clamp(0, 1), torch.stack(valid, 1)
