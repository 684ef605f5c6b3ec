"""loss = action_loss + alpha x align_loss, and the scalars lerobot logs (action_loss, align_loss,
align_cos)."""

from __future__ import annotations

from torch import Tensor


def add_align_loss(loss: Tensor, info: dict | None, align_loss: Tensor, metrics: dict[str, float],
                   alpha: float) -> tuple[Tensor, dict]:
    """`loss` is the policy's own (a scalar, or [B] per sample with reduction='none')."""
    info = dict(info or {})
    total = loss + alpha * align_loss
    info.update({"action_loss": float(loss.detach().mean()), "align_loss": float(align_loss.detach()),
                 **metrics, "loss": float(total.detach().mean())})
    return total, info
