"""LeRobot v3 writer/reader: exact round trip, on-disk schema, video features, atomicity, errors."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lerobot_helpers import LENGTHS, TASKS, make_episodes, write_dataset

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.data.writer import LeRobotWriter
from spatial_forcing.utils.errors import SFError


def test_round_trip_exact(tiny):
    root, episodes = tiny
    r = LeRobotDatasetReader(root)
    assert r.tasks == TASKS
    assert r.num_frames == sum(LENGTHS) and r.num_episodes == len(LENGTHS)
    g = 0
    for e, ep in enumerate(episodes):
        assert r.episode_range(e) == (g, g + len(ep["frames"]))
        assert r.episode(e)["tasks"] == [ep["task"]]
        for t, frame in enumerate(ep["frames"]):
            got = r[g]
            for key in (fmt.image_key("agentview"), fmt.image_key("wrist")):
                np.testing.assert_array_equal(got[key], frame[key])
            np.testing.assert_array_equal(got[fmt.STATE_KEY], frame[fmt.STATE_KEY])
            np.testing.assert_array_equal(got[fmt.ACTION_KEY], frame[fmt.ACTION_KEY])
            assert (got["episode_index"], got["frame_index"], got["index"]) == (e, t, g)
            assert got["task"] == ep["task"] and got["task_index"] == TASKS.index(ep["task"])
            assert got["timestamp"] == pytest.approx(t / 10)
            g += 1
    bulk = r.images(fmt.image_key("wrist"), episodes=[1, 3])
    want = [f[fmt.image_key("wrist")] for e in (1, 3) for f in episodes[e]["frames"]]
    np.testing.assert_array_equal(bulk, np.stack(want))


def test_on_disk_schema_matches_lerobot(tiny):
    root, _ = tiny
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    for k in ("robot_type", "total_episodes", "total_frames", "total_tasks", "chunks_size", "fps", "splits",
              "data_path", "video_path", "features", "data_files_size_in_mb", "video_files_size_in_mb"):
        assert k in info, k
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (4, sum(LENGTHS), 2)
    feats = info["features"]
    assert feats["observation.images.agentview"]["dtype"] == "image"
    assert feats["observation.images.agentview"]["shape"] == [12, 12, 3]
    assert feats["observation.images.agentview"]["names"] == ["height", "width", "channels"]
    assert feats["observation.state"]["shape"] == [8] and feats["action"]["shape"] == [7]
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert feats[k]["shape"] == [1]

    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.schema.field("observation.images.wrist").type == pa.struct(
        [("bytes", pa.binary()), ("path", pa.string())])
    assert data.schema.field("index").type == pa.int64()
    assert data.schema.field("timestamp").type == pa.float32()
    assert data.column("index").to_pylist() == list(range(sum(LENGTHS)))

    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    starts = np.cumsum([0] + LENGTHS)
    for e, row in enumerate(eps):
        assert row["episode_index"] == e and row["length"] == LENGTHS[e]
        assert (row["dataset_from_index"], row["dataset_to_index"]) == (starts[e], starts[e + 1])
        assert row["data/chunk_index"] == 0 and row["data/file_index"] == 0
        assert row["tasks"] == [TASKS[e % 2]]

    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0, 1]
    assert tasks.column("task").to_pylist() == TASKS
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.array(stats["observation.images.wrist"]["mean"]).shape == (3, 1, 1)


def _encode_mp4(path, frames, fps):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_video_feature_dataset_loads(tmp_path):
    """Turn the wrist camera of a PNG dataset into an MP4 feature by hand, the way LeRobot lays it out."""
    episodes = make_episodes(size=16)
    for ep in episodes:  # flat colours survive lossy coding almost exactly
        for t, f in enumerate(ep["frames"]):
            f[fmt.image_key("wrist")] = np.full((16, 16, 3), (10 * t + 40, 200 - 10 * t, 90), np.uint8)
    root = write_dataset(tmp_path / "ds", episodes, size=16)
    key, fps = fmt.image_key("wrist"), 10
    # episodes 0,1 in file-000, episodes 2,3 in file-001
    ep_table = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet")
    cols = {f"videos/{key}/{n}": [] for n in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")}
    for file, group in ((0, [0, 1]), (1, [2, 3])):
        frames, t0 = [], 0
        for e in group:
            cols[f"videos/{key}/chunk_index"].append(0)
            cols[f"videos/{key}/file_index"].append(file)
            cols[f"videos/{key}/from_timestamp"].append(t0 / fps)
            frames += [f[key] for f in episodes[e]["frames"]]
            t0 += len(episodes[e]["frames"])
            cols[f"videos/{key}/to_timestamp"].append(t0 / fps)
        _encode_mp4(root / fmt.VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=file), frames, fps)
    for name, values in cols.items():
        ep_table = ep_table.append_column(name, pa.array(values))
    pq.write_table(ep_table, root / "meta/episodes/chunk-000/file-000.parquet")
    data_path = root / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(data_path).drop_columns([key]), data_path)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"][key]["dtype"] = "video"
    info["video_path"] = fmt.VIDEO_PATH
    (root / "meta/info.json").write_text(json.dumps(info))

    r = LeRobotDatasetReader(root)
    assert r.camera_keys == [fmt.image_key("agentview"), key]
    want = np.stack([f[key] for ep in episodes for f in ep["frames"]]).astype(int)
    got = r.images(key).astype(int)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 4
    np.testing.assert_allclose(r[12][key], want[12], atol=4)
    agent = fmt.image_key("agentview")
    np.testing.assert_array_equal(r[12][agent], episodes[1]["frames"][7][agent])


def test_writer_video_features_round_trip(tmp_path):
    episodes = make_episodes(size=16)
    for ep in episodes:
        for t, f in enumerate(ep["frames"]):
            f[fmt.image_key("wrist")] = np.full((16, 16, 3), 20 * t + 30, np.uint8)
    root = write_dataset(tmp_path / "ds", episodes, video=True, size=16)
    assert (root / "videos" / fmt.image_key("wrist") / "chunk-000/file-000.mp4").is_file()
    r = LeRobotDatasetReader(root)
    want = np.stack([f[fmt.image_key("wrist")] for ep in episodes for f in ep["frames"]]).astype(int)
    assert np.abs(r.images(fmt.image_key("wrist")).astype(int) - want).max() <= 4


def test_writer_is_atomic(tmp_path):
    root = tmp_path / "ds"
    features = {fmt.STATE_KEY: fmt.vector_feature(8), fmt.ACTION_KEY: fmt.vector_feature(7)}
    with pytest.raises(RuntimeError):
        with LeRobotWriter(root, 10, features) as w:
            w.add_frame({fmt.STATE_KEY: np.zeros(8), fmt.ACTION_KEY: np.zeros(7)})
            w.save_episode("t")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SFError, match="expected shape"):
        LeRobotWriter(root, 10, features).add_frame({fmt.STATE_KEY: np.zeros(3), fmt.ACTION_KEY: np.zeros(7)})


def _one_line_naming(err: SFError, name: str) -> None:
    msg = str(err)
    assert "\n" not in msg and name in msg, msg


@pytest.mark.parametrize("damage, name", [
    ("missing_info", "meta/info.json"),
    ("bad_json", "meta/info.json"),
    ("old_version", "meta/info.json"),
    ("missing_data", "data/chunk-000/file-000.parquet"),
    ("corrupt_data", "data/chunk-000/file-000.parquet"),
    ("frame_count", "data"),
    ("missing_tasks", "meta/tasks.parquet"),
    ("missing_episodes", "meta/episodes"),
])
def test_broken_datasets_raise_one_line_errors(tiny, damage, name):
    root, _ = tiny
    info_path = root / "meta/info.json"
    data_path = root / "data/chunk-000/file-000.parquet"
    info = json.loads(info_path.read_text())
    if damage == "missing_info":
        info_path.unlink()
    elif damage == "bad_json":
        info_path.write_text('{"codebase_version": "v3.0", "fps": ')
    elif damage == "old_version":
        info_path.write_text(json.dumps({**info, "codebase_version": "v2.1"}))
    elif damage == "missing_data":
        data_path.unlink()
    elif damage == "corrupt_data":
        data_path.write_bytes(data_path.read_bytes()[:200])
    elif damage == "frame_count":
        info_path.write_text(json.dumps({**info, "total_frames": info["total_frames"] + 1}))
    elif damage == "missing_tasks":
        (root / "meta/tasks.parquet").unlink()
    elif damage == "missing_episodes":
        shutil.rmtree(root / "meta/episodes")
    with pytest.raises(SFError) as err:
        LeRobotDatasetReader(root)
    _one_line_naming(err.value, str(root / name))


def test_array_features_round_trip_across_data_files(tmp_path, monkeypatch):
    monkeypatch.setattr(fmt, "DATA_FILE_SIZE_MB", 0)  # every episode starts a new data file
    rng = np.random.default_rng(1)
    features = {fmt.STATE_KEY: fmt.vector_feature(2), fmt.ACTION_KEY: fmt.vector_feature(2),
                "observation.depth.a": fmt.array_feature((4, 5)),
                "observation.segmentation.a": fmt.array_feature((4, 5), "uint8"),
                "observation.environment_state": fmt.vector_feature(2)}
    frames = [{fmt.STATE_KEY: rng.normal(size=2), fmt.ACTION_KEY: rng.normal(size=2),
               "observation.depth.a": rng.uniform(0.5, 4, (4, 5)).astype(np.float32),
               "observation.segmentation.a": rng.integers(0, 9, (4, 5), dtype=np.uint8),
               "observation.environment_state": np.array([np.nan, t], np.float32)} for t in range(9)]
    with LeRobotWriter(tmp_path / "ds", 10, features) as w:
        for lo, hi in [(0, 4), (4, 6), (6, 9)]:
            for f in frames[lo:hi]:
                w.add_frame(f)
            w.save_episode("t")
        root = w.finalize()
    assert len(list((root / "data").rglob("*.parquet"))) == 3
    r = LeRobotDatasetReader(root)
    assert r.array_keys == ["observation.depth.a", "observation.segmentation.a"]
    assert "observation.depth.a" not in r.columns  # read on demand only
    depth = r.array("observation.depth.a", 3, 7)  # spans three files
    assert depth.dtype == np.float32 and depth.shape == (4, 4, 5)
    np.testing.assert_array_equal(depth, np.stack([f["observation.depth.a"] for f in frames[3:7]]))
    seg = r[8]["observation.segmentation.a"]
    assert seg.dtype == np.uint8 and np.array_equal(seg, frames[8]["observation.segmentation.a"])
    schema = pq.read_schema(root / "data/chunk-000/file-000.parquet")
    assert schema.field("observation.depth.a").type == pa.list_(pa.list_(pa.float32(), 5), 4)
    stats = json.loads((root / "meta/stats.json").read_text())
    top = max(f["observation.depth.a"].max() for f in frames)
    assert stats["observation.depth.a"]["max"] == [pytest.approx(top)]
    assert stats["observation.environment_state"]["min"] == [0.0, 0.0]  # NaN ignored; all-NaN -> 0 (LeRobot-loadable)
    assert stats["observation.environment_state"]["std"][0] == 0.0
    with pytest.raises(SFError, match="no multi-dimensional numeric feature 'observation.state'"):
        r.array(fmt.STATE_KEY)
