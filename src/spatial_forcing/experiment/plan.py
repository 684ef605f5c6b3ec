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

Three optional keys:
- `"val_dataset": {"generate": {...}}` (or {"path": D}): held-out episodes (another generation seed) for the
  runs' `val/action_loss` every `train.val_every` steps; generated once into OUT/val_data.
- `"fractions": [0.05, 0.1, 0.25, 1.0]`: a data-efficiency grid. Every variant runs at every fraction
  (TrainConfig.episode_fraction); the runs' cells are named `<variant>_frac<f>` (OUT/runs/sf_frac0.05/seed0).
- `"claims": {"success": ["baseline", "sf"], ...}`: which claims of the paper (`experiment.claims`) the plan
  answers, with the variants compared for each, the claim's reference first (read by `sf report`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatial_forcing.eval.rollout import EvalConfig
from spatial_forcing.experiment.claims import CLAIMS
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.field_types import check_fields, check_value
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.merge import deep_merge

# TrainConfig fields the runner sets for every run, so a plan may not: where they come from instead.
RUN_FIELDS = {"dataset": "the plan's dataset section", "val_dataset": "the plan's val_dataset section",
              "out": "OUT/runs/<variant>/seed<k>",
              "seed": "the plan's seeds", "threads": "sf experiment --jobs"}
# Options of data.generate.generate_dataset a plan may give (env = its suite_name), with their JSON types.
GENERATE_FIELDS: dict[str, Any] = {
    "env": str, "episodes_per_task": int, "image_size": int, "init_states": str | list[int] | None,
    "workers": int, "seed": int, "tasks": list[int] | None, "max_attempts": int | None,
    "record_geometry": bool, "action_noise": float, "noise_rate": float,
}
OPTIONAL_KEYS = ("fractions", "claims", "val_dataset")  # plan keys that may be left out
VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a variant name is a directory name


@dataclass
class ExperimentPlan:
    name: str  # experiment name (titles of summary.md and summary.png)
    dataset: dict[str, Any]  # {"path": D} (relative to the working dir) or {"generate": {...}} into OUT/data
    train: dict[str, Any]  # TrainConfig fields shared by every run (nested objects for align and vla)
    variants: dict[str, dict[str, Any]]  # name -> TrainConfig overrides merged over train; first = reference
    seeds: list[int]  # run seeds (TrainConfig.seed); variants are compared paired by seed
    eval: dict[str, Any]  # EvalConfig fields of the final evaluation of every run's exported policy
    fractions: list[float] = field(default_factory=list)  # episode fractions of a data grid; [] = no grid
    claims: dict[str, list[str]] = field(default_factory=dict)  # claim id -> variants compared (reference first)
    val_dataset: dict[str, Any] = field(default_factory=dict)  # held-out episodes like `dataset`; {} = none

    @property
    def cells(self) -> dict[str, dict[str, Any]]:
        """What is run once per seed, name -> TrainConfig overrides: the variants, or without fractions, or
        every (variant, fraction) as `<variant>_frac<f>` (variant-major)."""
        if not self.fractions:
            return self.variants
        return {cell_name(v, f): deep_merge(o, {"episode_fraction": f})
                for v, o in self.variants.items() for f in self.fractions}

    def cells_of(self, variant: str) -> dict[float, str]:
        """Episode fraction -> cell name of one variant (fraction 1.0 or the plan's own without a grid)."""
        if not self.fractions:
            return {float(deep_merge(self.train, self.variants[variant]).get("episode_fraction", 1.0)): variant}
        return {f: cell_name(variant, f) for f in self.fractions}

    @property
    def reference(self) -> str:
        """The cell every other one is compared with (the first listed)."""
        return next(iter(self.cells))

    def run_values(self, cell: str, seed: int, dataset: str | Path, out: str | Path,
                   val_dataset: str | Path = "") -> dict[str, Any]:
        """TrainConfig fields of one run: train + the cell's overrides + dataset, out and seed (+ the held-out
        dataset when the plan has one)."""
        values = {**deep_merge(self.train, self.cells[cell]), "dataset": str(dataset), "out": str(out),
                  "seed": int(seed)}
        if self.val_dataset:
            if not val_dataset:
                raise SFError("the plan has a val_dataset: pass its location (experiment_runs resolves it)")
            values["val_dataset"] = str(val_dataset)
        return values

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
        missing = [n for n in names if n not in data and n not in OPTIONAL_KEYS]
        if unknown or missing:
            raise SFError(f"{where}: unknown key(s) {unknown}, missing key(s) {missing}; expected "
                          f"{[n for n in names if n not in OPTIONAL_KEYS]} and optionally {list(OPTIONAL_KEYS)}")
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise SFError(f"{where}: name: expected a non-empty string, got {data['name']!r}")
        _check_dataset(data["dataset"], where)
        _check_val_dataset(data, where)
        _check_overrides(data["train"], f"{where}: train")
        _check_variants(data["variants"], where)
        _check_seeds(data["seeds"], where)
        check_fields(EvalConfig, data["eval"], f"{where}: eval")
        _check_fractions(data, where)
        _check_claims(data, where)
        plan = cls(**data)
        for cell in plan.cells:
            _check_run_config(plan, cell, where)
        _check_eval(plan, where)
        return plan


