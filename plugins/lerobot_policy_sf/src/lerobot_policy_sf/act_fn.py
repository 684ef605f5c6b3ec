"""A LeRobot checkpoint as our evaluation's action function (`sf eval tabletop --policy <LeRobot
checkpoint>`).

Env observations are mapped to the policy's input features by key (our envs use LeRobot's names:
observation.images.<camera>, observation.state), images resized to the feature's shape; the checkpoint's own
pre-processor (normalisation, tokenisation) and post-processor (unnormalisation) are applied. Each call
returns the first `n_action_steps` actions of the predicted chunk, which our rollout executes open-loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType
from lerobot.policies.factory import get_policy_class, make_pre_post_processors


class LeRobotActFn:
    """act(observations, instructions) -> [B, n_action_steps, action_dim] actions in the env's units."""

    def __init__(self, policy_dir: str | Path, device: str = "cpu"):
        path = Path(policy_dir)
        if (path / "pretrained_model").is_dir():
            path = path / "pretrained_model"
        self.config = PreTrainedConfig.from_pretrained(path)
        self.config.device = device
        self.policy = get_policy_class(self.config.type).from_pretrained(path, config=self.config).eval()
        overrides = {"device_processor": {"device": device}}
        self.pre, self.post = make_pre_post_processors(self.config, pretrained_path=str(path),
                                                       preprocessor_overrides=overrides)
        self.device = device

    def batch(self, observations: Sequence[dict], instructions: Sequence[str]) -> dict:
        """Raw env observations -> the policy's input features (before its pre-processor)."""
        batch: dict = {"task": list(instructions)}
        for key, feature in self.config.input_features.items():
            missing = [i for i, o in enumerate(observations) if key not in o]
            if missing:
                raise KeyError(f"policy input {key!r} is not in the env observation "
                               f"(keys: {sorted(observations[0])})")
            values = np.stack([o[key] for o in observations])
            if feature.type is FeatureType.VISUAL:
                img = torch.from_numpy(values).permute(0, 3, 1, 2).float() / 255.0
                if tuple(img.shape[-2:]) != tuple(feature.shape[-2:]):
                    img = F.interpolate(img, size=tuple(feature.shape[-2:]), mode="bilinear",
                                        align_corners=False, antialias=True)
                batch[key] = img
            else:
                batch[key] = torch.from_numpy(values).float()
        return batch

    @torch.no_grad()
    def __call__(self, observations: Sequence[dict], instructions: Sequence[str]) -> np.ndarray:
        self.policy.reset()
        chunk = self.policy.predict_action_chunk(self.pre(self.batch(observations, instructions)))
        actions = self.post(chunk)
        steps = getattr(self.config, "n_action_steps", actions.shape[1])
        return actions[:, :steps].cpu().numpy()
