"""One step's global batch, split over ranks and micro-batches without changing the loss it defines.

The global batch (`--batch-size` samples, `loop.batch_positions`) is cut into world x grad_accum equal
micro-batches, in order: rank r holds rows [r * B / world, (r + 1) * B / world), its micro-batch i the i-th
of grad_accum equal parts of those. Each micro-batch's loss is weighted (`loss_shares`) so that the sum over
its rank's micro-batches, averaged over the ranks (what DDP does to gradients), is exactly the loss of the
global batch: the action loss is a mean over the batch's non-padded chunk steps (`vla.heads.masked_mean`)
and the alignment loss one over its samples that have a valid view (`core.loss.masked_token_mean`), so
micro-batches with more padding must count less than a plain mean of their losses would make them.
"""

from __future__ import annotations

import torch

from spatial_forcing.train.distributed import Ranks


def shard_rows(batch_size: int, ranks: Ranks) -> slice:
    """The rows of the global batch this rank computes."""
    per_rank = batch_size // ranks.world
    return slice(ranks.rank * per_rank, (ranks.rank + 1) * per_rank)


def split_batch(batch: dict, parts: int) -> list[dict]:
    """`parts` equal consecutive micro-batches of a collated batch (tensors and lists split along rows)."""
    if parts == 1:
        return [batch]
    size = len(batch["actions"]) // parts
    return [{k: v[i * size:(i + 1) * size] for k, v in batch.items()} for i in range(parts)]


def normalisers(batch: dict) -> torch.Tensor:
    """[2] float64: how many terms the action loss and the alignment loss of `batch` average over, up to a
    factor the same for every micro-batch (action dimensions, flow samples)."""
    n = len(batch["actions"])
    pad = batch.get("action_is_pad")
    actions = n if pad is None else int((~pad.bool()).sum())
    valid = batch.get("view_valid")
    samples = n if valid is None else int(valid.bool().any(dim=1).sum())
    return torch.tensor([actions, samples], dtype=torch.float64)


def loss_shares(micro_batches: list[dict], ranks: Ranks) -> torch.Tensor:
    """[K, 2] float32 weights of (action loss, alignment loss) of each of this rank's K micro-batches:
    world x (its terms / the global batch's terms). Exactly 1.0 for one process without accumulation."""
    counts = torch.stack([normalisers(b) for b in micro_batches])
    total = ranks.sum(counts.sum(dim=0).to(ranks.device)).cpu().clamp(min=1.0)
    return (ranks.world * counts / total).float().to(ranks.device)


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on `device` (the same tensors on CPU)."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
