"""ExperimentPlan: one JSON file describing a paired experiment, strictly validated with one-line errors.

    {"name": "sf-vs-baseline",
     "dataset": {"generate": {"env": "tabletop", "tasks": [0, 1, 2, 3], "episodes_per_task": 30,
                              "image_size": 64}},
     "train": {"vla_preset": "demo", "steps": 1500, "eval_every": 250, "eval_init_states": [25, 26, 27]},
     "variants": {"baseline": {"align": {"enabled": false}}, "sf": {}},
     "seeds": [0, 1, 2],
     "eval": {"tasks": [0, 1, 2, 3], "init_states": [0, 1, 2, 3, 4], "image_size": 64}}

A run's TrainConfig is `train` deep-merged with its variant's overrides, plus the fields the runner sets per
run (`RUN_FIELDS`). The first variant is the reference of the paired differences.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.field_types import check_fields, check_value
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.merge import deep_merge

# TrainConfig fields the runner sets for every run, so a plan may not: where they come from instead.
RUN_FIELDS = {"dataset": "the plan's dataset section", "out": "OUT/runs/<variant>/seed<k>",
              "seed": "the plan's seeds", "threads": "sf experiment --jobs"}
# Options of data.generate.generate_dataset a plan may give (env = its suite_name), with their JSON types.
GENERATE_FIELDS: dict[str, Any] = {
    "env": str, "episodes_per_task": int, "image_size": int, "init_states": str | list[int] | None,
    "workers": int, "seed": int, "tasks": list[int] | None, "max_attempts": int | None,
    "record_geometry": bool, "action_noise": float, "noise_rate": float,
}
VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a variant name is a directory name


@dataclass
class ExperimentPlan:
    name: str  # experiment name (titles of summary.md and summary.png)
    dataset: dict[str, Any]  # {"path": D} (relative to the working dir) or {"generate": {...}} into OUT/data
    train: dict[str, Any]  # TrainConfig fields shared by every run (nested objects for align and vla)
    variants: dict[str, dict[str, Any]]  # name -> TrainConfig overrides merged over train; first = reference
    seeds: list[int]  # run seeds (TrainConfig.seed); variants are compared paired by seed
    eval: dict[str, Any]  # EvalConfig fields of the final evaluation of every run's exported policy

    @property
    def reference(self) -> str:
        """The variant every other one is compared with (the first listed)."""
        return next(iter(self.variants))

    def run_values(self, variant: str, seed: int, dataset: str | Path, out: str | Path) -> dict[str, Any]:
        """TrainConfig fields of one run: train + the variant's overrides + dataset, out and seed."""
        return {**deep_merge(self.train, self.variants[variant]), "dataset": str(dataset), "out": str(out),
                "seed": int(seed)}

    def eval_config(self) -> EvalConfig:
        return build_config(EvalConfig, self.eval)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "plan") -> "ExperimentPlan":
        """Validate parsed JSON; `where` (the file) starts every error message."""
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(data, dict):
            raise SFError(f"{where}: expected a JSON object with keys {names}, got {type(data).__name__}")
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise SFError(f"{where}: unknown key(s) {unknown}, missing key(s) {missing}; expected exactly "
                          f"{names}")
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise SFError(f"{where}: name: expected a non-empty string, got {data['name']!r}")
        _check_dataset(data["dataset"], where)
        _check_overrides(data["train"], f"{where}: train")
        _check_variants(data["variants"], where)
        _check_seeds(data["seeds"], where)
        check_fields(EvalConfig, data["eval"], f"{where}: eval")
        plan = cls(**data)
        for variant in plan.variants:
            _check_run_config(plan, variant, where)
        _check_eval(plan, where)
        return plan


def load_plan(path: str | Path) -> ExperimentPlan:
    """Read and validate a plan file."""
    return ExperimentPlan.from_dict(read_json(path), where=str(path))


