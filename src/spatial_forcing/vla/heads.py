"""Action heads on the decoder's action-slot hidden states: OFT L1 regression and pi0-style flow matching.

Both take `slots` [B, chunk*n, D], the final (normed) decoder states of the action slots, ordered step-major
(slot s*n + j belongs to chunk step s), with n = slots per step (action_dim as OFT, or 1); a step's n slot
states are concatenated into one vector of n*D.

Flow-matching time convention (pi0): t=0 is the data (action chunk), t=1 is pure Gaussian noise.
x_t = t * noise + (1 - t) * actions; the expert predicts the velocity u = noise - actions = dx_t/dt.
Training samples t = 0.001 + 0.999 * Beta(1.5, 1) (weighted towards the noisy end, as pi0); inference
starts from noise at t=1 and takes `steps` Euler steps of dt = -1/steps down to t=0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spatial_forcing.vla.blocks import Block, init_weights


def masked_mean(err: torch.Tensor, is_pad: torch.Tensor | None) -> torch.Tensor:
    """Mean of err [B, chunk, A] over the non-padded chunk steps (is_pad [B, chunk] bool, True = padding)."""
    if is_pad is None:
        return err.mean()
    keep = (~is_pad.bool()).unsqueeze(-1).to(err.dtype)
    return (err * keep).sum() / (keep.sum() * err.shape[-1]).clamp_min(1.0)


class MLPResNet(nn.Module):
    """LN, FC(in->h), ReLU, n x [LN -> FC -> ReLU, + residual], LN, FC(h->out) (OFT action_heads.py)."""

    def __init__(self, dim_in: int, hidden: int, dim_out: int, blocks: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.inp = nn.Sequential(nn.LayerNorm(dim_in), nn.Linear(dim_in, hidden), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(blocks)
        )
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(x)


class L1Head(nn.Module):
    """OFT head: slots reshaped to (B, chunk, n*D) -> MLPResNet -> (B, chunk, action_dim)."""

    def __init__(self, llm_dim: int, action_dim: int, chunk: int, hidden: int, blocks: int,
                 dropout: float = 0.0, slots_per_step: int | None = None) -> None:
        super().__init__()
        self.action_dim, self.chunk = action_dim, chunk
        n = action_dim if slots_per_step is None else slots_per_step
        self.mlp = MLPResNet(n * llm_dim, hidden, action_dim, blocks, dropout)

    def predict(self, slots: torch.Tensor) -> torch.Tensor:
        return self.mlp(slots.reshape(slots.shape[0], self.chunk, -1))

    def loss(self, slots: torch.Tensor, actions: torch.Tensor,
             is_pad: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked L1 loss, predicted chunk)."""
        pred = self.predict(slots)
        return masked_mean((pred - actions).abs(), is_pad), pred


def time_embedding(t: torch.Tensor, dim: int, min_period: float = 4e-3,
                   max_period: float = 4.0) -> torch.Tensor:
    """Sinusoidal embedding of t [B] in [0, 1] -> [B, dim] (pi0's periods: 4e-3 .. 4)."""
    half = dim // 2
    frac = torch.linspace(0.0, 1.0, half, device=t.device, dtype=t.dtype)
    period = min_period * (max_period / min_period) ** frac
    angle = (2 * math.pi / period)[None, :] * t[:, None]
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


class FlowHead(nn.Module):
    """pi0-style action expert: a small bidirectional transformer over the chunk steps.

    Each step token = MLP([action_in(x_t), time_emb(t)]) + cond(action-slot states of that step) + pos.
    Output: velocity [B, chunk, action_dim].
    """

    def __init__(self, llm_dim: int, action_dim: int, chunk: int, dim: int, layers: int, heads: int,
                 steps: int, samples: int = 1, dropout: float = 0.0, init_std: float = 0.02,
                 slots_per_step: int | None = None) -> None:
        super().__init__()
        n = action_dim if slots_per_step is None else slots_per_step
        self.action_dim, self.chunk, self.dim, self.steps = action_dim, chunk, dim, steps
        self.samples = samples  # noise draws per example in `loss` (the conditioning is shared)
        self.t_dist = torch.distributions.Beta(torch.tensor(1.5), torch.tensor(1.0))
        self.cond = nn.Sequential(nn.LayerNorm(n * llm_dim), nn.Linear(n * llm_dim, dim))
        self.action_in = nn.Linear(action_dim, dim)
        self.action_time = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.pos = nn.Parameter(torch.zeros(1, chunk, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, 4.0, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, action_dim)
        self.apply(lambda m: init_weights(m, init_std))
        nn.init.trunc_normal_(self.pos, std=init_std)

    def condition(self, slots: torch.Tensor) -> torch.Tensor:
        """Per-step conditioning [B, chunk, dim] from the slots (computed once per prefix)."""
        return self.cond(slots.reshape(slots.shape[0], self.chunk, -1))

    def velocity(self, cond: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """cond [B, chunk, dim], x_t [B, chunk, A], t [B] -> velocity [B, chunk, A]."""
        temb = time_embedding(t, self.dim).unsqueeze(1).expand(-1, self.chunk, -1)
        h = self.action_time(torch.cat([self.action_in(x_t), temb], dim=-1)) + cond + self.pos
        for block in self.blocks:
            h = block(h)
        return self.out(self.norm(h))

    def loss(self, slots: torch.Tensor, actions: torch.Tensor, is_pad: torch.Tensor | None) -> torch.Tensor:
        """Flow-matching MSE over `samples` noisy copies of each example's chunk."""
        k = self.samples
        cond = self.condition(slots).repeat_interleave(k, dim=0)
        actions = actions.repeat_interleave(k, dim=0)
        is_pad = None if is_pad is None else is_pad.repeat_interleave(k, dim=0)
        t = (0.001 + 0.999 * self.t_dist.sample((actions.shape[0],))).to(actions)
        noise = torch.randn_like(actions)
        x_t = t[:, None, None] * noise + (1 - t[:, None, None]) * actions
        v = self.velocity(cond, x_t, t)
        return masked_mean((v - (noise - actions)) ** 2, is_pad)

    def sample(self, slots: torch.Tensor, noise: torch.Tensor | None = None,
               steps: int | None = None) -> torch.Tensor:
        """Euler-integrate from noise (t=1) to actions (t=0) -> [B, chunk, A]."""
        steps = steps or self.steps
        cond = self.condition(slots)
        b = slots.shape[0]
        x = noise if noise is not None else torch.randn(b, self.chunk, self.action_dim, device=slots.device)
        x = x.to(cond)
        dt = -1.0 / steps
        for i in range(steps):
            t = torch.full((b,), 1.0 + i * dt, device=x.device, dtype=x.dtype)
            x = x + dt * self.velocity(cond, x, t)
        return x
