"""Where the visual tokens sit in a decoder's token sequence: a declarative description."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenLayout:
    """Visual tokens of `views` views, each a row-major `grid` of patches, stored view-major.

    The tokens start at position `offset` of the sequence. `stride` is the distance between the first
    tokens of consecutive views (defaults to h*w, i.e. views back to back). `shift` reproduces the
    reference OpenVLA-OFT code, which reads positions offset+shift.. (its "gain_feat_1move" quirk: shift=1
    pairs teacher token k with student token k+1).
    """

    views: int  # number of camera views
    grid: tuple[int, int]  # (h, w) patch grid of each view on the student side
    offset: int  # sequence index of the first visual token of view 0
    stride: int | None = None  # positions between the starts of consecutive views (None: h*w)
    shift: int = 0  # extra positional shift applied when slicing (reference OpenVLA quirk: 1)

    @property
    def tokens_per_view(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        return self.views * self.tokens_per_view

    def indices(self) -> torch.Tensor:
        """Sequence positions of all visual tokens, view-major then row-major: shape [views*h*w]."""
        stride = self.tokens_per_view if self.stride is None else self.stride
        per_view = torch.arange(self.tokens_per_view)
        starts = self.offset + self.shift + stride * torch.arange(self.views)
        return (starts[:, None] + per_view[None, :]).reshape(-1)

    def check(self, seq_len: int) -> None:
        """Raise ValueError if the layout does not fit a sequence of `seq_len` tokens."""
        last = int(self.indices().max())
        if self.offset < 0 or last >= seq_len:
            raise ValueError(
                f"token layout {self} needs sequence positions up to {last}, but the captured sequence has "
                f"{seq_len} tokens"
            )

    def select(self, hidden: torch.Tensor) -> torch.Tensor:
        """Gather the visual tokens from hidden states [B, T, D] -> [B, views*h*w, D]."""
        self.check(hidden.shape[1])
        return hidden.index_select(1, self.indices().to(hidden.device))
