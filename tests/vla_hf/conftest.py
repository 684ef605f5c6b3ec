"""Shared test settings for the HF adapter tests (the tiny models live in tiny_vlms.py)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
