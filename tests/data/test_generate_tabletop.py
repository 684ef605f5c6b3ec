"""Integration: 2 tabletop demos of one task at 64 px; replay-rendered frames equal live rendering."""

from __future__ import annotations

import numpy as np

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.data.generate import generate_dataset
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.sim.tabletop import semantics
from spatial_forcing.sim.tabletop.semantics import ENV_STATE_NAMES
from spatial_forcing.sim.tabletop.suite import TabletopSuite

ENV_KEY = "observation.environment_state"


def test_tabletop_generation(tmp_path):
    res = generate_dataset("tabletop", tmp_path / "tt", episodes_per_task=2, image_size=64, tasks=[0])
    r = LeRobotDatasetReader(res.root)
    suite = TabletopSuite()
    assert r.num_episodes == 2 and r.tasks == [suite.tasks[0].instruction]
    assert r.features[fmt.image_key("agentview")]["shape"] == [64, 64, 3]
    assert r.features[fmt.image_key("wrist")]["shape"] == [64, 64, 3]
    assert r.fps == 20 and res.frames == r.num_frames
    assert r.array_keys == []  # no geometry without record_geometry
    assert r.features["observation.environment_state"]["names"] == ENV_STATE_NAMES

    # Re-run episode 0 live with cameras: same seed, the dataset's actions -> same proprio and images.
    env = suite.make_env(0, image_size=64)
    obs, _ = env.reset(seed=res.seeds[0][0])
    lo, hi = r.episode_range(0)
    for g in range(lo, hi):
        frame = r[g]
        np.testing.assert_allclose(obs[fmt.STATE_KEY], frame[fmt.STATE_KEY], atol=1e-5)
        np.testing.assert_allclose(obs[ENV_KEY], frame[ENV_KEY], atol=1e-5)
        if g in (lo, (lo + hi) // 2, hi - 1):
            for cam in ("agentview", "wrist"):
                diff = np.abs(obs[fmt.image_key(cam)].astype(int) - frame[fmt.image_key(cam)].astype(int))
                assert diff.mean() < 0.5, (cam, g, diff.mean())
        obs, _, terminated, _, info = env.step(frame[fmt.ACTION_KEY])
    assert info["success"] and terminated  # the last stored action completes the task
    env.close()

    ds = ChunkDataset(res.root, chunk=8)
    s = ds[len(ds) - 1]
    assert s["images"].shape == (2, 3, 64, 64) and s["action_is_pad"].sum() == 7


def test_tabletop_generation_with_geometry(tmp_path):
    res = generate_dataset("tabletop", tmp_path / "geo", episodes_per_task=1, image_size=32, tasks=[0],
                           record_geometry=True)
    r = LeRobotDatasetReader(res.root)
    cams = ("agentview", "wrist")
    assert sorted(r.array_keys) == sorted(f"observation.{kind}.{c}" for c in cams
                                          for kind in ("depth", "segmentation", "intrinsics", "extrinsics"))
    n = r.num_frames
    for cam in cams:
        depth, seg = r.array(f"observation.depth.{cam}"), r.array(f"observation.segmentation.{cam}")
        assert depth.shape == (n, 32, 32) and depth.dtype == np.float32
        assert 0 < depth.min() < depth.max() < 4.1
        assert seg.shape == (n, 32, 32) and seg.dtype == np.uint8 and seg.max() < semantics.NUM_CLASSES
        assert r.array(f"observation.intrinsics.{cam}").shape == (n, 3, 3)
        assert r.array(f"observation.extrinsics.{cam}").shape == (n, 4, 4)
    agent_seg = r.array("observation.segmentation.agentview")
    assert (agent_seg[0] == semantics.RED_BLOCK).any() and (agent_seg[0] == semantics.PLATE).any()
    extr = r.array("observation.extrinsics.agentview")
    np.testing.assert_allclose(extr, np.broadcast_to(extr[0], extr.shape))  # a fixed camera
    wrist = r.array("observation.extrinsics.wrist")
    assert not np.allclose(wrist[0], wrist[-1])  # moves with the gripper

    # the stored geometry is what a live render of the first state gives
    env = TabletopSuite().make_env(0, image_size=32, render_depth=True)
    obs, _ = env.reset(seed=res.seeds[0][0])
    frame = r[0]
    for cam in cams:
        for kind in ("depth", "segmentation", "intrinsics", "extrinsics"):
            key = f"observation.{kind}.{cam}"
            np.testing.assert_allclose(frame[key], obs[key], atol=1e-5, err_msg=key)
    env.close()
    state = r.columns[ENV_KEY]
    assert state.shape == (n, 21) and not np.isnan(state[:, :12]).any()  # two blocks, cylinder, plate_a
    assert np.isnan(state[:, 12:]).all()  # plate_b, box_tall, box_short: absent in the blocks family


def test_dart_pushes_move_the_states_but_keep_the_expert_labels(tmp_path):
    clean = generate_dataset("tabletop", tmp_path / "clean", episodes_per_task=1, image_size=32, tasks=[0])
    pushed = generate_dataset("tabletop", tmp_path / "pushed", episodes_per_task=1, image_size=32, tasks=[0],
                              action_noise=0.5, noise_rate=0.2)
    a, b = LeRobotDatasetReader(clean.root), LeRobotDatasetReader(pushed.root)
    assert clean.seeds == pushed.seeds  # the same layout, only the execution differs
    sa, sb = a.columns[fmt.STATE_KEY], b.columns[fmt.STATE_KEY]
    n = min(len(sa), len(sb))
    assert np.abs(sa[:n, :3] - sb[:n, :3]).max() > 0.01  # pushed off the clean path by more than 1 cm
    # Labels are the expert's: per step no faster than its travel speed (0.75 units), never clipped pushes.
    assert np.abs(b.columns[fmt.ACTION_KEY][:, :3]).max() <= 0.75 + 1e-5
    assert pushed.successes[0] >= 1
