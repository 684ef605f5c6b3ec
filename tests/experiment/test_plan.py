"""ExperimentPlan validation, the deep merge of variants over the common train section, and which plan changes
an existing experiment directory accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatial_forcing.cli.eval import libero_eval_values
from spatial_forcing.experiment.compat import first_difference, plan_change
from spatial_forcing.experiment.plan import GENERATE_FIELDS, ExperimentPlan, load_plan
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.merge import deep_merge

PLANS = Path(__file__).parents[2] / "configs" / "experiments"  # the plans that ship


def test_valid_plan_resolves_variants_over_the_common_train_section(plan_dict):
    plan = ExperimentPlan.from_dict(plan_dict)
    assert plan.reference == "baseline"
    values = plan.run_values("sf", 2, "/d", "/o")
    assert values["align"] == {"teacher": "mini3d", "alpha": 0.25}  # nested merge keeps the common teacher
    assert (values["seed"], values["dataset"], values["out"], values["targets"]) == (2, "/d", "/o", "online")
    cfg = build_config(TrainConfig, values)
    assert cfg.align.enabled and cfg.align.alpha == 0.25 and cfg.steps == 6
    assert not build_config(TrainConfig, plan.run_values("baseline", 0, "/d", "/o")).align.enabled
    assert plan.eval_config().init_states == [0] and plan.eval_config().env == "tabletop"


def test_shipped_tiny_plan_is_valid():
    plan = load_plan(PLANS / "tiny.json")
    assert list(plan.variants) == ["baseline", "sf"] and plan.seeds == [0, 1]


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.pop("eval"), r"missing key\(s\) \['eval'\]"),
    (lambda p: p.update(extra=1), r"unknown key\(s\) \['extra'\]"),
    (lambda p: p.update(name=""), "name: expected a non-empty string"),
    (lambda p: p.update(dataset={"path": "a", "generate": {}}), "dataset: expected"),
    (lambda p: p.update(dataset={"generate": {"env": "tabletop"}}),
     "dataset.generate: missing 'episodes_per_task'"),
    (lambda p: p.update(dataset={"generate": {"env": "tabletop", "episodes_per_task": 2, "out": "x"}}),
     "dataset.generate.out: unknown option"),
    (lambda p: p.update(dataset={"generate": {"env": "tabletop", "episodes_per_task": "2"}}),
     "dataset.generate.episodes_per_task: expected an integer, got '2'"),
    (lambda p: p.update(dataset={"generate": {"env": "moon", "episodes_per_task": 2}}),
     "dataset.generate.env 'moon': expected one of"),
    (lambda p: p["train"].update(steps="10"), r"train\.steps: expected an integer, got '10'"),
    (lambda p: p["train"].update(stepz=10), r"train\.stepz: unknown TrainConfig field"),
    (lambda p: p["train"].update(seed=3),
     r"train\.seed: set by the experiment for each run \(from the plan's seeds\)"),
    (lambda p: p["train"].update(threads=2), r"train\.threads: set by the experiment .*--jobs"),
    (lambda p: p["variants"]["sf"].update(dataset="x"), r"variants\.sf\.dataset: set by the experiment"),
    (lambda p: p["variants"]["sf"]["align"].update(alpha="big"),
     r"variants\.sf\.align\.alpha: expected a number"),
    (lambda p: p["variants"]["sf"]["align"].update(layers=[9]),
     r"variant 'sf' .*align\.layers: layer 9 out of range"),
    (lambda p: p["variants"]["sf"].update(vla={"heads": 3}),
     r"variant 'sf' .*vla\.heads: unknown SmallVLAConfig"),
    (lambda p: p["variants"]["sf"].update(steps=0), r"variant 'sf' .*--steps must be >= 1"),
    (lambda p: p["variants"]["sf"].update(vla_preset="huge"), r"variant 'sf' .*unknown vla preset 'huge'"),
    (lambda p: p["variants"]["sf"]["align"].update(teacher="nope"), r"variant 'sf' .*align\.teacher 'nope'"),
    (lambda p: p.update(variants={}), "variants: expected a non-empty JSON object"),
    (lambda p: p["variants"].update({"a/b": {}}), r"variants: name 'a/b' must be"),
    (lambda p: p.update(seeds=[]), "seeds: expected a non-empty list"),
    (lambda p: p.update(seeds=[0, True]), "seeds: expected a non-empty list"),
    (lambda p: p.update(seeds=[1, 1]), "seeds: .* lists a seed twice"),
    (lambda p: p["eval"].update(init_state=[0]), r"eval\.init_state: unknown EvalConfig field"),
    (lambda p: p["eval"].update(tasks=[0, 99]), r"eval\.tasks: task 99 out of range for tabletop"),
    (lambda p: p["eval"].update(init_states=[0, 500]), r"eval\.init_states: \[500\] out of range"),
    (lambda p: p["eval"].update(env="moon"), r"eval: unknown env 'moon'"),
    (lambda p: p.update(val_dataset={"generate": {"env": "tabletop"}}),
     r"val_dataset\.generate: missing 'episodes_per_task'"),
    (lambda p: p.update(val_dataset={"path": "v"}), r"val_dataset: needs train\.val_every > 0"),
    (lambda p: p.update(val_dataset=None), r"val_dataset: expected \{\"path\": DIR\}"),
    (lambda p: p.update(val_dataset=dict(p["dataset"])) or p["train"].update(val_every=2),
     r"val_dataset: the same as dataset"),
    (lambda p: p["train"].update(val_every=2), r"train\.val_every: needs the plan's val_dataset key"),
    (lambda p: p["train"].update(val_dataset="v"), r"train\.val_dataset: set by the experiment for each run"),
])
def test_invalid_plans_are_refused_with_one_line_naming_the_place(plan_dict, edit, message):
    edit(plan_dict)
    with pytest.raises(SFError, match=message) as err:
        ExperimentPlan.from_dict(plan_dict, where="p.json")
    assert str(err.value).startswith("p.json") and "\n" not in str(err.value)


def test_a_held_out_dataset_reaches_every_run_and_is_generated_beside_the_data(plan_dict, tmp_path):
    from spatial_forcing.experiment.dataset import val_dataset_dir
    from spatial_forcing.experiment.runs import LOCATION_FIELDS, plan_runs

    plan_dict["val_dataset"] = {"generate": {"env": "tabletop", "tasks": [0], "episodes_per_task": 1,
                                             "seed": 1}}
    plan_dict["train"]["val_every"] = 3
    plan = ExperimentPlan.from_dict(plan_dict)
    held_out = val_dataset_dir(plan, tmp_path)
    assert held_out == (tmp_path / "val_data").resolve()
    runs = plan_runs(plan, tmp_path, "/d", held_out)
    assert {r.train["val_dataset"] for r in runs} == {str(held_out)} and "val_dataset" in LOCATION_FIELDS
    cfg = build_config(TrainConfig, runs[0].train)
    assert cfg.val_every == 3 and cfg.val_dataset == str(held_out)
    del plan_dict["val_dataset"], plan_dict["train"]["val_every"]
    assert "val_dataset" not in ExperimentPlan.from_dict(plan_dict).run_values("sf", 0, "/d", "/o")
    with pytest.raises(SFError, match="pass its location"):
        plan.run_values("sf", 0, "/d", "/o")  # a plan with held-out data needs where they are


def test_load_plan_names_the_file(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("{not json")
    with pytest.raises(SFError, match=f"{path}: invalid JSON"):
        load_plan(path)
    path.write_text(json.dumps([1]))
    with pytest.raises(SFError, match=f"{path}: expected a JSON object"):
        load_plan(path)


def test_generate_options_are_options_of_generate_dataset():
    import inspect

    from spatial_forcing.data.generate import generate_dataset

    params = set(inspect.signature(generate_dataset).parameters)
    assert set(GENERATE_FIELDS) - {"env"} <= params and "suite_name" in params


def test_deep_merge_recurses_replaces_leaves_and_shares_nothing():
    base = {"align": {"enabled": True, "layers": [1], "teacher": "mini3d"}, "steps": 5, "vla": {"head": "l1"}}
    over = {"align": {"layers": [2, 3], "mode": "multi"}, "steps": 7, "vla": "x"}
    out = deep_merge(base, over)
    assert out == {"align": {"enabled": True, "layers": [2, 3], "teacher": "mini3d", "mode": "multi"},
                   "steps": 7, "vla": "x"}
    out["align"]["layers"].append(9)
    out["align"]["enabled"] = False
    assert base["align"] == {"enabled": True, "layers": [1], "teacher": "mini3d"}  # inputs untouched
    assert over["align"]["layers"] == [2, 3]
    assert deep_merge({"a": {"b": 1}}, {"a": None}) == {"a": None}  # a non-dict replaces a dict


def test_plan_change_accepts_added_seeds_and_variants_only(plan_dict):
    stored = ExperimentPlan.from_dict(plan_dict).to_dict()
    grown = json.loads(json.dumps(plan_dict))
    grown["seeds"].append(7)
    grown["variants"]["sf_no_pe"] = {"align": {"use_pe": False}}
    assert plan_change(stored, ExperimentPlan.from_dict(grown)) is None
    older = {k: v for k, v in stored.items() if k != "val_dataset"}  # a plan.json from before the key
    assert plan_change(older, ExperimentPlan.from_dict(plan_dict)) is None

    def changed(edit) -> str | None:
        new = json.loads(json.dumps(plan_dict))
        edit(new)
        return plan_change(stored, ExperimentPlan.from_dict(new))

    assert changed(lambda p: p["train"].update(steps=8)) == "train.steps: 6 -> 8"
    assert changed(lambda p: p["train"].update(lr=1e-3)) == "train.lr: '<absent>' -> 0.001"
    assert changed(lambda p: p["variants"]["sf"]["align"].update(alpha=0.5)) == \
        "variants.sf.align.alpha: 0.25 -> 0.5"
    assert changed(lambda p: p.update(seeds=[0, 2])) == "seeds [1]: removed"
    assert changed(lambda p: p["variants"].pop("sf")) == "variants.sf: removed"
    assert changed(lambda p: p["eval"].update(init_states=[1])) == "eval.init_states: [0] -> [1]"
    assert changed(lambda p: p.update(val_dataset={"path": "v"}) or p["train"].update(val_every=2)) == \
        "train.val_every: '<absent>' -> 2"
    swapped = {"sf": plan_dict["variants"]["sf"], "baseline": plan_dict["variants"]["baseline"]}
    assert changed(lambda p: p.update(variants=swapped)) == "reference (first) variant: 'baseline' -> 'sf'"
    assert first_difference({"a": 1}, {"a": 1.0}, "x") == "x.a: 1 -> 1.0"  # an int and a float differ


def test_fractions_make_a_variant_by_fraction_grid_with_named_run_dirs(plan_dict, tmp_path):
    from spatial_forcing.experiment.runs import plan_runs

    plan = ExperimentPlan.from_dict({**plan_dict, "fractions": [0.25, 1], "claims": {"data_efficiency":
                                                                                     ["baseline", "sf"]}})
    assert list(plan.cells) == ["baseline_frac0.25", "baseline_frac1", "sf_frac0.25", "sf_frac1"]
    assert plan.reference == "baseline_frac0.25" and plan.cells_of("sf") == {0.25: "sf_frac0.25", 1.0: "sf_frac1"}
    cfg = build_config(TrainConfig, plan.run_values("sf_frac0.25", 1, "/d", "/o"))
    assert cfg.episode_fraction == 0.25 and cfg.align.alpha == 0.25 and cfg.seed == 1
    runs = plan_runs(plan, tmp_path, "/d")
    assert len(runs) == 12 and runs[0].dir == (tmp_path / "runs" / "baseline_frac0.25" / "seed0").resolve()
    assert ExperimentPlan.from_dict(plan_dict).cells_of("sf") == {1.0: "sf"}  # without a grid: as before
    stored = plan.to_dict()
    assert plan_change(stored, ExperimentPlan.from_dict({**plan_dict, "fractions": [0.25, 1]})) is None
    assert plan_change(stored, ExperimentPlan.from_dict({**plan_dict, "fractions": [0.5, 1]})) == \
        "fractions: [0.25, 1.0] -> [0.5, 1.0]"
    old = {k: v for k, v in ExperimentPlan.from_dict(plan_dict).to_dict().items() if k not in ("fractions", "claims")}
    assert plan_change(old, ExperimentPlan.from_dict(plan_dict)) is None  # a plan.json from before the keys


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(fractions=[0]), r"fractions: expected a list of episode fractions in \(0, 1\]"),
    (lambda p: p.update(fractions="0.5"), r"fractions: expected a list"),
    (lambda p: p.update(fractions=[0.5, 0.5]), "fractions: .* lists a fraction twice"),
    (lambda p: p.update(fractions=[0.5, 1.0]) or p["variants"]["sf"].update(episode_fraction=0.5),
     r"variants\.sf\.episode_fraction: set by the plan's fractions"),
    (lambda p: p.update(claims=["success"]), "claims: expected a JSON object"),
    (lambda p: p.update(claims={"speed": ["baseline", "sf"]}), r"claims\.speed: unknown claim; expected one of"),
    (lambda p: p.update(claims={"success": ["baseline"]}), r"claims\.success: expected a list of >= 2"),
    (lambda p: p.update(claims={"success": ["baseline", "sf2"]}), r"claims\.success: no variant\(s\) \['sf2'\]"),
    (lambda p: p.update(claims={"data_efficiency": ["baseline", "sf"]}), r"needs a data grid"),
    (lambda p: p.update(claims={"depth_probe": ["baseline", "sf"]}), r"answered by `sf probe` results"),
    (lambda p: p["variants"]["sf"]["align"].update(until_step=-2), r"align\.until_step must be >= 0"),
])
def test_invalid_fractions_and_claims_are_refused_in_one_line(plan_dict, edit, message):
    edit(plan_dict)
    with pytest.raises(SFError, match=message) as err:
        ExperimentPlan.from_dict(plan_dict, where="p.json")
    assert str(err.value).startswith("p.json") and "\n" not in str(err.value)


SHIPPED_PLANS = sorted(p.name for p in PLANS.glob("*.json"))


@pytest.mark.parametrize("name", SHIPPED_PLANS)
def test_shipped_plans_are_valid(name):
    plan = load_plan(PLANS / name)
    assert len(plan.seeds) >= 2 and (name.startswith(("tiny", "main", "one_task")) or len(plan.seeds) >= 3)
    if name.startswith("claims_"):
        assert plan.claims
    assert all(v in plan.variants for vs in plan.claims.values() for v in vs)


def test_the_libero_plan_evaluates_with_the_reduced_protocol():
    """`sf experiment` calls `sf eval libero_spatial` with the plan's fields: they must be the protocol's own
    (`sf eval libero --preset reduced`), not a copy that drifted from it."""
    plan = load_plan(PLANS / "libero_spatial_reduced.json")
    expected = libero_eval_values("libero_spatial", "reduced")
    assert {k: getattr(plan.eval_config(), k) for k in expected} == expected


@pytest.mark.parametrize("name", sorted(p.stem for p in PLANS.glob("*.json")
                                        if (PLANS.parents[1] / "results" / p.stem / "plan.json").is_file()))
def test_each_shipped_plan_still_continues_its_committed_result(name):
    """results/NAME/plan.json is the plan that made the committed figures: the shipped plan may only add seeds or
    variants to it, so `sf experiment configs/experiments/NAME.json` reproduces them (and resumes a record)."""
    stored = json.loads((PLANS.parents[1] / "results" / name / "plan.json").read_text())
    assert plan_change(stored, load_plan(PLANS / f"{name}.json")) is None
