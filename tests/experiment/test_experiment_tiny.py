"""`sf experiment configs/experiments/tiny.json` end to end: data, teacher caches, 2 variants x 2 seeds
trained and evaluated in parallel subprocesses, the summary; then a second invocation that runs nothing, a run
whose final evaluation resumes from its episode log, and `sf summarize`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatial_forcing.cli.main import main

TINY = Path(__file__).parents[2] / "configs" / "experiments" / "tiny.json"


def test_tiny_plan_end_to_end_then_skip_and_resume(tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["experiment", str(TINY), "--out", str(out), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "4 run(s) executed" in printed and "diff vs reference [95% CI]" in printed

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= {"name", "reference", "seeds", "eval", "runs", "variants", "paired", "curves",
                            "convergence", "notes"}
    assert summary["reference"] == "baseline" and set(summary["runs"].values()) == {"done"}
    for name, variant in summary["variants"].items():
        assert variant["seeds"] == [0, 1] and set(variant["success"]["per_seed"]) == {"0", "1"}
        assert set(variant["per_task"]) == {"left_of_cylinder", "right_of_cylinder"}
        assert "picked" in variant["subgoals"] and variant["final_action_loss"]["mean"] > 0
        assert variant["final_val_action_loss"]["mean"] > 0  # on the plan's held-out episodes (OUT/val_data)
        assert summary["curves"]["success"][name]["steps"] == [2, 4]  # eval_every 2 of 4 steps
    align = summary["variants"]["sf"]["align"]
    assert summary["variants"]["baseline"]["align"] is None
    assert all(-1 <= align[k]["mean"] <= 1 for k in ("align_cos", "position_only_cos", "residual_cos"))
    assert summary["paired"]["sf"]["seeds"] == [0, 1] and len(summary["paired"]["sf"]["ci95"]) == 2
    assert summary["paired"]["sf"]["t"] == pytest.approx(12.706, abs=1e-3)
    assert set(summary["curves"]["align"]) == {"sf"} and summary["convergence"]["target_step"] == 4
    assert set(summary["convergence"]["variants"]) == {"baseline", "sf"}
    assert (out / "summary.png").stat().st_size > 0
    assert "## Paired differences" in (out / "summary.md").read_text()
    assert "final_val_action_loss" in summary["paired_secondary"]["sf"]
    assert (out / "val_data" / "meta" / "info.json").is_file()

    runs = out / "runs"
    result = json.loads((runs / "sf" / "seed0" / "eval.json").read_text())
    assert (result["config"]["tasks"], result["config"]["init_states"], result["config"]["image_size"]) == \
        ([0, 1], [0], 32) and result["episodes"] == 2  # the plan's eval section reached `sf eval --config`
    # the random teacher differs per seed: one cache each, built before the runs; no run built one itself
    assert len(list((out / "data.sf_cache").iterdir())) == 2
    for seed in (0, 1):
        assert "caching mini3d" not in (runs / "sf" / f"seed{seed}" / "train.log").read_text()
        assert "teacher targets from cache" in (runs / "sf" / f"seed{seed}" / "train.log").read_text()

    logs = {p: p.read_text() for p in runs.rglob("*.log")}
    assert main(["experiment", str(TINY), "--out", str(out), "--jobs", "2"]) == 0
    assert "0 run(s) executed" in capsys.readouterr().out
    assert {p: p.read_text() for p in runs.rglob("*.log")} == logs  # nothing ran

    (runs / "sf" / "seed1" / "eval.json").unlink()  # as if killed after its last episode, before the summary
    assert main(["experiment", str(TINY), "--out", str(out)]) == 0
    assert "1 run(s) executed" in capsys.readouterr().out
    assert (runs / "sf" / "seed1" / "train.log").read_text() == logs[runs / "sf" / "seed1" / "train.log"]
    assert "resuming evaluation: 2 episodes done, 0 to go" in (runs / "sf" / "seed1" / "eval.log").read_text()

    assert main(["summarize", str(out)]) == 0
    assert "experiment tiny: reference 'baseline'" in capsys.readouterr().out
