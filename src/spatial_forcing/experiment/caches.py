"""Teacher-feature caches built once, sequentially, before the runs that read them start.

Two runs starting together with the same teacher would otherwise both compute the same cache. Runs are grouped
by what their cache depends on; one run per group builds the exact teacher training will build
(`train.setup.build_run`) and opens the cache through `TargetProvider.for_dataset`, which computes any missing
chunks and the feature statistics. Runs then find the cache complete and only read it.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from spatial_forcing.experiment.runs import Run
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import preset

log = logging.getLogger(__name__)


def cache_group(cfg: TrainConfig) -> tuple | None:
    """What the run's teacher cache depends on; None when the run reads no cache (baseline, online targets).

    A "random" teacher's weights come from the run's seeded RNG after the student's init, so its group also
    holds the seed and everything that shapes the student."""
    if not cfg.align.enabled or cfg.targets != "cache":
        return None
    vla = preset(cfg.vla_preset, **cfg.vla)
    key: tuple = (cfg.dataset, cfg.align.teacher, cfg.align.teacher_layer, cfg.teacher_weights,
                  vla.image_size, tuple(cfg.cameras))
    if cfg.teacher_weights == "random":
        key += (cfg.seed, cfg.vla_preset, json.dumps(cfg.vla, sort_keys=True), cfg.episode_fraction)
    return key


def needs_cache(run: Run) -> bool:
    """Does training this run read a teacher cache (that may not exist yet)?"""
    return not run.trained and cache_group(build_config(TrainConfig, run.train)) is not None


def cache_plan(runs: list[Run]) -> dict[tuple, tuple[str, TrainConfig]]:
    """(run name, TrainConfig) of the first run needing each distinct cache, in run order."""
    groups: dict[tuple, tuple[str, TrainConfig]] = {}
    for run in runs:
        cfg = build_config(TrainConfig, run.train)
        key = cache_group(cfg)
        if key is not None and key not in groups:
            groups[key] = (run.name, cfg)
    return groups


def warm_caches(runs: list[Run], threads: int) -> int:
    """Build (or finish) every teacher cache the runs need, one after the other; returns how many."""
    from spatial_forcing.train.setup import build_run
    from spatial_forcing.train.targets import TargetProvider

    groups = cache_plan(runs)
    for i, (name, cfg) in enumerate(groups.values(), 1):
        log.info("teacher cache %d/%d (for %s): %s layer %d, weights %s", i, len(groups), name,
                 cfg.align.teacher, cfg.align.teacher_layer, cfg.teacher_weights or "default")
        data, _, _, teacher = build_run(dataclasses.replace(cfg, threads=threads))
        try:
            TargetProvider.for_dataset(teacher, cfg.align.teacher_layer, cfg.targets, data)
        except ValueError as err:
            raise SFError(f"teacher cache of run {name}: {str(err).splitlines()[0]}") from None
    return len(groups)
