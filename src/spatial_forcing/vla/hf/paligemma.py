"""PaliGemma (the pi0 / pi0.5 backbone): SigLIP patches first, then the prompt; Gemma decoder."""

from __future__ import annotations

from spatial_forcing.vla.hf.adapters import HFAdapter


class PaliGemmaAdapter(HFAdapter):
    """PaliGemmaForConditionalGeneration, bare or inside LeRobot's PaliGemmaWithExpertModel (`.paligemma`).

    Image tokens come first (no BOS before them), so the static layout (for pi0, which builds
    inputs_embeds itself: 3 cameras x 256 tokens) is offset 0. The reference aligns hidden_states[12] of
    18 layers (pi0's `all_hidden_states[12]`, the input of layer 12); default_layer scales that 2/3 depth.
    LeRobot's pi0 zips PaliGemma and expert layers by hand: use kind="input" there.
    """

    family = "paligemma"
    model_types = ("paligemma",)
    layers_paths = ("model.language_model.layers", "language_model.model.layers", "language_model.layers")
    depth_ratio = 12 / 18
    image_offset = 0