def _check_dataset(section: Any, where: str) -> None:
    if not isinstance(section, dict) or len(section) != 1 or next(iter(section)) not in ("path", "generate"):
        raise SFError(f"{where}: dataset: expected {{\"path\": DIR}} or {{\"generate\": {{options}}}}, "
                      f"got {section!r}"[:300])
    if "path" in section:
        if not isinstance(section["path"], str) or not section["path"]:
            raise SFError(f"{where}: dataset.path: expected a dataset directory, got {section['path']!r}")
        return
    options = section["generate"]
    if not isinstance(options, dict):
        raise SFError(f"{where}: dataset.generate: expected a JSON object of generate options, "
                      f"got {options!r}")
    for key, value in options.items():
        if key not in GENERATE_FIELDS:
            raise SFError(f"{where}: dataset.generate.{key}: unknown option; expected one of "
                          f"{list(GENERATE_FIELDS)}")
        check_value(GENERATE_FIELDS[key], value, f"{where}: dataset.generate.{key}")
    for key in ("env", "episodes_per_task"):
        if key not in options:
            raise SFError(f"{where}: dataset.generate: missing {key!r} (required)")
    from spatial_forcing.sim.registry import SUITES

    if options["env"] not in SUITES and ":" not in options["env"]:
        raise SFError(f"{where}: dataset.generate.env {options['env']!r}: expected one of {sorted(SUITES)} "
                      f"or package.module:factory")


def _check_overrides(values: Any, where: str) -> None:
    check_fields(TrainConfig, values, where)
    for key in RUN_FIELDS:
        if key in values:
            raise SFError(f"{where}.{key}: set by the experiment for each run (from {RUN_FIELDS[key]}); "
                          f"remove it")


def _check_variants(variants: Any, where: str) -> None:
    if not isinstance(variants, dict) or not variants:
        raise SFError(f"{where}: variants: expected a non-empty JSON object of name -> TrainConfig overrides")
    for name, overrides in variants.items():
        if not VARIANT_NAME.match(name):
            raise SFError(f"{where}: variants: name {name!r} must be letters, digits, '_', '.' or '-' "
                          f"(it names a directory)")
        _check_overrides(overrides, f"{where}: variants.{name}")


def _check_seeds(seeds: Any, where: str) -> None:
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SFError(f"{where}: seeds: expected a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SFError(f"{where}: seeds: {seeds} lists a seed twice")


def _check_run_config(plan: ExperimentPlan, variant: str, where: str) -> None:
    """Build the variant's TrainConfig, student preset and layer choice: value errors now, not mid-run."""
    from spatial_forcing.teachers.registry import TEACHERS
    from spatial_forcing.vla.config import SmallVLAConfig, preset

    what = f"{where}: variant {variant!r} (train + its overrides)"
    values = plan.run_values(variant, 0, "", "")
    try:
        cfg = build_config(TrainConfig, values)
        check_fields(SmallVLAConfig, cfg.vla, f"{what}: vla")
        vla = preset(cfg.vla_preset, **cfg.vla)
        if cfg.align.enabled:
            if cfg.align.teacher not in TEACHERS:
                raise SFError(f"align.teacher {cfg.align.teacher!r}: expected one of {sorted(TEACHERS)}")
            cfg.align.resolve_layers(vla.llm_layers)
    except (ValueError, SFError) as err:
        message = str(err).splitlines()[0]
        raise SFError(message if message.startswith(what) else f"{what}: {message}") from None


def _check_eval(plan: ExperimentPlan, where: str) -> None:
    """The final evaluation's suite, task ids and initial states exist."""
    from spatial_forcing.sim.registry import get_suite

    try:
        cfg = plan.eval_config()
        suite = get_suite(cfg.env)
    except (ValueError, SFError) as err:
        raise SFError(f"{where}: eval: {str(err).splitlines()[0]}") from None
    for task in cfg.tasks or range(len(suite.tasks)):
        if not 0 <= task < len(suite.tasks):
            raise SFError(f"{where}: eval.tasks: task {task} out of range for {cfg.env} "
                          f"(0..{len(suite.tasks) - 1})")
        bad = [i for i in cfg.init_states if not 0 <= i < suite.num_init_states(task)]
        if bad:
            raise SFError(f"{where}: eval.init_states: {bad} out of range for task {task} "
                          f"(0..{suite.num_init_states(task) - 1})")
