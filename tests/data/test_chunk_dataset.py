"""ChunkDataset: sample contents, chunk padding at episode ends, resizing, episode subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lerobot_helpers import LENGTHS, TASKS

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.chunk_dataset import ChunkDataset, select_episodes
from spatial_forcing.utils.errors import SFError


def test_samples_and_padding(tiny):
    root, episodes = tiny
    ds = ChunkDataset(root, chunk=4)
    assert len(ds) == sum(LENGTHS)
    norm = ds.normalizer
    g = 0
    for e, ep in enumerate(episodes):
        acts = np.stack([f[fmt.ACTION_KEY] for f in ep["frames"]])
        n = len(acts)
        for t in range(n):
            s = ds[g]
            assert s["images"].shape == (2, 3, 12, 12) and s["images"].dtype == torch.float32
            np.testing.assert_allclose(s["images"][1].permute(1, 2, 0).numpy() * 255,
                                       ep["frames"][t][fmt.image_key("wrist")], atol=1e-3)
            idx = np.minimum(np.arange(t, t + 4), n - 1)
            want = norm.normalize(fmt.ACTION_KEY, acts[idx])
            np.testing.assert_allclose(s["actions"].numpy(), want, atol=1e-6)
            assert s["action_is_pad"].tolist() == [t + k >= n for k in range(4)]
            want_state = norm.normalize(fmt.STATE_KEY, ep["frames"][t][fmt.STATE_KEY])
            np.testing.assert_allclose(s["state"].numpy(), want_state, atol=1e-6)
            assert s["instruction"] == ep["task"] and int(s["task_index"]) == TASKS.index(ep["task"])
            assert (int(s["episode_index"]), int(s["frame_index"]), int(s["index"])) == (e, t, g)
            g += 1
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert batch["actions"].shape == (5, 4, 7) and batch["state"].shape == (5, 8)
    assert len(batch["instruction"]) == 5


def test_subset_resize_and_mean_std(tiny):
    root, episodes = tiny
    ds = ChunkDataset(root, chunk=3, cameras=("wrist",), image_size=6, normalization="mean_std",
                      episodes=[3, 1])
    assert len(ds) == LENGTHS[1] + LENGTHS[3]
    s = ds[LENGTHS[1] - 1]  # last frame of episode 1: all but the first step padded
    assert s["action_is_pad"].tolist() == [False, True, True]
    assert s["images"].shape == (1, 3, 6, 6)
    assert int(ds[LENGTHS[1]]["episode_index"]) == 3
    full = ChunkDataset(root, chunk=3, normalization="mean_std")
    assert full.normalizer.state_dict() == ds.normalizer.state_dict()  # subset keeps dataset-wide stats
    with pytest.raises(SFError, match="episodes"):
        ChunkDataset(root, episodes=[9])
    with pytest.raises(SFError, match="no camera"):
        ChunkDataset(root, cameras=("left",))


def test_select_episodes_is_deterministic_per_task(tiny):
    root, _ = tiny
    a = select_episodes(root, fraction=0.5, seed=1)
    assert a == select_episodes(root, fraction=0.5, seed=1)
    assert len(a) == 2 and {e % 2 for e in a} == {0, 1}  # one of each task (tasks alternate)
    assert select_episodes(root, per_task=5) == [0, 1, 2, 3]
