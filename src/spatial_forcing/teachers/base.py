"""The Teacher protocol: a frozen model that turns multi-view images into patch-feature grids; and what the
registry factories share (the meaning of `weights`, in `teachers.registry`)."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

import torch

from spatial_forcing.utils.errors import SFError

RANDOM = "random"  # weights=RANDOM: a random init instead of weights to load


@contextlib.contextmanager
def seeded_init(seed: int | None) -> Iterator[None]:
    """Random init under `seed` without touching the global RNG; from the global RNG when None (so a seeded
    training run reproduces its random teacher, drawn after the student's init)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def no_default_weights(name: str, what: str) -> SFError:
    """The error of weights=None for a teacher that ships no weights."""
    return SFError(f"{name} teacher needs weights: a path to {what}, or 'random' for a random init "
                   "(tests, timing)")


def size_options_need_random(name: str, weights: Any, options: dict) -> None:
    """Size options shape a random init only; loaded weights carry their own shape."""
    if options and weights != RANDOM:
        raise SFError(f"{name}: options {sorted(options)} only apply with weights='random'; loaded weights "
                      "carry their own shape")


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
