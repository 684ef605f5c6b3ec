"""Stop a diverging run at its first non-finite loss or gradient, before that step updates the weights.

A NaN or inf never recovers: every later step, checkpoint and the exported policy would be NaN, and with two
checkpoints kept the good ones would rotate out. The check costs one host sync per step. The message names
the step and the likely cause, read off the batch: NaN inputs (state/actions: the dataset or its stats;
teacher features: the cache or the teacher), else an optimisation that blew up (learning rate).
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from spatial_forcing.train.config import TrainConfig


def grad_norm(parameters: Iterable[torch.nn.Parameter], clip: float) -> torch.Tensor:
    """Total gradient norm (before clipping); with clip > 0 the gradients are also clipped to `clip`, by the
    same call as always, so results do not change. clip = 0: no clipping, the norm is only measured."""
    params = list(parameters)
    if clip > 0:
        return torch.nn.utils.clip_grad_norm_(params, clip)
    norms = [torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


def nonfinite(values: dict[str, torch.Tensor]) -> str | None:
    """'<name> is <value>' for the first non-finite scalar of `values`, else None (one sync for all)."""
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    if bool(torch.isfinite(stacked).all()):
        return None
    name, value = next((k, v) for k, v in zip(values, stacked.tolist()) if not math.isfinite(v))
    return f"{name} is {value}"


def likely_cause(batch: dict, cfg: TrainConfig) -> str:
    """Why a step's loss or gradient is not finite, judged from its inputs."""
    for key in ("state", "actions"):
        if not bool(torch.isfinite(batch[key]).all()):
            return f"the batch's normalised {key} hold NaN or inf: check the dataset and its meta/stats.json"
    feats = batch.get("teacher_feats")
    if feats is not None and not bool(torch.isfinite(feats).all()):
        fix = "check the teacher"
        if cfg.targets == "cache":
            fix = "rebuild the teacher-feature cache (--overwrite)"
        return f"the batch's teacher features hold NaN or inf: {fix}"
    clip = "" if cfg.grad_clip > 0 else ", gradient clipping off (--grad-clip 0)"
    alpha = f" (or --align.alpha {cfg.align.alpha:g})" if cfg.align.enabled else ""
    return f"the run diverged, likely from too high a learning rate (--lr {cfg.lr:g}{clip}): lower it{alpha}"