def cell_name(variant: str, fraction: float) -> str:
    """The run cell of `variant` trained on `fraction` of the episodes, e.g. sf_frac0.05."""
    return f"{variant}_frac{fraction:g}"


def load_plan(path: str | Path) -> ExperimentPlan:
    """Read and validate a plan file."""
    return ExperimentPlan.from_dict(read_json(path), where=str(path))


def _check_dataset(section: Any, where: str, name: str = "dataset") -> None:
    if not isinstance(section, dict) or len(section) != 1 or next(iter(section)) not in ("path", "generate"):
        raise SFError(f"{where}: {name}: expected {{\"path\": DIR}} or {{\"generate\": {{options}}}}, "
                      f"got {section!r}"[:300])
    if "path" in section:
        if not isinstance(section["path"], str) or not section["path"]:
            raise SFError(f"{where}: {name}.path: expected a dataset directory, got {section['path']!r}")
        return
    options = section["generate"]
    if not isinstance(options, dict):
        raise SFError(f"{where}: {name}.generate: expected a JSON object of generate options, "
                      f"got {options!r}")
    for key, value in options.items():
        if key not in GENERATE_FIELDS:
            raise SFError(f"{where}: {name}.generate.{key}: unknown option; expected one of "
                          f"{list(GENERATE_FIELDS)}")
        check_value(GENERATE_FIELDS[key], value, f"{where}: {name}.generate.{key}")
    for key in ("env", "episodes_per_task"):
        if key not in options:
            raise SFError(f"{where}: {name}.generate: missing {key!r} (required)")
    from spatial_forcing.sim.registry import SUITES

    if options["env"] not in SUITES and ":" not in options["env"]:
        raise SFError(f"{where}: {name}.generate.env {options['env']!r}: expected one of {sorted(SUITES)} "
                      f"or package.module:factory")


def _check_val_dataset(data: dict, where: str) -> None:
    """Held-out episodes: absent or {} (none), else a dataset section other than the training one, with
    `train.val_every` (the runs' validation interval) set; and `train.val_every` only with them."""
    section = data.get("val_dataset", {})
    every = data["train"].get("val_every", 0) if isinstance(data["train"], dict) else 0
    if section == {}:
        if every:
            raise SFError(f"{where}: train.val_every: needs the plan's val_dataset key (held-out episodes)")
        return
    _check_dataset(section, where, "val_dataset")
    if section == data["dataset"]:
        raise SFError(f"{where}: val_dataset: the same as dataset; expected other episodes (e.g. another seed)")
    if not every:
        raise SFError(f"{where}: val_dataset: needs train.val_every > 0 (steps between held-out losses)")


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


def _check_fractions(data: dict, where: str) -> None:
    fractions = data.get("fractions", [])
    if not isinstance(fractions, list) or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in fractions):
        raise SFError(f"{where}: fractions: expected a list of episode fractions in (0, 1], got {fractions!r}")
    if len(set(fractions)) != len(fractions):
        raise SFError(f"{where}: fractions: {fractions} lists a fraction twice")
    if not fractions:
        return
    for section, values in [("train", data["train"]), *((f"variants.{n}", o) for n, o in data["variants"].items())]:
        if "episode_fraction" in values:
            raise SFError(f"{where}: {section}.episode_fraction: set by the plan's fractions; remove it")
    data["fractions"] = [float(f) for f in fractions]


def _check_claims(data: dict, where: str) -> None:
    claims = data.get("claims", {})
    if not isinstance(claims, dict):
        raise SFError(f"{where}: claims: expected a JSON object of claim -> [reference variant, variant, ...], "
                      f"got {claims!r}")
    for claim, variants in claims.items():
        if claim not in CLAIMS:
            raise SFError(f"{where}: claims.{claim}: unknown claim; expected one of {list(CLAIMS)}")
        if (not isinstance(variants, list) or len(variants) < 2
                or not all(isinstance(v, str) for v in variants) or len(set(variants)) != len(variants)):
            raise SFError(f"{where}: claims.{claim}: expected a list of >= 2 distinct variant names, reference "
                          f"first, got {variants!r}")
        unknown = [v for v in variants if v not in data["variants"]]
        if unknown:
            raise SFError(f"{where}: claims.{claim}: no variant(s) {unknown} in the plan; expected some of "
                          f"{list(data['variants'])}")
        if CLAIMS[claim].measure == "fractions" and len(data.get("fractions", [])) < 2:
            raise SFError(f"{where}: claims.{claim}: needs a data grid: \"fractions\" with >= 2 values")
        if CLAIMS[claim].measure == "probe":
            raise SFError(f"{where}: claims.{claim}: answered by `sf probe` results, not by a plan")


def _check_seeds(seeds: Any, where: str) -> None:
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SFError(f"{where}: seeds: expected a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SFError(f"{where}: seeds: {seeds} lists a seed twice")


def _check_run_config(plan: ExperimentPlan, cell: str, where: str) -> None:
    """Build the cell's TrainConfig, student preset and layer choice: value errors now, not mid-run."""
    from spatial_forcing.teachers.registry import TEACHERS
    from spatial_forcing.vla.config import SmallVLAConfig, preset

    what = f"{where}: variant {cell!r} (train + its overrides)"
    values = plan.run_values(cell, 0, "", "", "held-out data")
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
