"""Which student layers to align: one, several (uniform), or an adaptive learned softmax mix."""

from __future__ import annotations

import torch
from torch import nn

MODES = ("single", "multi", "adaptive")


class LayerMix(nn.Module):
    """Softmax-weighted mix of candidate layers' tokens, each LayerNorm-ed first (scales differ by depth).

    The logits start at zero (uniform weights) and are learned with the rest of the model through the
    alignment loss; `weights()` always sums to 1.
    """

    def __init__(self, num_layers: int, dim: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(num_layers))

    def weights(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=0)

    def forward(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        w = self.weights()
        return sum(w[i] * norm(t) for i, (norm, t) in enumerate(zip(self.norms, tokens)))
