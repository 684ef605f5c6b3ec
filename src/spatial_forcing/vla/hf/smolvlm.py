"""SmolVLM / Idefics3 (the SmolVLA backbone): pixel-shuffled SigLIP patches, Llama-style text model."""

from __future__ import annotations

from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.hf.adapters import HFAdapter


class SmolVLMAdapter(HFAdapter):
    """SmolVLMForConditionalGeneration, bare or inside LeRobot's SmolVLMWithExpertModel (`.vlm`).

    Grid: the vision tower's (image_size / patch_size) side shrunk by the connector's pixel shuffle,
    side / config.scale_factor, so image_seq_len = grid h*w (64 for SmolVLM-500M: 512/16 = 32 -> 8x8).
    Image tokens: the processor writes each image as <fake_token_around_image><global-img><image> x
    image_seq_len<fake_token_around_image>; every image block is one view (with do_image_splitting=True each
    tile is a "view" too, so prefer do_image_splitting=False for SF). The stride between blocks is read
    from input_ids. LeRobot SmolVLA builds the prefix itself (cameras first, offset 0, no special tokens by
    default) and runs the layers by hand: use token_layout(views=N) and kind="input" there.
    """

    family = "smolvlm"
    model_types = ("smolvlm",)
    layers_paths = ("model.text_model.layers", "text_model.layers")
    depth_ratio = 0.75
    image_offset = 0

    def _grid(self) -> tuple[int, int]:
        vc = self.root.config.vision_config
        side = int(vc.image_size) // int(vc.patch_size)
        scale = int(getattr(self.root.config, "scale_factor", 1) or 1)
        if side % scale:
            raise SFError(f"{self.family} adapter: vision grid {side} is not divisible by "
                          f"scale_factor {scale}")
        return side // scale, side // scale


class Idefics3Adapter(SmolVLMAdapter):
    """Idefics3ForConditionalGeneration: same layout and pixel shuffle as SmolVLM."""

    family = "idefics3"
    model_types = ("idefics3",)
