"""A trained student loaded for inference: raw observations in, executable (unnormalised) actions out.

Only the student is loaded: the SF projector and the teacher are not part of an exported policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from spatial_forcing.data.augment import center_boxes, crop_images
from spatial_forcing.data.images import model_images
from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.vla.export import read_policy

STATE_KEY, ACTION_KEY = "observation.state", "action"


class LoadedPolicy:
    """A student with its normaliser and camera order; `LoadedPolicy.load(dir)` reads an exported policy."""

    def __init__(self, model: torch.nn.Module, normalizer: Normalizer, cameras: Sequence[str],
                 device: str = "cpu", crop_scale: float = 1.0):
        self.model = model.to(device).eval()
        self.config = model.config
        self.normalizer = normalizer
        self.cameras = list(cameras)
        self.device = device
        self.crop_scale = crop_scale  # trained with random crops of this area: centre-crop it (OpenVLA)

    @classmethod
    def load(cls, policy_dir: str | Path, device: str = "cpu") -> "LoadedPolicy":
        """Read run_dir/policy (format: vla.export)."""
        exported = read_policy(policy_dir)
        info = exported.info
        return cls(exported.model, exported.normalizer, info.get("cameras", ["agentview", "wrist"]), device,
                   crop_scale=float(info.get("crop_scale", 1.0)))

    @property
    def chunk(self) -> int:
        return self.config.chunk

    def batch_from_obs(self, observations: Sequence[dict], instructions: Sequence[str]) -> dict:
        """Env observations (uint8 images HxWx3, raw 8-d state) -> a model batch."""
        images = np.stack([np.stack([o[f"observation.images.{c}"] for c in self.cameras]) for o in observations])
        size = self.config.image_size
        # the pixels training saw: the same uint8 resize as the dataset cache (data.images)
        images_t = model_images(torch.from_numpy(images).permute(0, 1, 4, 2, 3), (size, size))
        if self.crop_scale < 1.0:
            images_t = crop_images(images_t, center_boxes(images_t.shape[0], images_t.shape[1], self.crop_scale))
        state = torch.from_numpy(np.stack([o[STATE_KEY] for o in observations])).float()
        return {"images": images_t.to(self.device),
                "state": self.normalizer.normalize(STATE_KEY, state).to(self.device),
                "instruction": list(instructions)}

    @torch.no_grad()
    def act(self, observations: Sequence[dict], instructions: Sequence[str]) -> np.ndarray:
        """[B, chunk, action_dim] actions in the env's units."""
        pred = self.model.predict_action(self.batch_from_obs(observations, instructions))
        return self.normalizer.unnormalize(ACTION_KEY, pred.cpu()).numpy()
