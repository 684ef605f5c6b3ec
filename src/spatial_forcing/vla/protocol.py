"""The VLAPolicy protocol (docs/architecture.md): what training, evaluation and Spatial Forcing rely on."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from spatial_forcing.core.layout import TokenLayout


@runtime_checkable
class VLAPolicy(Protocol):
    """A trainable vision-language-action policy.

    Batch contract: "images" [B, V, 3, H, W] float in [0, 1]; "state" [B, 8]; "actions" [B, chunk, 7]
    (normalised); "action_is_pad" [B, chunk] bool; "instruction" list[str].
    """

    num_layers: int  # decoder layers; valid k for layer_path are 1..num_layers

    def forward(self, batch: dict) -> dict:
        """Training pass -> {"action_loss": scalar Tensor, ...}."""
        ...

    def predict_action(self, batch: dict) -> torch.Tensor:
        """Inference -> [B, chunk, action_dim] in normalised action space."""
        ...

    def token_layout(self) -> TokenLayout:
        """Where the visual tokens sit in the decoder sequence."""
        ...

    def layer_path(self, k: int) -> str:
        """Dotted module path whose forward output is the residual stream after decoder layer k."""
        ...
