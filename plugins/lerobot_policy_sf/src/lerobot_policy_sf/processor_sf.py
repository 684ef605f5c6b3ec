"""Processors of `sf`: the wrapped policy's own (stock steps only, so an export needs no SF code)."""

from __future__ import annotations

from lerobot.policies.factory import make_pre_post_processors

from lerobot_policy_sf.configuration_sf import SFConfig


def make_sf_pre_post_processors(config: SFConfig, dataset_stats=None):
    """The wrapped policy type's pre/post-processor pipelines, built from its config."""
    return make_pre_post_processors(config.base_config, dataset_stats=dataset_stats)
