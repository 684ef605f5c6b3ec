"""SpatialForcing: captured student tokens + teacher targets -> (alignment loss, metrics)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from spatial_forcing.core.capture import TokenCapture
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.diagnostics import position_diagnostics
from spatial_forcing.core.layers import LayerMix
from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.core.loss import cosine_align_loss
from spatial_forcing.core.projector import AlignProjector
from spatial_forcing.core.target_norm import FeatureStats
from spatial_forcing.core.targets import build_targets


class SpatialForcing(nn.Module):
    """The training-only SF branch. Holds the projector(s) and, in adaptive mode, the layer weights.

    `attach` hooks the student layers; after the student's forward, `forward(teacher_feats)` reads the
    captured visual tokens, builds targets and returns the alignment loss. Nothing of this module is
    needed at inference: export the student alone.

    Dataset-level tensors (`set_target_stats`, `set_position_mean`) are non-persistent buffers: they follow
    `.to(device)` and DDP's buffer broadcast but are not part of checkpoints (recomputed at every start).
    """

    def __init__(self, cfg: AlignConfig, student_dim: int, teacher_dim: int, layers: list[int]):
        super().__init__()
        self.cfg = cfg
        self.layers = list(layers)
        hidden = cfg.projector_hidden or teacher_dim
        n_proj = len(self.layers) if cfg.mode == "multi" else 1
        self.projectors = nn.ModuleList(
            AlignProjector(student_dim, teacher_dim, hidden, cfg.projector_norm) for _ in range(n_proj)
        )
        self.mix = LayerMix(len(self.layers), student_dim) if cfg.mode == "adaptive" else None
        self.capture: TokenCapture | None = None
        self.layout: TokenLayout | None = None
        self.register_buffer("target_mean", None, persistent=False)  # [V, h, w, C] FeatureStats.mean
        self.register_buffer("target_std", None, persistent=False)  # [C] FeatureStats.std
        self.register_buffer("position_mean", None, persistent=False)  # [N, C] dataset mean of the targets

    def set_target_stats(self, stats: FeatureStats | None) -> None:
        """Dataset statistics of the raw teacher features (needed by target_norm 'position_mean')."""
        self.target_mean = None if stats is None else stats.mean.float().to(self._device())
        self.target_std = None if stats is None else stats.std.float().to(self._device())

    def set_position_mean(self, mean: torch.Tensor | None) -> None:
        """Dataset mean [N, C] of the final targets per token; adds the metrics position_only_cos and
        residual_cos (`core.diagnostics`)."""
        self.position_mean = None if mean is None else mean.float().to(self._device())

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def attach(self, student: nn.Module, layer_paths: dict[int, str], layout: TokenLayout,
               kind: str = "output") -> TokenCapture:
        """Hook `layer_paths` (layer k -> module path) of the student; visual tokens sit at `layout`."""
        self.detach()
        self.capture = TokenCapture(student, {k: layer_paths[k] for k in self.layers}, kind=kind)
        self.set_layout(layout)
        return self.capture

    def set_layout(self, layout: TokenLayout) -> None:
        """Where the visual tokens sit (call per batch when it varies); applies `cfg.shift`."""
        if self.cfg.shift:
            layout = dataclasses.replace(layout, shift=self.cfg.shift)
        self.layout = layout

    def detach(self) -> None:
        if self.capture is not None:
            self.capture.remove()
        self.capture = None

    def forward(self, teacher_feats: torch.Tensor, view_valid: torch.Tensor | None = None,
                pixel_valid: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """teacher_feats [B, V, h, w, C] for the batch just run through the student."""
        if self.capture is None or self.layout is None:
            raise RuntimeError("SpatialForcing.attach(student, ...) must be called before forward")
        captured = self.capture.pop()
        tokens = [self.layout.select(captured[k]) for k in self.layers]
        if self.cfg.target_norm == "position_mean" and self.target_mean is None:
            raise ValueError("align.target_norm 'position_mean' needs dataset feature statistics: call "
                             "SpatialForcing.set_target_stats(...) first (sf train does)")
        stats = None if self.target_mean is None else FeatureStats(self.target_mean, self.target_std)
        targets, mask = build_targets(teacher_feats, self.layout.grid, self.cfg.use_pe, self.cfg.pe_scale,
                                      view_valid=view_valid, pixel_valid=pixel_valid,
                                      norm=self.cfg.target_norm, gamma=self.cfg.target_norm_gamma, stats=stats)
        return self.loss_from_tokens(tokens, targets, mask)

    def loss_from_tokens(self, tokens: list[torch.Tensor], targets: torch.Tensor,
                         mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """tokens: one [B, N, D] per layer; targets [B, N, C]; mask [B, N]."""
        metrics: dict[str, float] = {}
        if self.mix is not None:
            preds = [self.projectors[0](self.mix(tokens))]
            loss, cos = cosine_align_loss(preds[0], targets, mask)
            for k, w in zip(self.layers, self.mix.weights().tolist()):
                metrics[f"layer_weight/{k}"] = w
        else:
            preds, losses, coss = [], [], []
            for i, k in enumerate(self.layers):
                proj = self.projectors[i if self.cfg.mode == "multi" else 0]
                preds.append(proj(tokens[i]))
                layer_loss, layer_cos = cosine_align_loss(preds[-1], targets, mask)
                losses.append(layer_loss)
                coss.append(layer_cos)
                if len(self.layers) > 1:
                    metrics[f"align_cos/{k}"] = float(layer_cos)
            loss, cos = torch.stack(losses).mean(), torch.stack(coss).mean()
        metrics["align_cos"] = float(cos)
        if self.position_mean is not None:
            diags = [position_diagnostics(p, targets, mask, self.position_mean) for p in preds]
            for name in ("position_only_cos", "residual_cos"):
                metrics[name] = sum(d[name] for d in diags) / len(diags)
        return loss, metrics
