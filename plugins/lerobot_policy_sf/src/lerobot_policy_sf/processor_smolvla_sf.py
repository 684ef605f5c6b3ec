"""Processors of `smolvla_sf`: SmolVLA's own, unchanged (so a checkpoint's processors are stock ones)."""

from __future__ import annotations

from lerobot.policies.smolvla.processor_smolvla import make_smolvla_pre_post_processors

from lerobot_policy_sf.configuration_smolvla_sf import SmolVLASFConfig


def make_smolvla_sf_pre_post_processors(config: SmolVLASFConfig, dataset_stats=None):
    """SmolVLA's pre/post-processor pipelines (lerobot also finds them by isinstance: same result)."""
    return make_smolvla_pre_post_processors(config, dataset_stats=dataset_stats)
