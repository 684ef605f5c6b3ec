"""VGGT aggregator in plain torch (state_dict-compatible with the official VGGT-1B checkpoint) and the
frozen VGGT teacher built on it."""

from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.teachers.vggt.config import PRESETS, AggregatorConfig, get_config

__all__ = ["Aggregator", "AggregatorConfig", "PRESETS", "get_config"]
