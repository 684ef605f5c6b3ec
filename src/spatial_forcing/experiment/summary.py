"""The experiment's results from its run directories: OUT/summary.json, summary.md and summary.png.

Finished runs (eval.json present) count; a variant's numbers are over its finished seeds, and a paired
difference is over the seeds finished for both the variant and the reference.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Sequence

from spatial_forcing.experiment.curves import convergence, read_metrics, seed_band, series
from spatial_forcing.experiment.plan import OPTIONAL_KEYS, ExperimentPlan
from spatial_forcing.experiment.report import markdown
from spatial_forcing.experiment.runs import Run, experiment_runs
from spatial_forcing.experiment.stats import mean_std, t_interval
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.validation import KEY as VAL_KEY
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json

log = logging.getLogger(__name__)

ALIGN_KEYS = ("align_cos", "position_only_cos", "residual_cos")  # SF diagnostics of metrics.jsonl
LOSS_WINDOW = 5  # final action loss = mean of the last this many logged values (smooths per-batch noise)


def stored_plan(out_dir: str | Path) -> ExperimentPlan:
    """The plan an experiment directory was made from (OUT/plan.json)."""
    path = Path(out_dir) / "plan.json"
    if not path.is_file():
        raise SFError(f"{out_dir}: not an experiment directory (no plan.json); run `sf experiment PLAN --out "
                      f"{out_dir}` first")
    data = read_json(path)
    names = [f.name for f in dataclasses.fields(ExperimentPlan)]
    required = [n for n in names if n not in OPTIONAL_KEYS]
    if not isinstance(data, dict) or any(n not in data for n in required):
        raise SFError(f"{path}: expected the keys {required} written by `sf experiment`")
    return ExperimentPlan(**{n: data[n] for n in names if n in data})


def summarize(out_dir: str | Path, reference: str | None = None) -> dict:
    """Every section of summary.json, from OUT/plan.json and the run directories; `reference` = the variant
    the others are paired with (default: the plan's first)."""
    plan = stored_plan(out_dir)
    if reference is not None:
        if reference not in plan.cells:
            raise SFError(f"--reference {reference!r}: no such variant in {out_dir}/plan.json; expected one of "
                          f"{list(plan.cells)}")
    cells = list(plan.cells)
    reference = reference or plan.reference
    order = [reference, *(c for c in cells if c != reference)]
    runs = experiment_runs(plan, out_dir)
    by_variant = {v: [r for r in runs if r.variant == v] for v in order}
    results = {r.name: _run_result(r) for r in runs if r.finished}
    variants = {v: _variant(rs, results) for v, rs in by_variant.items()}
    success_curves = {v: seed_band([results[r.name]["curve"] for r in rs if r.name in results]) for v, rs in
                      by_variant.items()}
    align_curves = {v: {k: seed_band([results[r.name]["align_curves"][k] for r in rs if r.name in results])
                        for k in ALIGN_KEYS}
                    for v, rs in by_variant.items() if variants[v]["spatial_forcing"]}
    return {
        "name": plan.name,
        "reference": reference,
        "seeds": plan.seeds,
        "fractions": plan.fractions,
        "cells": {v: plan.cells_of(v) for v in plan.variants},
        "eval": dataclasses.asdict(plan.eval_config()),
        "runs": {r.name: r.status() for r in runs},
        "variants": variants,
        "paired": {v: _paired(variants[v], variants[reference], reference) for v in order if v != reference},
        "paired_secondary": {v: _paired_secondary(variants[v], variants[reference])
                             for v in order if v != reference},
        "curves": {"success": success_curves, "align": align_curves},
        "convergence": convergence(success_curves, reference),
        "notes": {"std": "sample standard deviation over seeds (n - 1)",
                  "ci95": "two-sided 95% Student-t interval of the mean paired difference "
                          "(variant - reference)",
                  "paired_secondary": "the same paired statistics for each sub-goal rate, the final action "
                                      "loss and the held-out action loss (informative when success is at "
                                      "the floor)",
                  "final_action_loss": f"mean of the last {LOSS_WINDOW} logged action_loss values",
                  "final_val_action_loss": f"last logged {VAL_KEY} (held-out episodes, `train.val_dataset`)",
                  "align": "last logged value of each run",
                  "train_seconds": "seconds in training steps (metrics.jsonl step_s; evaluations and "
                                   "checkpoints excluded), per run, on the threads the run had",
                  "eval_seconds": "seconds playing the final evaluation's episodes, over every invocation "
                                  "(eval.json episode_seconds; with workers, the sum of their times); for "
                                  "logs without per-episode times, the last invocation's wall time "
                                  "(wall_s_this_run)",
                  "curves": "eval/success of `sf train --eval-every` (train.eval_init_states), mean/min/max "
                            "over the seeds at the steps all of them logged"},
    }


def write_summary(out_dir: str | Path, reference: str | None = None) -> dict:
    """Write summary.json, summary.md and summary.png into OUT (summary_vs_<reference>.* when a reference
    other than the plan's is given); returns the summary."""
    from spatial_forcing.experiment.plot import plot_summary

    out_dir = Path(out_dir)
    summary = summarize(out_dir, reference)
    stem = "summary" if reference is None else f"summary_vs_{reference}"
    write_json(out_dir / f"{stem}.json", summary)
    with atomic_path(out_dir / f"{stem}.md") as tmp:
        tmp.write_text(markdown(summary))
    plot_summary(summary, out_dir / f"{stem}.png")
    log.info("wrote %s/%s.json, .md, .png", out_dir, stem)
    return summary


def _run_result(run: Run) -> dict:
    res = read_json(run.dir / "eval.json")
    rows = read_metrics(run.dir)
    losses = [r["action_loss"] for r in rows if "action_loss" in r][-LOSS_WINDOW:]
    held_out = list(series(rows, VAL_KEY).values())
    return {"success": float(res["success_rate"]), "per_task": res["per_task"],
            "subgoals": res["subgoal_rates"],
            "action_loss": sum(losses) / len(losses) if losses else None,
            "val_action_loss": held_out[-1] if held_out else None,
            "align": {k: (list(series(rows, k).values()) or [None])[-1] for k in ALIGN_KEYS},
            "curve": series(rows, "eval/success"), "align_curves": {k: series(rows, k) for k in ALIGN_KEYS},
            "train_s": _train_seconds(rows), "eval_s": _eval_seconds(res)}


def _eval_seconds(res: dict) -> float | None:
    """The final evaluation's cost: per-episode seconds summed over every invocation when the log has them
    (a resumed evaluation counts its earlier part), else the last invocation's wall time."""
    seconds = res.get("episode_seconds")
    return seconds if seconds is not None else res.get("wall_s_this_run")


def _train_seconds(rows: list[dict]) -> float | None:
    """Seconds spent in training steps: each logged `step_s` times the steps since the previous logged one
    (None for a run that logged none)."""
    logged = [(r["step"], r["step_s"]) for r in rows if "step_s" in r]
    if not logged:
        return None
    steps = [0, *(s for s, _ in logged)]
    return sum(seconds * (step - prev) for (step, seconds), prev in zip(logged, steps))


def _stat(per_seed: dict[int, float | None]) -> dict:
    """{"mean", "std", "per_seed"} over the seeds with a value."""
    values = [v for v in per_seed.values() if v is not None]
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "per_seed": {str(s): v for s, v in per_seed.items()}}


