"""The experiment's datasets: the training episodes and, if the plan has `val_dataset`, held-out episodes for
the runs' held-out action loss; each an existing directory or generated once into OUT (resumable)."""

from __future__ import annotations

import logging
from pathlib import Path

from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

GENERATED_DIRS = {"dataset": "data", "val_dataset": "val_data"}  # plan section -> OUT/<dir> when generated


def dataset_dir(plan: ExperimentPlan, out_dir: str | Path, section: str = "dataset") -> Path:
    """Absolute path of the dataset of a plan section (`dataset`, or `val_dataset` when the plan has one)."""
    spec = getattr(plan, section)
    if "path" in spec:
        return Path(spec["path"]).resolve()
    return (Path(out_dir) / GENERATED_DIRS[section]).resolve()


def dataset_sections(plan: ExperimentPlan) -> list[str]:
    """The dataset sections the plan has: always `dataset`, and `val_dataset` when given."""
    return [section for section in GENERATED_DIRS if getattr(plan, section)]


def val_dataset_dir(plan: ExperimentPlan, out_dir: str | Path) -> Path | str:
    """The held-out dataset of every run, or "" when the plan has none."""
    return dataset_dir(plan, out_dir, "val_dataset") if plan.val_dataset else ""


def dataset_ready(plan: ExperimentPlan, out_dir: str | Path, section: str = "dataset") -> bool:
    return (dataset_dir(plan, out_dir, section) / fmt.INFO_PATH).is_file()


def ensure_dataset(plan: ExperimentPlan, out_dir: str | Path, section: str = "dataset") -> Path:
    """Check the given dataset, or generate it (an interrupted generation continues from OUT/<dir>.work)."""
    root = dataset_dir(plan, out_dir, section)
    spec = getattr(plan, section)
    if dataset_ready(plan, out_dir, section):
        return root
    if "path" in spec:
        raise SFError(f"{section}.path {spec['path']!r}: no LeRobot v3 dataset at {root} "
                      f"(missing {fmt.INFO_PATH})")
    if root.exists():
        raise SFError(f"{root} exists but is not a complete dataset (no {fmt.INFO_PATH}); delete it to "
                      f"generate it again")
    from spatial_forcing.data.generate import generate_dataset

    options = dict(spec["generate"])
    env = options.pop("env")
    log.info("generating the %s into %s", section, root)
    result = generate_dataset(env, root, **options)
    log.info("%s: %d episodes / %d frames in %.0f s", section, result.episodes, result.frames, result.seconds)
    return root
