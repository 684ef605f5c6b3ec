"""Tiny random Hugging Face VLMs (one per registered adapter family) with a matching 2-view batch.

Every model has 4 decoder layers of width 32 and 16 visual tokens (a 4x4 grid) per image, chosen from the
configs independently of the adapters, so the adapters' grid arithmetic is checked, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

B, VIEWS, TOKENS_PER_VIEW, LAYERS, HIDDEN = 2, 2, 16, 4, 32
IMAGE_ID, BOS, FAKE, GLOBAL = 99, 1, 97, 98
TEXT = [5, 6, 7, 8, 9]
PATCH_WEIGHT = "embeddings.patch_embedding.weight"  # a vision-tower parameter, for gradient checks

TEXT_CFG = dict(hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=LAYERS, num_attention_heads=2,
                num_key_value_heads=1, head_dim=16, vocab_size=100)
VISION_CFG = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=16, patch_size=4)  # 4x4 patches


@dataclass
class TinyCase:
    """A tiny model, its inputs, and where its visual tokens truly are in the decoder sequence."""

    family: str
    model: nn.Module
    inputs: dict  # model(**inputs) runs a training forward with loss
    image_positions: torch.Tensor  # [B, T_decoder] bool: True at visual tokens
    vision_param: str  # name of a vision-tower parameter (gradient check)

    def hidden_states(self) -> tuple[torch.Tensor, ...]:
        return self.model(**self.inputs, output_hidden_states=True).hidden_states


def _ids(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


def _paligemma() -> TinyCase:
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

    cfg = PaliGemmaConfig(vision_config=dict(VISION_CFG, model_type="siglip_vision_model"),
                          text_config=dict(TEXT_CFG, model_type="gemma"), image_token_index=IMAGE_ID,
                          projection_dim=HIDDEN)
    model = PaliGemmaForConditionalGeneration(cfg)
    ids = _ids([[IMAGE_ID] * (VIEWS * TOKENS_PER_VIEW) + [BOS] + TEXT] * B)  # images first, as pi0
    inputs = dict(input_ids=ids, pixel_values=torch.rand(B * VIEWS, 3, 16, 16), labels=ids)
    return TinyCase("paligemma", model, inputs, ids == IMAGE_ID, f"model.vision_tower.{PATCH_WEIGHT}")


def _llava() -> TinyCase:
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    cfg = LlavaConfig(vision_config=dict(VISION_CFG, model_type="clip_vision_model"),
                      text_config=dict(TEXT_CFG, model_type="llama"), image_token_index=IMAGE_ID,
                      vision_feature_layer=-1)
    model = LlavaForConditionalGeneration(cfg)
    ids = _ids([[BOS] + [IMAGE_ID] * (VIEWS * TOKENS_PER_VIEW) + TEXT] * B)  # BOS then patches, as OpenVLA
    inputs = dict(input_ids=ids, pixel_values=torch.rand(B * VIEWS, 3, 16, 16), labels=ids)
    return TinyCase("llava", model, inputs, ids == IMAGE_ID, f"model.vision_tower.{PATCH_WEIGHT}")


def _idefics_ids() -> torch.Tensor:
    block = [FAKE, GLOBAL] + [IMAGE_ID] * TOKENS_PER_VIEW + [FAKE]
    return _ids([[BOS] + block * VIEWS + TEXT] * B)


def _smolvlm(family: str) -> TinyCase:
    import transformers as tf

    cls_cfg, cls_model = {"smolvlm": (tf.SmolVLMConfig, tf.SmolVLMForConditionalGeneration),
                          "idefics3": (tf.Idefics3Config, tf.Idefics3ForConditionalGeneration)}[family]
    vision = dict(VISION_CFG, image_size=32)  # 8x8 patches, pixel shuffle x2 -> 4x4
    cfg = cls_cfg(vision_config=vision, text_config=dict(TEXT_CFG, model_type="llama"),
                  image_token_id=IMAGE_ID, scale_factor=2)
    model = cls_model(cfg)
    ids = _idefics_ids()
    inputs = dict(input_ids=ids, pixel_values=torch.rand(B, VIEWS, 3, 32, 32), labels=ids)
    return TinyCase(family, model, inputs, ids == IMAGE_ID, f"model.vision_model.{PATCH_WEIGHT}")


class TinyPrismaticBackbone(nn.Module):
    """Prismatic-style vision backbone: channel-stacked views [B, 3V, H, W] -> [B, V*16, D] patches."""

    def __init__(self, views: int):
        super().__init__()
        from transformers import SiglipVisionConfig, SiglipVisionModel

        self.featurizer = SiglipVisionModel(SiglipVisionConfig(**VISION_CFG))
        self.num_images_in_input = views

    def get_num_patches(self) -> int:
        return TOKENS_PER_VIEW

    def get_num_images_in_input(self) -> int:
        return self.num_images_in_input

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        views = pixel_values.split(3, dim=1)
        return torch.cat([self.featurizer(pixel_values=v).last_hidden_state for v in views], dim=1)


class TinyPrismatic(nn.Module):
    """OpenVLA-OFT-shaped VLM: patches are inserted right after BOS (as `_build_multimodal_attention`)."""

    def __init__(self, views: int = VIEWS):
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM

        self.vision_backbone = TinyPrismaticBackbone(views)
        self.projector = nn.Linear(32, HIDDEN)
        self.language_model = LlamaForCausalLM(LlamaConfig(**TEXT_CFG))

    def forward(self, input_ids, pixel_values, labels=None, output_hidden_states=False):
        emb = self.language_model.get_input_embeddings()(input_ids)
        patches = self.projector(self.vision_backbone(pixel_values))
        embeds = torch.cat([emb[:, :1], patches, emb[:, 1:]], dim=1)
        if labels is not None:
            ignore = torch.full(patches.shape[:2], -100, dtype=labels.dtype)
            labels = torch.cat([labels[:, :1], ignore, labels[:, 1:]], dim=1)
        return self.language_model(inputs_embeds=embeds, labels=labels,
                                   output_hidden_states=output_hidden_states)


def _prismatic() -> TinyCase:
    model = TinyPrismatic()
    ids = _ids([[BOS] + TEXT] * B)
    inputs = dict(input_ids=ids, pixel_values=torch.rand(B, 3 * VIEWS, 16, 16), labels=ids)
    positions = torch.zeros(B, 1 + VIEWS * TOKENS_PER_VIEW + len(TEXT), dtype=torch.bool)
    positions[:, 1 : 1 + VIEWS * TOKENS_PER_VIEW] = True
    return TinyCase("prismatic", model, inputs, positions,
                    f"vision_backbone.featurizer.{PATCH_WEIGHT}")


BUILDERS = {"paligemma": _paligemma, "llava": _llava, "prismatic": _prismatic,
            "smolvlm": lambda: _smolvlm("smolvlm"), "idefics3": lambda: _smolvlm("idefics3")}


def build_case(family: str, seed: int = 0) -> TinyCase:
    torch.manual_seed(seed)
    case = BUILDERS[family]()
    case.model.eval()
    return case


def vision_parameter(model: torch.nn.Module, name: str) -> torch.nn.Parameter:
    """The vision-tower parameter `name`; transformers < 5 (the dev venv with lerobot has 4.57) wraps SigLIP/CLIP
    towers in a `vision_model`, so the same weight is then `<tower>.vision_model.embeddings...`."""
    params = dict(model.named_parameters())
    if name in params:
        return params[name]
    return params[name.replace(".embeddings.", ".vision_model.embeddings.", 1)]

