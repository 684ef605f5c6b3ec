"""Fixtures for the VLA tests: a tokenizer over a few instructions and random batches."""

from __future__ import annotations

import math
from typing import Callable

import pytest
import torch

from spatial_forcing.vla.config import SmallVLAConfig
from spatial_forcing.vla.tokenizer import WordTokenizer

TASKS = [
    "pick up the red block and place it in the basket",
    "put the bowl on the plate",
    "open the top drawer",
    "push the button, then stop!",
]



@pytest.fixture
def tokenizer() -> WordTokenizer:
    return WordTokenizer.build(TASKS)


def random_batch(config: SmallVLAConfig, batch: int, seed: int = 0) -> dict:
    """Random images/state, smooth random action chunks in [-1, 1], cycling instructions."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.linspace(0.0, 1.0, config.chunk)[None, :, None]
    freq = 0.5 + 2.0 * torch.rand(batch, 1, config.action_dim, generator=gen)
    phase = 2 * math.pi * torch.rand(batch, 1, config.action_dim, generator=gen)
    amp = 0.1 + 0.8 * torch.rand(batch, 1, config.action_dim, generator=gen)
    s = config.image_size
    return {
        "images": torch.rand(batch, config.views, 3, s, s, generator=gen),
        "state": torch.randn(batch, config.proprio_dim, generator=gen),
        "actions": amp * torch.sin(math.pi * freq * t + phase),
        "action_is_pad": torch.zeros(batch, config.chunk, dtype=torch.bool),
        "instruction": [TASKS[i % len(TASKS)] for i in range(batch)],
    }


@pytest.fixture
def make_batch() -> Callable[..., dict]:
    return random_batch
