"""A tiny local SmolVLM directory (config, tokenizer, processor) for offline SmolVLA: `vlm_model_name=DIR`.

SmolVLA calls `from_pretrained(vlm_model_name)` for the config, the processor and the tokenizer even when
`load_vlm_weights=False`, so offline use needs a directory holding them. The tokenizer is word-level (the
words of our tabletop and LIBERO-style instructions, anything else maps to <unk>) and carries SmolVLM's
special image tokens, which SmolVLA reads (`fake_image_token_id`, `global_image_token_id`).

    python -m lerobot_policy_sf.tiny_vlm --out DIR [--image-size 64] [--layers 4]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

SPECIAL = {  # SmolVLM's special tokens, as its tokenizer config names them
    "fake_image_token": "<fake_token_around_image>",
    "global_image_token": "<global-img>",
    "image_token": "<image>",
    "end_of_utterance_token": "<end_of_utterance>",
}
BASE_TOKENS = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
WORDS = ("pick up the red blue green yellow block cube cylinder bowl plate box tall short left right of "
         "closest farthest nearer farther to from robot and place it on in put open close drawer a an top "
         "bottom").split()


@dataclass
class TinyVLM:
    image_size: int = 64  # side of the square vision input (SmolVLA's resize_imgs_with_padding)
    patch_size: int = 8  # vision patch side: (image_size / patch_size)^2 patches before the pixel shuffle
    scale_factor: int = 2  # pixel shuffle: tokens per image = (image_size / patch_size / scale_factor)^2
    vision_dim: int = 32  # vision encoder width
    text_dim: int = 64  # decoder width (SmolVLA's expert is expert_width_multiplier x this)
    layers: int = 4  # decoder layers (SmolVLA keeps the first num_vlm_layers)
    heads: int = 4  # decoder attention heads (head_dim = text_dim / heads)
    kv_heads: int = 2  # decoder key/value heads


def write_tiny_vlm(out: str | Path, spec: TinyVLM = TinyVLM()) -> Path:
    """Write the directory and return it."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (PreTrainedTokenizerFast, SmolVLMConfig, SmolVLMImageProcessor, SmolVLMProcessor,
                              SmolVLMVideoProcessor)

    if spec.image_size % (spec.patch_size * spec.scale_factor):
        raise ValueError(f"tiny VLM: image_size {spec.image_size} must be a multiple of patch_size x "
                         f"scale_factor ({spec.patch_size * spec.scale_factor})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    vocab = {tok: i for i, tok in enumerate(BASE_TOKENS + list(SPECIAL.values()) + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                        bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        extra_special_tokens=dict(SPECIAL))
    config = SmolVLMConfig(
        vision_config={"hidden_size": spec.vision_dim, "intermediate_size": 2 * spec.vision_dim,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": spec.image_size,
                       "patch_size": spec.patch_size},
        text_config={"model_type": "llama", "hidden_size": spec.text_dim,
                     "intermediate_size": 2 * spec.text_dim,
                     "num_hidden_layers": spec.layers, "num_attention_heads": spec.heads,
                     "num_key_value_heads": spec.kv_heads, "head_dim": spec.text_dim // spec.heads,
                     "vocab_size": len(vocab), "pad_token_id": vocab["<pad>"]},
        scale_factor=spec.scale_factor, image_token_id=vocab[SPECIAL["image_token"]],
        vocab_size=len(vocab),
    )
    config.save_pretrained(out)
    side = {"longest_edge": spec.image_size}
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(size=side, max_image_size=side, do_image_splitting=False),
        tokenizer=tokenizer, video_processor=SmolVLMVideoProcessor(size=side, max_image_size=side),
        image_seq_len=(spec.image_size // (spec.patch_size * spec.scale_factor)) ** 2)
    processor.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a tiny local SmolVLM directory for offline SmolVLA")
    parser.add_argument("--out", required=True, help="directory to write (config, tokenizer, processor)")
    parser.add_argument("--image-size", type=int, default=TinyVLM.image_size, help="vision input side")
    parser.add_argument("--layers", type=int, default=TinyVLM.layers, help="decoder layers")
    args = parser.parse_args(argv)
    print(write_tiny_vlm(args.out, TinyVLM(image_size=args.image_size, layers=args.layers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
