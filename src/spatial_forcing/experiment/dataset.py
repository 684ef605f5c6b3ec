"""The experiment's dataset: an existing directory, or generated once into OUT/data (resumable)."""

from __future__ import annotations

import logging
from pathlib import Path

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def dataset_dir(plan: ExperimentPlan, out_dir: str | Path) -> Path:
    """Absolute path of the dataset every run trains on."""
    if "path" in plan.dataset:
        return Path(plan.dataset["path"]).resolve()
    return (Path(out_dir) / "data").resolve()


def dataset_ready(plan: ExperimentPlan, out_dir: str | Path) -> bool:
    return (dataset_dir(plan, out_dir) / fmt.INFO_PATH).is_file()


def ensure_dataset(plan: ExperimentPlan, out_dir: str | Path) -> Path:
    """Check the given dataset, or generate it (an interrupted generation continues from OUT/data.work)."""
    root = dataset_dir(plan, out_dir)
    if dataset_ready(plan, out_dir):
        return root
    if "path" in plan.dataset:
        raise SFError(f"dataset.path {plan.dataset['path']!r}: no LeRobot v3 dataset at {root} "
                      f"(missing {fmt.INFO_PATH})")
    if root.exists():
        raise SFError(f"{root} exists but is not a complete dataset (no {fmt.INFO_PATH}); delete it to "
                      f"generate it again")
    from spatial_forcing.data.generate import generate_dataset

    options = dict(plan.dataset["generate"])
    env = options.pop("env")
    log.info("generating the dataset into %s", root)
    result = generate_dataset(env, root, **options)
    log.info("dataset: %d episodes / %d frames in %.0f s", result.episodes, result.frames, result.seconds)
    return root
