"""Training and evaluation turn a camera frame into the same model input, pixel for pixel."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.eval.policy import LoadedPolicy


class _Stub(torch.nn.Module):
    """Just what LoadedPolicy.batch_from_obs reads of a student: its config's image_size."""

    def __init__(self, image_size: int):
        super().__init__()
        self.config = SimpleNamespace(image_size=image_size)


def test_dataset_and_policy_resize_a_frame_identically(tiny):
    root, episodes = tiny
    cameras = ("agentview", "wrist")
    for size in (7, 12, 17):  # shrink (antialiased), keep, enlarge
        ds = ChunkDataset(root, chunk=2, cameras=cameras, image_size=size)
        policy = LoadedPolicy(_Stub(size), ds.normalizer, cameras)
        frames = [f for ep in episodes for f in ep["frames"]][:6]
        obs = [{**f, fmt.STATE_KEY: np.asarray(f[fmt.STATE_KEY])} for f in frames]
        got = policy.batch_from_obs(obs, ["x"] * len(obs))["images"]
        want = torch.stack([ds[i]["images"] for i in range(len(obs))])
        assert got.shape == want.shape == (6, 2, 3, size, size)
        assert torch.equal(got, want)  # not close: equal
