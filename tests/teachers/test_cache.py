"""The on-disk teacher-feature cache: exact round trip, stale / partial refusal, resume without recompute."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from spatial_forcing.cli.main import main as sf_main
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.teachers.cache import FeatureCache, chunk_name, read_manifest
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.cache_key import cache_key, weights_sha256
from spatial_forcing.teachers.mini import save_weights
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError

SMALL = dict(weights="random", dim=32, heads=2, depth=3, num_registers=2)  # a seconds-fast mini3d


def small_teacher(seed: int = 0):
    torch.manual_seed(seed)
    return build_teacher("mini3d", **SMALL)


def counting(teacher):
    """Wrap forward_intermediates to count calls (each call = one batch of frames)."""
    inner, teacher.calls = teacher.forward_intermediates, 0

    def forward(*args, **kw):
        teacher.calls += 1
        return inner(*args, **kw)

    teacher.forward_intermediates = forward
    return teacher


def failing_after(teacher, calls: int):
    """Make the teacher raise on call number `calls` + 1 (an interrupted caching run)."""
    inner, seen = teacher.forward_intermediates, [0]

    def forward(*args, **kw):
        seen[0] += 1
        if seen[0] > calls:
            raise KeyboardInterrupt
        return inner(*args, **kw)

    teacher.forward_intermediates = forward
    return teacher


@pytest.fixture()
def dataset(synthetic_dataset, tmp_path):
    """A private copy (tests edit it): 72 frames, 6 episodes of 12, 32 px, 2 views."""
    return shutil.copytree(synthetic_dataset, tmp_path / "ds")


def test_round_trip_is_exact_and_keyed_by_global_index(dataset):
    teacher = small_teacher()
    path = build_cache(dataset, teacher, 1, chunk_frames=20, batch_size=20, progress=False)
    assert path.parent.name == "ds.sf_cache" and path.parent.parent == dataset.parent  # sidecar, not inside
    cache = FeatureCache(path)
    images = ChunkDataset(dataset).images  # uint8 [72, 2, 3, 32, 32], position == global index here
    for k, lo in enumerate(range(0, 72, 20)):
        with torch.no_grad():
            want = teacher.forward_intermediates(images[lo:lo + 20].float() / 255.0, [1])[0].half()
        assert torch.equal(cache[np.arange(lo, min(lo + 20, 72))], want), f"chunk {k}"
        assert np.load(path / chunk_name(k), mmap_mode="r").dtype == np.float16
    rows = np.load(path / "rows.npy")
    reader = LeRobotDatasetReader(dataset)
    assert (rows[:, 0] == np.arange(72)).all()
    assert (rows[:, 1] == reader.columns["episode_index"]).all() and (rows[:, 2] == reader.columns["frame_index"]).all()
    picked = torch.tensor([71, 3, 40, 3])
    assert torch.equal(cache[picked], torch.cat([cache[[i]] for i in picked.tolist()]))
    manifest = read_manifest(path)
    assert manifest["key"]["grid"] == [8, 8] and manifest["key"]["channels"] == teacher.dim
    assert "PE" in manifest["pe"] and manifest["key"]["dtype"] == "float16"


def test_stale_cache_is_refused_with_the_reason(dataset, tmp_path):
    teacher = small_teacher()
    path = build_cache(dataset, teacher, 1, out=tmp_path / "c", chunk_frames=36, progress=False)
    reader = LeRobotDatasetReader(dataset)
    with pytest.raises(SFError, match=r"layer: cache has 1, wanted 2"):
        build_cache(reader, teacher, 2, out=path, progress=False)
    with pytest.raises(SFError, match=r"stale .*weights_sha256"):
        FeatureCache(path, cache_key(reader, small_teacher(seed=1), 1, ("agentview", "wrist"), None))
    with pytest.raises(SFError, match=r"input_hw: cache has \[32, 32\], wanted \[64, 64\]"):
        FeatureCache(path, cache_key(reader, teacher, 1, ("agentview", "wrist"), 64))
    # Same recipe, default location: other layers / weights get their own directory.
    assert build_cache(reader, teacher, 2, chunk_frames=36, progress=False) != \
        build_cache(reader, teacher, 1, chunk_frames=36, progress=False)
    # Edit the frames: the agentview images of the data parquet in reverse order.
    for file in (dataset / "data").rglob("*.parquet"):
        table = pq.read_table(file)
        col = table.column_names.index("observation.images.agentview")
        flipped = pa.chunked_array([table.column(col).combine_chunks()[::-1]])
        pq.write_table(table.set_column(col, table.field(col), flipped), file)
    edited = LeRobotDatasetReader(dataset)
    with pytest.raises(SFError, match=r"stale .*dataset\.data: cache has"):
        FeatureCache(path, cache_key(edited, teacher, 1, ("agentview", "wrist"), None))
    with pytest.raises(SFError, match=r"dataset\.data"):
        build_cache(edited, teacher, 1, out=path, progress=False)
    rebuilt = build_cache(edited, teacher, 1, out=path, overwrite=True, progress=False)
    assert FeatureCache(rebuilt, cache_key(edited, teacher, 1, ("agentview", "wrist"), None)).num_frames == 72


def test_interrupted_build_is_refused_then_resumes_without_recomputing(dataset, tmp_path):
    out = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):  # dies while computing chunk 2 of 0..3 (one call per chunk)
        build_cache(dataset, failing_after(small_teacher(), 2), 1, out=out, chunk_frames=20, batch_size=20,
                    progress=False)
    assert read_manifest(out)["complete_chunks"] == [0, 1]
    assert not list(out.glob(".*.tmp"))  # no half-written chunk left behind
    with pytest.raises(SFError, match=r"partial .*2 of 4 chunks missing \(first \[2, 3\]\)"):
        FeatureCache(out)
    teacher = counting(small_teacher())
    build_cache(dataset, teacher, 1, out=out, chunk_frames=20, batch_size=20, progress=False)
    assert teacher.calls == 2  # only chunks 2 and 3
    straight = build_cache(dataset, small_teacher(), 1, out=tmp_path / "straight", chunk_frames=20,
                           batch_size=20, progress=False)
    assert torch.equal(FeatureCache(out)[np.arange(72)], FeatureCache(straight)[np.arange(72)])
    again = counting(small_teacher())
    build_cache(dataset, again, 1, out=out, progress=False)
    assert again.calls == 0  # complete: nothing recomputed
    (out / chunk_name(3)).unlink()  # a lost chunk file is partial too
    with pytest.raises(SFError, match=r"partial .*first \[3\]"):
        FeatureCache(out)


def test_cli_builds_and_refuses_inside_the_dataset(dataset, tmp_path, capsys):
    weights = tmp_path / "mini3d_small.safetensors"
    save_weights(small_teacher().model, weights)
    out = tmp_path / "cli_cache"
    args = ["teacher", "cache", "--dataset", str(dataset), "--teacher", "mini3d", "--weights", str(weights),
            "--layer", "-1", "--image-size", "64", "--out", str(out), "--chunk-frames", "50"]
    assert sf_main(args) == 0
    assert "72 frames x (2, 8, 8, 64) float16 in 2 chunks" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["key"]["layer"] == 2 and manifest["key"]["input_hw"] == [64, 64]
    assert manifest["key"]["weights_sha256"] == weights_sha256(small_teacher())  # file or memory: same hash
    assert sf_main(args[:-4] + ["--out", str(dataset / "meta" / "cache")]) == 2
    assert "outside the dataset directory" in capsys.readouterr().err
