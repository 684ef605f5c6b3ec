"""`sf report` on experiment directories made with a fake run executor (known numbers, no training): one
section per claim, verdicts by the stated rule, figures, "not measured" sections with their command; the
depth-probe claim from probe.json files."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.experiment import runner
from spatial_forcing.experiment.claim_results import experiment_claims
from spatial_forcing.experiment.claims import CLAIMS
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.runs import Run
from spatial_forcing.experiment.verdict import claim_verdict, interval_verdict

from experiment_plans import make_plan_dict

# final success per variant and seed 0, 1, 2 (with all the data); half the data: minus HALF_DATA_DROP
SUCCESS = {"baseline": [0.2, 0.4, 0.3], "sf": [0.5, 0.6, 0.6], "sf_no_pe": [0.7, 0.8, 0.7],
           "sf_layer_first": [0.1, 0.2, 0.1], "sf_adaptive": [0.5, 0.6, 0.4]}
HALF_DATA_DROP = {"baseline": 0.2, "sf": 0.1, "sf_no_pe": 0.1, "sf_layer_first": 0.1, "sf_adaptive": 0.1}
CURVES = {"baseline": {2: 0.0, 4: 0.1, 6: 0.3}, "sf": {2: 0.1, 4: 0.3, 6: 0.5}}  # eval/success
# held-out action loss logged at the last step (val/action_loss); other variants: 0.05 + 0.001 x seed
VAL = {"baseline": [0.050, 0.060, 0.055], "sf": [0.040, 0.052, 0.044]}


def fake_run(run: Run, threads: int, **options) -> None:
    """What `sf train` + `sf eval` would write."""
    variant, _, fraction = run.variant.partition("_frac")
    run.dir.mkdir(parents=True, exist_ok=True)
    run.write_configs()
    (run.dir / "policy").mkdir(exist_ok=True)
    (run.dir / "policy" / "model.safetensors").write_bytes(b"")
    rows = [{"step": s, "action_loss": 1.0 / s} for s in range(1, 7)]
    rows += [{"step": s, "eval/success": v} for s, v in CURVES.get(variant, CURVES["sf"]).items()]
    held_out = VAL.get(variant, [0.05 + 0.001 * k for k in range(3)])
    rows.append({"step": 6, "val/action_loss": held_out[run.seed]})
    if variant == "sf_adaptive":
        rows += [{"step": s, "layer_weight/1": 0.5 - 0.05 * s, "layer_weight/2": 0.5 + 0.05 * s} for s in (2, 4, 6)]
    (run.dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    value = SUCCESS[variant][run.seed] - (HALF_DATA_DROP[variant] if fraction == "0.5" else 0.0)
    result = {"success_rate": value, "per_task": {"left_of_cylinder": value}, "subgoal_rates": {"picked": value},
              "config": dataclasses.asdict(run.eval_config())}
    (run.dir / "eval.json").write_text(json.dumps(result))


def claims_plan(synthetic_dataset) -> ExperimentPlan:
    data = make_plan_dict(str(synthetic_dataset))
    data["variants"].update(sf_no_pe={"align": {"use_pe": False}}, sf_layer_first={"align": {"layers": [1]}},
                            sf_adaptive={"align": {"layers": [1, 2], "mode": "adaptive"}})
    data["fractions"] = [0.5, 1.0]
    data["claims"] = {"success": ["baseline", "sf"], "convergence": ["baseline", "sf"],
                      "data_efficiency": ["baseline", "sf"], "pe": ["sf_no_pe", "sf"],
                      "layer": ["sf", "sf_layer_first"], "adaptive": ["sf", "sf_adaptive"]}
    return ExperimentPlan.from_dict(data)


@pytest.fixture
def experiment(synthetic_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "execute_run", fake_run)
    out = tmp_path / "exp"
    outcome = runner.run_experiment(claims_plan(synthetic_dataset), out, jobs=1)
    assert outcome.failed == {} and outcome.runs == 5 * 2 * 3
    for variant, abs_rel in (("baseline", [0.30, 0.32, 0.31]), ("sf", [0.20, 0.25, 0.21])):
        for seed in range(3):
            probe = out / "probe" / variant / f"seed{seed}"
            probe.mkdir(parents=True)
            (probe / "probe.json").write_text(json.dumps(
                {"variant": variant, "seed": seed, "spatial_forcing": variant != "baseline",
                 "abs_rel": abs_rel[seed], "delta1": 1 - abs_rel[seed], "objects": {"r2": 0.1 * seed + 0.05 * (variant != "baseline")}}))
    return out


def test_report_has_one_section_per_claim_with_verdicts_by_the_rule(experiment, tmp_path, capsys):
    report = tmp_path / "out" / "REPORT.md"
    assert main(["report", str(experiment), "--out", str(report)]) == 0
    assert "7 measured" in capsys.readouterr().out
    text = report.read_text()
    for number, spec in enumerate(CLAIMS.values(), 1):
        assert f"## {number}. {spec.title}" in text
    assert "**Verdict rule.**" in text and text.count("**Not measured.**") == len(CLAIMS) - 7
    assert "sf experiment configs/experiments/claims_ablations_lift.json" in text  # how to measure the rest
    assert "| OpenVLA-OFT baseline (LIBERO avg) | 97.1 |" in text and "| + Spatial Forcing (LIBERO avg) | 98.5 |" in text

    claims = json.loads(report.with_suffix(".json").read_text())["claims"]
    success = claims["success"][0]
    assert [r["label"] for r in success["rows"]] == ["baseline", "sf"]  # the full-data cells
    assert success["rows"][1]["mean"] == pytest.approx(1.7 / 3)
    assert success["comparisons"][0]["mean"] == pytest.approx(0.8 / 3) and success["verdict"] == "supported"
    assert claims["pe"][0]["verdict"] == "not supported"  # without the PE is better here
    train_loss, held_out = success["secondary"]  # beside the success verdict, read as "lower for SF"
    assert train_loss["comparisons"][0]["mean"] == pytest.approx(0.0)  # every run logged the same losses
    assert held_out["metric"] == "held-out action loss (L1)" and held_out["verdict"] == "supported"
    assert held_out["comparisons"][0]["mean"] == pytest.approx(-0.029 / 3)
    assert "Secondary measures" in text and "| held-out action loss (L1) | sf - baseline | -0.0097 |" in text
    assert "| supported | sf - baseline -0.0097 [" in text  # the head table's held-out column
    summary = (experiment / "summary.md").read_text()
    assert "held-out L1" in summary and "final_val_action_loss" in summary
    pe_held_out = claims["pe"][0]["secondary"][1]  # sf - sf_no_pe: -0.010, +0.001, -0.008
    assert pe_held_out["verdict"] == "unclear" and claims["pe"][0]["verdict"] == "not supported"  # its own
    assert claims["layer"][0]["verdict"] == "supported"  # the first layer is worse, as claimed
    conv = claims["convergence"][0]
    assert conv["extra"]["target"] == pytest.approx(0.3) and conv["extra"]["speedup"]["sf"] == pytest.approx(1.5)
    assert conv["comparisons"][0]["mean"] == -2 and conv["verdict"] == "supported"
    data = claims["data_efficiency"][0]
    assert data["extra"]["fractions"] == [0.5, 1.0] and "smallest fraction, 0.5" in data["note"]
    assert data["comparisons"][0]["label"] == "sf - baseline @ 0.5"
    assert data["comparisons"][0]["mean"] == pytest.approx(0.8 / 3 + 0.1)
    data_held_out = data["secondary"][1]  # the held-out loss per fraction, beside the verdict
    assert data_held_out["key"] == "final_val_action_loss" and data_held_out["verdict"] == "supported"
    assert data_held_out["comparisons"][0]["label"] == "sf - baseline @ 0.5"
    assert set(claims["adaptive"][0]["extra"]["layer_weights"]["sf_adaptive"]) == {"1", "2"}
    probe = claims["depth_probe"][0]
    assert probe["reference"] == "baseline" and probe["verdict"] == "supported"  # lower AbsRel with SF
    assert probe["extra"]["objects_r2_paired"]["sf"]["mean"] == pytest.approx(0.05)  # paired by seed
    assert "Object xyz R^2, paired: sf - baseline +0.050" in text
    assert probe["comparisons"][0]["mean"] == pytest.approx(-0.09)

    figures = report.parent / "REPORT_figures"
    for name in ("success", "convergence", "data_efficiency", "pe", "layer", "adaptive",
                 "adaptive_layer_weights", "depth_probe"):
        assert (figures / f"{name}.png").stat().st_size > 1000, name
        assert f"](REPORT_figures/{name}.png)" in text


def test_an_older_summary_without_the_held_out_loss_still_reports(experiment):
    """summary.json written before held-out losses existed: the claims keep their training-loss line only."""
    from spatial_forcing.experiment.claim_results import experiment_claims

    path = experiment / "summary.json"
    summary = json.loads(path.read_text())
    for variant in summary["variants"].values():
        del variant["final_val_action_loss"]
    path.write_text(json.dumps(summary))
    success = experiment_claims(experiment)["success"]
    assert [s["key"] for s in success["secondary"]] == ["final_action_loss"]
    assert success["verdict"] == "supported"


def test_a_report_without_experiments_says_what_would_measure_each_claim(tmp_path):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "R.md")]) == 0
    text = (tmp_path / "R.md").read_text()
    assert text.count("**Not measured.**") == len(CLAIMS) and "sf probe --policy" in text
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "R.md")]) == 2


def test_verdict_rule():
    assert interval_verdict([0.1, 0.3], +1) == "supported" and interval_verdict([0.1, 0.3], -1) == "not supported"
    assert interval_verdict([-0.1, 0.3], +1) == "unclear" and interval_verdict(None, +1) == "unclear"
    assert interval_verdict([-3.0, -1.0], -1) == "supported"
    assert claim_verdict(["supported", "unclear"]) == "unclear"
    assert claim_verdict(["supported", "not supported"]) == "not supported"
    assert claim_verdict(["supported", "supported"]) == "supported" and claim_verdict([]) == "unclear"


def test_step_counts_print_whole_and_rates_with_three_decimals(tmp_path):
    """A figure's format follows what the measurement is, not its size: a small std of a step count is whole, a
    success rate keeps its decimals."""
    from spatial_forcing.experiment.claim_report import _section

    steps = {"metric": "steps to reach the reference's final success", "reference": "baseline", "source": "d",
             "rows": [{"label": "sf", "mean": 3300.0, "std": 57.7, "n": 3, "per_seed": {}}],
             "comparisons": [{"label": "sf", "n": 3, "mean": -33.3, "ci95": [-90.4, 23.8], "verdict": "unclear"}],
             "verdict": "unclear", "extra": {}}
    text = _section(1, "convergence", CLAIMS["convergence"], [steps], tmp_path, tmp_path)
    assert "| sf | 3300 ± 58 | 3 |" in text and "| sf | -33 | [-90, +24] | 3 | unclear |" in text
    success = {**steps, "metric": "final success",
               "rows": [{"label": "sf", "mean": 0.25, "std": 0.05, "n": 3, "per_seed": {}}],
               "comparisons": [{"label": "sf", "n": 3, "mean": 0.1, "ci95": [-0.02, 0.22], "verdict": "unclear"}]}
    text = _section(1, "success", CLAIMS["success"], [success], tmp_path, tmp_path)
    assert "| sf | 0.250 ± 0.050 | 3 |" in text and "sf +0.100 [-0.020, +0.220]" in text

    from spatial_forcing.experiment.claim_report import _head

    found = {claim: [] for claim in CLAIMS}
    found["success"] = [{**success, "source": "runs/long"}, {**success, "source": "runs/rung1"}]
    found["convergence"] = [steps]
    head = "\n".join(_head(["runs/long", "runs/rung1"], Path("results/REPORT.md"), found))
    assert "Built by `sf report runs/long runs/rung1 --out results/REPORT.md`" in head  # the exact command
    assert "long: sf +0.100 [-0.020, +0.220]; rung1: sf +0.100" in head  # two experiments: each one named
    assert "| sf -33 [-90, +24] |" in head  # one: no name


def test_a_grid_run_in_parts_keeps_the_losses_of_its_finished_fractions(experiment):
    """The 1.0 cells not run yet (sf experiment --only the smaller fractions): the success rows show them with
    no seeds and the held-out loss is still compared at the fraction both variants finished."""
    for variant in ("baseline", "sf"):
        shutil.rmtree(experiment / "runs" / f"{variant}_frac1")
    (experiment / "summary.json").unlink()  # summarised again from the runs that exist
    data = experiment_claims(experiment)["data_efficiency"]
    assert [r["n"] for r in data["rows"]] == [3, 3, 0, 0]
    held_out = next(m for m in data["secondary"] if m["key"] == "final_val_action_loss")
    assert [c["label"] for c in held_out["comparisons"]] == ["sf - baseline @ 0.5"]
    assert held_out["comparisons"][0]["n"] == 3


def test_convergence_from_summary_curves_when_the_runs_metrics_are_gone(experiment, tmp_path):
    """A directory that kept only plan.json and summary.json (committed before records held the runs): the
    convergence claim reads the seed-mean curves of summary.json, with no paired interval and no verdict."""
    shutil.rmtree(experiment / "runs")
    conv = experiment_claims(experiment)["convergence"]
    assert [(r["label"], r["mean"], r["n"]) for r in conv["rows"]] == [("baseline", 6, 3), ("sf", 4, 3)]
    assert conv["comparisons"] == [] and conv["verdict"] == "unclear" and "summary.json" in conv["note"]
    assert conv["extra"]["target"] == pytest.approx(0.3) and conv["extra"]["speedup"]["sf"] == pytest.approx(1.5)
    report = tmp_path / "R.md"
    assert main(["report", str(experiment), "--out", str(report)]) == 0
    text = report.read_text()
    assert "| sf | 4 ± n/a | 3 |" in text and "no paired difference (see the note)" in text
    assert "| sf x1.50 (seed-mean curves, no interval) | unclear |" in text  # the head table
    section = text.split("## 2. ")[1].split("## 3. ")[0]
    assert "| paired difference" not in section  # no empty table
    assert "sf: x1.50" in text and (tmp_path / "R_figures" / "convergence.png").stat().st_size > 1000


def test_a_seed_mean_curve_that_never_reaches_the_target_says_so_in_the_head_table():
    from spatial_forcing.experiment.claim_report import _ours

    m = {"comparisons": [], "extra": {"speedup": {"sf": None, "sf_fast": 2.0}}}
    assert _ours(m) == ("sf never reaches it (seed-mean curves, no interval); "
                        "sf_fast x2.00 (seed-mean curves, no interval)")


def test_measured_only_leaves_out_the_claims_no_directory_answers(experiment, tmp_path, capsys):
    out = tmp_path / "only" / "REPORT.md"
    assert main(["report", str(experiment), "--out", str(out), "--measured-only"]) == 0
    text = out.read_text()
    measured = ["success", "convergence", "data_efficiency", "pe", "layer", "adaptive", "depth_probe"]
    assert [line.split("`")[1] for line in text.splitlines() if line.startswith("## ")] == \
        [c for c in CLAIMS if c in measured]
    assert "**Not measured.**" not in text
    left_out = [c for c in CLAIMS if c not in measured]
    assert f"Not measured here (left out): {', '.join(f'`{c}`' for c in left_out)}." in text
    assert f"--out {out} --measured-only`" in text  # the rebuild command keeps the flag
    head_rows = [line for line in text.splitlines() if line.startswith("| ") and " | paper | " not in line]
    assert not any(CLAIMS[c].title in row for c in left_out for row in head_rows)
