"""Fixtures of the training tests: the seconds-fast run configuration, as a TrainConfig and as CLI flags."""

from __future__ import annotations

import pytest

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.train.config import TrainConfig

# A tiny SF run (mini3d teacher with random weights, 2-layer student): the same as test_train_loop's tiny_cfg.
TINY = dict(vla_preset="tiny", teacher_weights="random", steps=12, batch_size=8, warmup_steps=2, threads=1,
            log_every=2, save_every=4)


@pytest.fixture(scope="session")
def tiny_train_cfg():
    """`tiny_train_cfg(dataset, out, **overrides)` -> TrainConfig of a tiny SF run."""

    def make(dataset, out, **kw) -> TrainConfig:
        kw.setdefault("align", AlignConfig(enabled=True, teacher="mini3d", layers=[2]))
        return TrainConfig(**{**TINY, "dataset": str(dataset), "out": str(out), **kw})

    return make


@pytest.fixture(scope="session")
def tiny_train_args():
    """`tiny_train_args(dataset, out, *extra)` -> `sf train` arguments of the same run."""

    def make(dataset, out, *extra) -> list[str]:
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
        return ["train", "--dataset", str(dataset), "--out", str(out), "--align.layers", "2", *flags, *extra]

    return make
