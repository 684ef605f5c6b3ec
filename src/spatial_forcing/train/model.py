"""TrainModule: the student and the SF branch in one nn.Module, so DDP/accelerate wrap both."""

from __future__ import annotations

import torch
from torch import nn

from spatial_forcing.core.spatial_forcing import SpatialForcing


class TrainModule(nn.Module):
    """forward(batch, align) -> (action_loss, align_loss, metrics). align_loss is 0 for the baseline and
    with align=False (after `align.until_step`): the SF branch then gets no gradient at all."""

    def __init__(self, policy: nn.Module, sf: SpatialForcing | None):
        super().__init__()
        self.policy = policy
        self.sf = sf
        if sf is not None:
            paths = {k: policy.layer_path(k) for k in sf.layers}
            sf.attach(policy, paths, policy.token_layout())

    def forward(self, batch: dict, align: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        out = self.policy(batch)
        if self.sf is None or not align:
            if self.sf is not None:
                self.sf.capture.pop()  # the tokens the hooks captured are not used this step
            return out["action_loss"], torch.zeros((), device=out["action_loss"].device), {}
        align_loss, metrics = self.sf(batch["teacher_feats"], view_valid=batch.get("view_valid"))
        return out["action_loss"], align_loss, metrics
