"""The seeded start of a training run: data, student and (SF runs) teacher, always built in the same order.

A "random" teacher's weights come from the global RNG after the student's init consumed its share, so
anything that needs the exact teacher of a run (the experiment runner's teacher-cache warm-up) builds it here.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import torch

from spatial_forcing.data.chunk_dataset import ChunkDataset, select_episodes
from spatial_forcing.teachers.base import Teacher
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

log = logging.getLogger(__name__)


def build_run(cfg: TrainConfig) -> tuple[ChunkDataset, WordTokenizer, torch.nn.Module, Teacher | None]:
    """Seed everything, then build (dataset, tokenizer, student policy, teacher or None for the baseline)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)

    # Data: one frame per sample, with the next `chunk` actions.
    vla_cfg = preset(cfg.vla_preset, **cfg.vla)
    episodes = None
    if cfg.episode_fraction < 1:
        episodes = select_episodes(cfg.dataset, cfg.episode_fraction, seed=cfg.seed)
    data = ChunkDataset(cfg.dataset, chunk=vla_cfg.chunk, cameras=cfg.cameras, image_size=vla_cfg.image_size,
                        episodes=episodes)
    log.info("dataset %s: %d samples from %d episodes", cfg.dataset, len(data), len(data.episodes))

    # Student VLA, then the frozen teacher of the training-only Spatial Forcing branch.
    tokenizer = WordTokenizer.build(data.instructions)
    policy = build_policy(vla_cfg, tokenizer)
    teacher = None
    if cfg.align.enabled:
        kwargs = {"weights": cfg.teacher_weights} if cfg.teacher_weights else {}
        teacher = build_teacher(cfg.align.teacher, **kwargs)
    return data, tokenizer, policy, teacher
