"""Held-out action loss during training (`sf train --val-dataset D --val-every N`): the student's L1 on a
fixed set of frames from episodes it never trains on, normalised with the training data's statistics.

A cheap, offline measure of generalisation: closed-loop success needs minutes of simulation per point, this
needs seconds; a training loss that falls while this one rises is memorisation.
"""

from __future__ import annotations

import torch
from torch.utils.data import default_collate

from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.train.batches import to_device
from spatial_forcing.train.config import TrainConfig

BATCH = 64  # frames per forward pass
KEY = "val/action_loss"  # the metric this module logs (metrics.jsonl, TensorBoard)


class Validation:
    """`__call__(policy) -> {"val/action_loss": float}` over `cfg.val_samples` evenly spaced frames."""

    def __init__(self, cfg: TrainConfig, train_data: ChunkDataset) -> None:
        self.data = ChunkDataset(cfg.val_dataset, chunk=train_data.chunk, cameras=train_data.cameras,
                                 image_size=train_data.image_size, stats=train_data.stats)
        n = min(cfg.val_samples, len(self.data))
        self.positions = torch.linspace(0, len(self.data) - 1, n).round().long().unique()

    @torch.no_grad()
    def __call__(self, policy: torch.nn.Module) -> dict[str, float]:
        total, count = 0.0, 0
        device = next(policy.parameters()).device
        for part in self.positions.split(BATCH):
            batch = to_device(default_collate([self.data[int(i)] for i in part]), device)
            total += float(policy(batch)["action_loss"]) * len(part)
            count += len(part)
        return {KEY: total / count}
