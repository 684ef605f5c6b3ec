"""SmallVLA: an OpenVLA-OFT-shaped policy (own ViT + projector + transformers LlamaModel + action head).

Decoder sequence (fully bidirectional attention; only padded language tokens are masked out as keys):

    [BOS] [visual tokens view 0 | view 1 | ...] [proprio] [language x max_text_tokens] [action slots]

BOS is present when config.use_bos (OpenVLA layout; the visual tokens then start at position 1).
The action slots are chunk*action_dim tokens (OFT) or chunk tokens (`action_slots: "per_step"`), step-major;
their input embeddings are zero (OFT) or learned.
Layer numbering follows HF `hidden_states`: k=0 is the embedding, k in 1..num_layers is the residual stream
after decoder layer k, produced by module `llm.layers.{k-1}` (the last one is before the final RMSNorm,
whereas HF's hidden_states[num_layers] is after it).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import LlamaConfig, LlamaModel
from transformers.modeling_outputs import BaseModelOutputWithPast

from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import decoder_layer
from spatial_forcing.vla.blocks import init_weights
from spatial_forcing.vla.config import SmallVLAConfig
from spatial_forcing.vla.heads import FlowHead, L1Head
from spatial_forcing.vla.tokenizer import WordTokenizer
from spatial_forcing.vla.vision_init import load_vision_init, vit_shape
from spatial_forcing.vla.vit import ViTEncoder


def llama_config(config: SmallVLAConfig, tokenizer: WordTokenizer) -> LlamaConfig:
    """A from-scratch LlamaConfig for the decoder (no weights are ever downloaded)."""
    seq = SmallVLA.sequence_length(config)
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=config.llm_dim, intermediate_size=config.mlp_dim,
        num_hidden_layers=config.llm_layers, num_attention_heads=config.llm_heads,
        num_key_value_heads=config.llm_heads, max_position_embeddings=max(seq, 128), rms_norm_eps=1e-5,
        rope_theta=config.rope_theta, attention_dropout=config.dropout, initializer_range=config.init_std,
        pad_token_id=tokenizer.pad_id, bos_token_id=tokenizer.bos_id, eos_token_id=None,
        tie_word_embeddings=False, use_cache=False, attn_implementation="sdpa",
    )


class SmallVLA(nn.Module):
    """Implements the VLAPolicy protocol (vla.protocol); knows nothing of Spatial Forcing."""

    def __init__(self, config: SmallVLAConfig, tokenizer: WordTokenizer) -> None:
        super().__init__()
        self.config = config.validate()
        self.tokenizer = tokenizer
        self.num_layers = config.llm_layers
        d = config.llm_dim
        self.vit = ViTEncoder(config.image_size, config.patch_size, config.views, config.vit_dim,
                              config.vit_depth, config.vit_heads, config.vit_mlp_ratio, config.dropout,
                              config.init_std, stem=config.vit_stem,
                              pos_embed=config.vit_pos_embed)
        if config.vision_init:  # after the random init, so the other modules' init is the same either way
            load_vision_init(self.vit, config.vision_init, vit_shape(config))
        self.projector = nn.Sequential(nn.Linear(config.vit_dim, d), nn.GELU(), nn.Linear(d, d))
        self.proprio = nn.Sequential(nn.Linear(config.proprio_dim, d), nn.GELU(), nn.Linear(d, d))
        for module in (self.projector, self.proprio):
            module.apply(lambda m: init_weights(m, config.init_std))
        self.llm = LlamaModel(llama_config(config, tokenizer))
        if config.action_query == "learned":
            self.action_queries = nn.Parameter(torch.randn(1, config.num_action_slots, d) * config.init_std)
        else:
            zeros = torch.zeros(1, config.num_action_slots, d)
            self.register_buffer("action_queries", zeros, persistent=False)
        if config.head == "l1":
            self.head: nn.Module = L1Head(d, config.action_dim, config.chunk, config.head_hidden or d,
                                          config.head_blocks, config.dropout, config.slots_per_step)
        else:
            self.head = FlowHead(d, config.action_dim, config.chunk, config.flow_dim, config.flow_layers,
                                 config.flow_heads, config.flow_steps, config.flow_samples, config.dropout,
                                 config.init_std, config.slots_per_step)

    # ----- layout -------------------------------------------------------------------------------------
    @staticmethod
    def sequence_length(config: SmallVLAConfig) -> int:
        g = config.grid
        visual = config.views * g[0] * g[1]
        return int(config.use_bos) + visual + 1 + config.max_text_tokens + config.num_action_slots

    @property
    def visual_start(self) -> int:
        return int(self.config.use_bos)

    @property
    def num_visual(self) -> int:
        return self.config.views * self.config.grid[0] * self.config.grid[1]

    @property
    def proprio_pos(self) -> int:
        return self.visual_start + self.num_visual

    @property
    def text_start(self) -> int:
        return self.proprio_pos + 1

    @property
    def action_start(self) -> int:
        return self.text_start + self.config.max_text_tokens

    def token_layout(self) -> TokenLayout:
        """Visual tokens: `views` row-major grids back to back, starting right after BOS (if any)."""
        return TokenLayout(views=self.config.views, grid=self.config.grid, offset=self.visual_start)

    def layer_path(self, k: int) -> str:
        """Module whose output is the residual stream after decoder layer k (1..num_layers)."""
        return f"llm.layers.{decoder_layer(k, self.num_layers, 'vla layer') - 1}"

    # ----- sequence -----------------------------------------------------------------------------------
    def _text(self, batch: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Language ids and mask [B, max_text_tokens]: precomputed ("input_ids", "text_mask") or tokenized."""
        if "input_ids" in batch:
            ids, mask = batch["input_ids"], batch["text_mask"]
        else:
            if "instruction" not in batch:
                raise SFError("vla batch: missing 'instruction' (list[str]) or 'input_ids' + 'text_mask'")
            ids, mask = self.tokenizer.encode(list(batch["instruction"]), self.config.max_text_tokens)
        if ids.shape != mask.shape or ids.shape[-1] != self.config.max_text_tokens:
            raise SFError(f"vla batch: input_ids/text_mask have shapes {tuple(ids.shape)}/{tuple(mask.shape)}, "
                          f"expected [B, {self.config.max_text_tokens}] each")
        return ids.to(device), mask.to(device=device, dtype=torch.bool)

    def _check(self, images: torch.Tensor, state: torch.Tensor) -> None:
        c = self.config
        want = (c.views, 3, c.image_size, c.image_size)
        if not images.is_floating_point():
            raise SFError(f"vla batch: images has dtype {images.dtype}, expected float in [0, 1]")
        if images.dim() != 5 or tuple(images.shape[1:]) != want:
            raise SFError(f"vla batch: images has shape {tuple(images.shape)}, "
                          f"expected [B, {', '.join(map(str, want))}]")
        if state.dim() != 2 or state.shape != (images.shape[0], c.proprio_dim):
            raise SFError(f"vla batch: state has shape {tuple(state.shape)}, expected [B, {c.proprio_dim}]")

    def embed(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs_embeds [B, T, D], 4D bool attention mask [B, 1, T, T]; True = may attend)."""
        images, state = batch["images"], batch["state"]
        self._check(images, state)
        b, device = images.shape[0], images.device
        ids, text_mask = self._text(batch, device)
        visual = self.projector(self.vit(images.float()))
        proprio = self.proprio(state.float()).unsqueeze(1)
        text = self.llm.embed_tokens(ids)
        parts = [visual, proprio, text, self.action_queries.expand(b, -1, -1)]
        if self.config.use_bos:
            bos = torch.full((b, 1), self.tokenizer.bos_id, dtype=torch.long, device=device)
            parts.insert(0, self.llm.embed_tokens(bos))
        embeds = torch.cat(parts, dim=1)
        valid = torch.ones(b, embeds.shape[1], dtype=torch.bool, device=device)
        valid[:, self.text_start : self.action_start] = text_mask
        mask = valid[:, None, None, :].expand(b, 1, embeds.shape[1], embeds.shape[1])
        return embeds, mask

    def encode(self, batch: dict, output_hidden_states: bool = False) -> BaseModelOutputWithPast:
        """Run the decoder over the whole sequence."""
        embeds, mask = self.embed(batch)
        return self.llm(inputs_embeds=embeds, attention_mask=mask, use_cache=False,
                        output_hidden_states=output_hidden_states)

    def _slots(self, batch: dict) -> torch.Tensor:
        return self.encode(batch).last_hidden_state[:, self.action_start :]

    # ----- policy API ---------------------------------------------------------------------------------
    def forward(self, batch: dict) -> dict:
        """Training: {"action_loss"} (+ "pred_actions" [B, chunk, A] for the L1 head)."""
        actions = batch["actions"].float()
        want = (self.config.chunk, self.config.action_dim)
        if actions.dim() != 3 or tuple(actions.shape[1:]) != want:
            raise SFError(f"vla batch: actions has shape {tuple(actions.shape)}, "
                          f"expected [B, {want[0]}, {want[1]}]")
        is_pad = batch.get("action_is_pad")
        slots = self._slots(batch)
        if isinstance(self.head, L1Head):
            loss, pred = self.head.loss(slots, actions, is_pad)
            return {"action_loss": loss, "pred_actions": pred}
        return {"action_loss": self.head.loss(slots, actions, is_pad)}

    @torch.no_grad()
    def predict_action(self, batch: dict) -> torch.Tensor:
        """Inference: [B, chunk, action_dim] in normalised action space (optional batch["noise"] for flow)."""
        slots = self._slots(batch)
        if isinstance(self.head, L1Head):
            return self.head.predict(slots)
        return self.head.sample(slots, noise=batch.get("noise"))


def build(config: SmallVLAConfig, tokenizer: WordTokenizer) -> SmallVLA:
    """Registry factory for "small_vla"."""
    return SmallVLA(config, tokenizer)
