"""A damaged teacher-feature cache chunk is a one-line SFError naming the chunk file when it is read, never
NaN targets (which made the alignment loss, then every weight, NaN without an error)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from spatial_forcing.teachers.cache import FeatureCache, chunk_name
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError


@pytest.fixture()
def cache_dir(synthetic_dataset, tmp_path):
    torch.manual_seed(0)
    teacher = build_teacher("mini3d", weights="random", dim=32, heads=2, depth=3, num_registers=2)
    dataset = shutil.copytree(synthetic_dataset, tmp_path / "ds")
    return build_cache(dataset, teacher, 1, out=tmp_path / "cache", chunk_frames=20, progress=False)


def test_a_nan_in_a_chunk_is_named_when_read(cache_dir):
    chunk = np.load(cache_dir / chunk_name(1))
    chunk[3, 0, 0, 0, 0] = np.nan  # frame 23
    np.save(cache_dir / chunk_name(1), chunk)
    cache = FeatureCache(cache_dir)
    assert cache[np.arange(0, 20)].shape[0] == 20  # other chunks still read
    assert cache[[21, 22]].shape[0] == 2  # and other rows of the damaged chunk
    with pytest.raises(SFError, match=rf"{chunk_name(1)}: cached teacher features hold NaN or inf; .*rebu"):
        cache[[5, 23]]


def test_a_truncated_chunk_is_named_with_the_fix(cache_dir):
    file = cache_dir / chunk_name(2)
    file.write_bytes(file.read_bytes()[:1000])
    with pytest.raises(SFError, match=rf"{chunk_name(2)}: truncated or unreadable cache chunk .*delete it"):
        FeatureCache(cache_dir)[[45]]
