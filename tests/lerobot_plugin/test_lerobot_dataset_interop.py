"""Dataset interop both ways: `sf generate` datasets load in lerobot's LeRobotDataset (with delta_timestamps),
and datasets written by lerobot load in our reader. Image features (video decoding needs FFmpeg, absent here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("lerobot", reason="lerobot: bash scripts/setup.sh lerobot (or dev)")

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

from spatial_forcing.data.reader import LeRobotDatasetReader  # noqa: E402


def test_sf_generate_dataset_loads_in_lerobot(tabletop_dataset):
    ours = LeRobotDatasetReader(tabletop_dataset)
    fps = ours.fps
    ds = LeRobotDataset("local/tabletop", root=tabletop_dataset,
                        delta_timestamps={"action": [i / fps for i in range(8)]})
    assert (ds.num_frames, ds.num_episodes, ds.fps) == (ours.num_frames, ours.num_episodes, fps)
    last = ours.episode_range(0)[1] - 1  # the last frame of episode 0: the chunk runs past its end
    item = ds[last]
    assert item["action"].shape == (8, 7) and item["action_is_pad"].tolist() == [False] + [True] * 7
    frame = ours.frame(last)
    np.testing.assert_allclose(item["action"][0].numpy(), frame["action"])
    np.testing.assert_allclose(item["observation.state"].numpy(), frame["observation.state"])
    for key in ours.camera_keys:
        assert item[key].shape == (3, 64, 64) and item[key].dtype == torch.float32
        np.testing.assert_allclose(item[key].permute(1, 2, 0).numpy(), frame[key] / 255.0, atol=1e-6)
    assert item["task"] == ours.tasks[int(frame["task_index"])]
    assert set(ds.meta.stats) >= {"observation.state", "action", *ours.camera_keys}


def test_lerobot_written_dataset_loads_in_our_reader(tmp_path):
    rng = np.random.default_rng(0)
    features = {"observation.images.top": {"dtype": "image", "shape": (24, 32, 3),
                                           "names": ["height", "width", "channels"]},
                "observation.state": {"dtype": "float32", "shape": (4,), "names": None},
                "action": {"dtype": "float32", "shape": (3,), "names": None}}
    ds = LeRobotDataset.create("local/written", fps=10, features=features, root=tmp_path / "d", use_videos=False)
    frames = []
    for episode, task in enumerate(["push the cube", "lift the cube"]):
        for _ in range(5 + episode):
            frame = {"observation.images.top": rng.integers(0, 256, (24, 32, 3), dtype=np.uint8),
                     "observation.state": rng.standard_normal(4).astype(np.float32),
                     "action": rng.standard_normal(3).astype(np.float32)}
            frames.append((frame, task))
            ds.add_frame({**frame, "task": task})
        ds.save_episode()
    ds.finalize()

    ours = LeRobotDatasetReader(tmp_path / "d")
    assert (ours.num_frames, ours.num_episodes, ours.fps) == (11, 2, 10)
    assert ours.tasks == ["push the cube", "lift the cube"] and ours.episode_range(1) == (5, 11)
    for i, (frame, task) in enumerate(frames):
        got = ours.frame(i)
        np.testing.assert_array_equal(got["observation.images.top"], frame["observation.images.top"])
        np.testing.assert_array_equal(got["observation.state"], frame["observation.state"])
        np.testing.assert_array_equal(got["action"], frame["action"])
        assert ours.tasks[int(got["task_index"])] == task