def _variant(runs: Sequence[Run], results: dict[str, dict]) -> dict:
    done = [r for r in runs if r.name in results]
    res = {r.seed: results[r.name] for r in done}
    sf = build_config(TrainConfig, runs[0].train).align.enabled
    subgoals = _means([x["subgoals"] for x in res.values()])
    out = {"spatial_forcing": sf, "seeds": [r.seed for r in done],
           "missing_seeds": [r.seed for r in runs if r.name not in results],
           "success": _stat({s: x["success"] for s, x in res.items()}),
           "per_task": _means([x["per_task"] for x in res.values()]),
           "subgoals": subgoals,
           "subgoal_stats": {k: _stat({s: x["subgoals"].get(k) for s, x in res.items()}) for k in subgoals},
           "final_action_loss": _stat({s: x["action_loss"] for s, x in res.items()}),
           "final_val_action_loss": _stat({s: x["val_action_loss"] for s, x in res.items()}),
           "train_seconds": _stat({s: x["train_s"] for s, x in res.items()}),
           "eval_seconds": _stat({s: x["eval_s"] for s, x in res.items()}),
           "align": ({k: _stat({s: x["align"][k] for s, x in res.items()}) for k in ALIGN_KEYS}
                     if sf else None)}
    return out


def _means(dicts: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean over the dicts that hold the key, keys in first-seen order."""
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    return {k: sum(d[k] for d in dicts if k in d) / sum(k in d for d in dicts) for k in keys}


def _paired_secondary(variant: dict, reference: dict) -> dict:
    """Paired statistics of each sub-goal rate, the final action loss and (if logged) the held-out one."""
    pairs = {k: (variant["subgoal_stats"][k], reference["subgoal_stats"][k])
             for k in variant["subgoal_stats"] if k in reference["subgoal_stats"]}
    pairs["final_action_loss"] = (variant["final_action_loss"], reference["final_action_loss"])
    key = "final_val_action_loss"
    if variant[key]["mean"] is not None:  # runs with `train.val_dataset`
        pairs[key] = (variant[key], reference[key])
    return {k: _paired_stat(mine, theirs) for k, (mine, theirs) in pairs.items()}


def _paired(variant: dict, reference: dict, ref_name: str) -> dict:
    return {"reference": ref_name, **_paired_stat(variant["success"], reference["success"])}


def _paired_stat(mine_stat: dict, ref_stat: dict) -> dict:
    mine, theirs = mine_stat["per_seed"], ref_stat["per_seed"]
    seeds = [s for s in mine if s in theirs and mine[s] is not None and theirs[s] is not None]
    diffs = {s: mine[s] - theirs[s] for s in seeds}
    stats = t_interval(list(diffs.values()))
    return {"seeds": [int(s) for s in seeds], "differences": diffs, "n": stats["n"],
            "mean": stats["mean"], "std": stats["std"], "t": stats["t"], "ci95": stats["ci"]}
