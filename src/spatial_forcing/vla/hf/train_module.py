"""Wire a core SpatialForcing module to a Hugging Face VLM: hooks, per-batch layouts, one DDP-able module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.hf.adapters import VLMAdapter, get_adapter


def _check_shift(sf: SpatialForcing, adapter: VLMAdapter) -> None:
    if sf.cfg.shift and getattr(adapter, "shift", 0):
        raise SFError(f"shift set twice (AlignConfig.shift={sf.cfg.shift}, adapter shift={adapter.shift}); "
                      "set only one of them")


def set_layout(sf: SpatialForcing, layout: TokenLayout) -> None:
    """Point an attached SpatialForcing at this batch's visual tokens (applies AlignConfig.shift)."""
    if sf.capture is None:
        raise SFError("set_layout: call attach(sf, model, ...) first")
    sf.set_layout(layout)


def attach(sf: SpatialForcing, model: nn.Module, adapter: VLMAdapter | None = None,
           layout: TokenLayout | None = None, kind: str = "output") -> VLMAdapter:
    """Hook layers `sf.layers` of `model` through its adapter; returns the adapter.

    `layout`: the visual-token layout to start with (default: the adapter's static layout, or a one-view
    placeholder when the family reads it from input_ids; call set_layout per batch in that case).
    """
    adapter = adapter or get_adapter(model)
    _check_shift(sf, adapter)
    paths = {k: adapter.layer_path(k, kind) for k in sf.layers}
    if layout is None:
        try:
            layout = adapter.token_layout()
        except SFError:
            layout = TokenLayout(views=1, grid=adapter.grid, offset=0)  # replaced by set_layout per batch
    sf.attach(model, paths, layout, kind=kind)
    return adapter


class HFSpatialForcing(nn.Module):
    """The HF model and the SF branch in one module, so DDP / accelerate all-reduce the projector too.

    forward(teacher_feats, view_valid=None, pixel_valid=None, **model_inputs) runs the model on
    `model_inputs` (input_ids, pixel_values, labels, ...) and returns (model outputs, align_loss, metrics).
    The layout is re-read from `input_ids` each call (static for families without image tokens).
    Total loss: outputs.loss + sf.cfg.alpha * align_loss. Export `self.model` alone.
    """

    def __init__(self, model: nn.Module, sf: SpatialForcing, adapter: VLMAdapter | None = None,
                 kind: str = "output", views: int | None = None):
        super().__init__()
        self.model = model
        self.sf = sf
        self.views = views
        self.adapter = attach(sf, model, adapter, kind=kind)

    def forward(self, teacher_feats: torch.Tensor, view_valid: torch.Tensor | None = None,
                pixel_valid: torch.Tensor | None = None, **model_inputs: Any):
        layout = self.adapter.token_layout(model_inputs.get("input_ids"), views=self.views)
        if teacher_feats.shape[1] != layout.views:
            raise SFError(f"teacher features have {teacher_feats.shape[1]} views but the batch holds "
                          f"{layout.views} images per sample")
        set_layout(self.sf, layout)
        outputs = self.model(**model_inputs)
        align_loss, metrics = self.sf(teacher_feats, view_valid=view_valid, pixel_valid=pixel_valid)
        return outputs, align_loss, metrics

    def detach_hooks(self) -> None:
        """Remove every hook SF put on the model (the model is then exactly as before)."""
        self.sf.detach()
