"""feature_stats.safetensors: written with a finished cache, added to an older cache, finiteness checked."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from spatial_forcing.core.target_norm import FeatureStatsAccumulator
from spatial_forcing.teachers.cache import FeatureCache, chunk_name
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.cache_stats import STATS_FILE, load_feature_stats
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError


def small_teacher():
    torch.manual_seed(0)
    return build_teacher("mini3d", weights="random", dim=32, heads=2, depth=3, num_registers=2)


@pytest.fixture()
def dataset(synthetic_dataset, tmp_path):
    return shutil.copytree(synthetic_dataset, tmp_path / "ds")


def test_finished_cache_holds_exact_stats_and_an_older_cache_gets_them_on_open(dataset, tmp_path):
    teacher = small_teacher()
    path = build_cache(dataset, teacher, 1, out=tmp_path / "c", chunk_frames=20, progress=False)
    assert (path / STATS_FILE).is_file()
    acc = FeatureStatsAccumulator()
    acc.update(FeatureCache(path)[np.arange(72)].float())
    want, stats = acc.result(), load_feature_stats(path)
    assert stats.frames == 72 and stats.mean.shape == (2, 8, 8, teacher.dim)
    torch.testing.assert_close(stats.mean, want.mean)
    torch.testing.assert_close(stats.std, want.std)
    (path / STATS_FILE).unlink()  # a cache built before the statistics existed
    calls = []
    inner = teacher.forward_intermediates
    teacher.forward_intermediates = lambda *a, **k: calls.append(1) or inner(*a, **k)
    assert build_cache(dataset, teacher, 1, out=path, progress=False) == path
    assert calls == [] and (path / STATS_FILE).is_file()
    torch.testing.assert_close(load_feature_stats(path).std, want.std)


def test_non_finite_features_or_a_corrupt_stats_file_are_one_line_errors(dataset, tmp_path):
    path = build_cache(dataset, small_teacher(), 1, out=tmp_path / "c", chunk_frames=40, progress=False)
    (path / STATS_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(SFError, match=r"corrupt feature statistics .*feature_stats.safetensors"):
        load_feature_stats(path)
    (path / STATS_FILE).unlink()
    chunk = np.load(path / chunk_name(1))
    chunk[3, 0, 2, 2, 5] = np.inf
    np.save(path / chunk_name(1), chunk)
    with pytest.raises(SFError, match=r"chunk-00001.npy: cached teacher features hold NaN or inf"):
        load_feature_stats(path)
    assert not (path / STATS_FILE).exists()
