"""LLaVA-style VLMs: [BOS, <image> x N, prompt...], the layout OpenVLA-OFT (Prismatic) also uses."""

from __future__ import annotations

from spatial_forcing.vla.hf.adapters import HFAdapter
from spatial_forcing.utils.errors import SFError


class LlavaAdapter(HFAdapter):
    """LlavaForConditionalGeneration. Image tokens are found in input_ids (the processor expands <image>).

    Default layer: 3/4 depth (the reference aligns hidden_states[24] of 32 in OpenVLA-OFT). `shift=1`
    reproduces the reference OpenVLA-OFT slice (`gain_feat_1move`): teacher token j is paired with visual
    token j+1 and the last one with the token after the image. Leave AlignConfig.shift at 0 when you use it.
    """

    family = "llava"
    model_types = ("llava",)
    layers_paths = ("model.language_model.layers", "language_model.model.layers", "language_model.layers")
    depth_ratio = 24 / 32
    image_offset = 1  # static layout: right after BOS

    def _grid(self) -> tuple[int, int]:
        cfg = self.root.config
        strategy = getattr(cfg, "vision_feature_select_strategy", "default")
        if strategy == "full" and getattr(cfg.vision_config, "model_type", "") == "clip_vision_model":
            raise SFError("llava adapter: vision_feature_select_strategy='full' keeps the CLIP CLS token, so "
                          "image tokens are not a patch grid; use 'default'")
        return super()._grid()
