"""OpenVLA / OpenVLA-OFT (Prismatic, trust_remote_code): patches inserted by the model after BOS."""

from __future__ import annotations

import math

from torch import nn

from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.hf.adapters import HFAdapter


class PrismaticAdapter(HFAdapter):
    """PrismaticForConditionalGeneration / OpenVLAForActionPrediction (Llama-2 7B decoder).

    Recognised by shape, not config: a module with `vision_backbone.get_num_patches()` and a
    `language_model` (a LlamaForCausalLM). input_ids hold no image tokens; `_build_multimodal_attention`
    inserts views x 256 patch embeddings right after BOS, then OFT appends the proprio token, so the layout
    is static: offset 1, views = vision_backbone.get_num_images_in_input(). Default layer 3/4 depth
    (24 of 32). `shift=1` reproduces the reference slice [2, 2+512) (teacher token j vs patch j+1, the last
    one paired with the proprio token); leave AlignConfig.shift at 0 when you use it.
    """

    family = "prismatic"
    layers_paths = ("language_model.model.layers",)
    depth_ratio = 24 / 32
    image_offset = 1

    @classmethod
    def candidates(cls, model: nn.Module) -> list[tuple[str, nn.Module]]:
        out = []
        for name, module in model.named_modules():
            children = dict(module.named_children())
            if hasattr(children.get("vision_backbone"), "get_num_patches") and "language_model" in children:
                out.append((name, module))
        return out

    def __init__(self, model: nn.Module, views: int | None = None, shift: int = 0):
        super().__init__(model, views=views, shift=shift)
        if self.views is None:
            get_views = getattr(self.root.vision_backbone, "get_num_images_in_input", None)
            self.views = int(get_views()) if callable(get_views) else 1

    def _grid(self) -> tuple[int, int]:
        n = int(self.root.vision_backbone.get_num_patches())
        side = math.isqrt(n)
        if side * side != n:
            raise SFError(f"prismatic adapter: {n} patches per image is not a square grid")
        return side, side

    def _hidden_size(self) -> int:
        return int(self.root.language_model.config.hidden_size)

    def image_token_id(self) -> int | None:
        return None  # the model inserts the patches itself
