"""The Teacher protocol: a frozen model that turns multi-view images into patch-feature grids."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch


@runtime_checkable
class Teacher(Protocol):
    """A frozen feature teacher. Implementations stay in eval mode and run under no_grad."""

    name: str  # registry name, e.g. "mini3d", "vggt"
    dim: int  # channels C of the returned features
    num_layers: int  # valid layer indices: -num_layers .. num_layers-1

    def grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the feature grid for input images of size image_hw."""
        ...

    def forward_intermediates(
        self, images: torch.Tensor, indices: Sequence[int], valid: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """images [B, V, 3, H, W] in [0, 1] (all views of a sample in one call) -> one [B, V, h, w, C]
        tensor per requested layer, special tokens dropped. `valid` is an optional [B, V, H, W] bool mask
        of real (non-padding) pixels."""
        ...
