"""oracle3d end to end: a --record-geometry tabletop dataset -> feature cache -> a few SF training steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.data.generate import generate_dataset
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.teachers.cache import FeatureCache
from spatial_forcing.teachers.cache_key import cache_key, key_mismatch
from spatial_forcing.teachers.oracle3d import ONLINE_ERROR, Oracle3D, OracleConfig
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError

CAMS = ("agentview", "wrist")


@pytest.fixture(scope="module")
def geometry_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle") / "geo"
    return generate_dataset("tabletop", root, episodes_per_task=1, image_size=32, tasks=[0],
                            record_geometry=True).root


def _cfg(dataset, out, **kw):
    base = dict(dataset=str(dataset), out=str(out), vla_preset="tiny",
                align=AlignConfig(enabled=True, teacher="oracle3d", layers=[2]), steps=3, batch_size=8,
                warmup_steps=1, threads=1, log_every=1, save_every=3)
    return TrainConfig(**{**base, **kw})


def test_training_reads_oracle_features_from_the_cache(geometry_dataset, tmp_path):
    train(_cfg(geometry_dataset, tmp_path / "run"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["align_loss"]) and r["align_loss"] > 0 for r in rows)
    caches = list((geometry_dataset.parent / "geo.sf_cache").glob("oracle3d-L0-*"))
    assert len(caches) == 1
    cache = FeatureCache(caches[0])
    assert cache.row_shape == (2, 8, 8, 128) and cache.key["teacher_options"]["oracle"]["pool"] == 4
    # the cached rows are the oracle's encoding of the stored geometry
    reader = LeRobotDatasetReader(geometry_dataset)
    rows_ = [0, reader.num_frames - 1]
    arrays = [torch.stack([torch.from_numpy(np.stack([reader.array(f"observation.{kind}.{c}", i, i + 1)[0]
                                                      for i in rows_])) for c in CAMS], dim=1)
              for kind in ("depth", "segmentation", "intrinsics", "extrinsics")]
    want = Oracle3D().features_from_geometry(*arrays)
    torch.testing.assert_close(cache[rows_].float(), want, atol=2e-3, rtol=2e-3)


def test_cache_key_fingerprints_the_oracle_configuration(geometry_dataset):
    reader = LeRobotDatasetReader(geometry_dataset)
    a = cache_key(reader, Oracle3D(), 0, CAMS, 32)
    b = cache_key(reader, Oracle3D(OracleConfig(num_freqs=5)), 0, CAMS, 32)
    assert key_mismatch(a, b).startswith("weights_sha256")  # the channel map differs with the raw size...
    c = cache_key(reader, Oracle3D(OracleConfig(max_wavelength=1.0)), 0, CAMS, 32)
    assert key_mismatch(a, c).startswith("teacher_options.oracle.max_wavelength")  # ...and every option counts
    assert cache_key(reader, Oracle3D(), 0, CAMS, 32) == a


def test_dataset_without_geometry_and_online_targets_are_refused(geometry_dataset, synthetic_dataset, tmp_path):
    with pytest.raises(SFError, match=f"dataset {synthetic_dataset} has no observation.depth.agentview feature: "
                                      "oracle3d needs .* --record-geometry"):
        train(_cfg(synthetic_dataset, tmp_path / "nogeo"))
    assert not list(synthetic_dataset.parent.glob("*.sf_cache/oracle3d*"))
    with pytest.raises(SFError, match="^" + ONLINE_ERROR + "$"):
        train(_cfg(geometry_dataset, tmp_path / "online", targets="online"))
    assert not (tmp_path / "online" / "checkpoints").exists()


def test_unwritable_cache_location_is_a_one_line_error(geometry_dataset, monkeypatch):
    from spatial_forcing.data.chunk_dataset import ChunkDataset
    from spatial_forcing.train import targets

    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(targets, "build_cache", read_only)
    with pytest.raises(SFError, match="cannot write the oracle3d feature cache .* no in-memory fallback"):
        targets.TargetProvider.for_dataset(Oracle3D(), 0, "cache", ChunkDataset(geometry_dataset, image_size=32))
