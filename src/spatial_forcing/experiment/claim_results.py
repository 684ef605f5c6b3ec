"""Our numbers for each claim a plan answers, from an `sf experiment` directory (summary.json and the runs'
metrics), and for the depth-probe claim from `sf probe` outputs (probe.json) found under the given dirs.

A measurement is a plain dict (it goes into REPORT.json as is):
  {"source", "metric", "reference", "rows": [{"label", "mean", "std", "n", "per_seed"}],
   "comparisons": [{"label", "n", "mean", "ci95", "verdict"}], "verdict", "extra": {...}, "note"}
A success claim's measurement also holds "secondary": the same comparison of each action loss the runs logged
(SECONDARY; each with its summary "key"), never part of the verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from spatial_forcing.experiment.claims import CLAIMS
from spatial_forcing.experiment.curves import TOLERANCE, convergence, read_metrics, seed_band, series
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.runs import experiment_runs
from spatial_forcing.experiment.stats import mean_std, t_interval
from spatial_forcing.experiment.summary import stored_plan, summarize
from spatial_forcing.experiment.verdict import claim_verdict, interval_verdict
from spatial_forcing.utils.json_file import read_json

PerSeed = dict[int, float]
STEPS = "steps to reach the reference's final success"  # the convergence metric (printed as whole steps)
# Summary measures reported beside a success claim (informative when success is at the floor): key -> metric.
SECONDARY = {"final_action_loss": "final training action loss (L1)",
             "final_val_action_loss": "held-out action loss (L1)"}


def experiment_claims(exp_dir: str | Path) -> dict[str, dict]:
    """claim id -> measurement, for every claim the experiment's plan declares."""
    exp_dir = Path(exp_dir)
    plan = stored_plan(exp_dir)
    path = exp_dir / "summary.json"
    summary = read_json(path) if path.is_file() else summarize(exp_dir)
    out = {}
    for claim, variants in plan.claims.items():
        measure = CLAIMS[claim].measure
        direction = CLAIMS[claim].direction
        if measure == "fractions":
            out[claim] = _fractions(plan, summary, variants, direction)
        elif measure == "convergence":
            out[claim] = _convergence(plan, exp_dir, variants, summary)
        else:
            cells = {v: _full_cell(plan, v) for v in variants}
            out[claim] = _compared("final success", {v: _per_seed(summary, c) for v, c in cells.items()},
                                   variants[0], direction)
            out[claim]["secondary"] = _secondary(lambda key, metric: _compared(
                metric, {v: _per_seed(summary, c, key) for v, c in cells.items()}, variants[0], -direction))
        out[claim]["source"] = str(exp_dir)
        if claim == "adaptive":
            out[claim]["extra"]["layer_weights"] = _layer_weights(plan, exp_dir, variants)
    return out


def _full_cell(plan: ExperimentPlan, variant: str) -> str:
    """The variant's cell with the most data (its only cell without a fraction grid)."""
    cells = plan.cells_of(variant)
    return cells[max(cells)]


def _per_seed(summary: dict, cell: str, key: str = "success") -> PerSeed:
    """seed -> the summary's per-seed value of `key` (success, final_action_loss, ...) for one cell."""
    per_seed = summary["variants"].get(cell, {}).get(key, {}).get("per_seed", {})
    return {int(s): float(v) for s, v in per_seed.items() if v is not None}


def _secondary(measure: Callable[[str, str], dict]) -> list[dict]:
    """`measure(key, metric)` for each action loss of SECONDARY that every compared cell logged, tagged with
    its key. Callers read it in the claim's opposite direction (a lower loss for the variant the paper
    favours); it is never part of the claim's verdict."""
    out = []
    for key, metric in SECONDARY.items():
        measurement = measure(key, metric)
        if all(r["n"] for r in measurement["rows"]):
            out.append({**measurement, "key": key})
    return out


def _row(label: str, values: PerSeed) -> dict:
    mean, std = mean_std(list(values.values()))
    return {"label": label, "mean": mean, "std": std, "n": len(values), "per_seed": values}


def _comparison(label: str, reference: PerSeed, values: PerSeed, direction: int) -> dict:
    seeds = [s for s in values if s in reference]
    stats = t_interval([values[s] - reference[s] for s in seeds])
    return {"label": label, "n": stats["n"], "mean": stats["mean"], "ci95": stats["ci"],
            "verdict": interval_verdict(stats["ci"], direction)}


def _compared(metric: str, values: dict[str, PerSeed], reference: str, direction: int) -> dict:
    """Rows per variant, and each variant paired with the reference."""
    comparisons = [_comparison(f"{v} - {reference}", values[reference], values[v], direction)
                   for v in values if v != reference]
    return {"metric": metric, "reference": reference, "rows": [_row(v, x) for v, x in values.items()],
            "comparisons": comparisons, "verdict": claim_verdict([c["verdict"] for c in comparisons]),
            "extra": {}, "note": "" if any(values.values()) else "no finished run yet"}


def _fractions(plan: ExperimentPlan, summary: dict, variants: list[str], direction: int) -> dict:
    """Success per variant and data fraction; the verdict is read at the smallest fraction (the paper's 5%).
    Secondary: the same for each action loss the runs logged (lower for the variant the paper favours)."""
    out = _by_fraction(plan, summary, variants, direction, "success", "final success per data fraction")
    # losses at the fractions every compared variant has finished runs of (a grid may be run in parts)
    done = [f for f in sorted(plan.fractions)
            if all(_per_seed(summary, plan.cells_of(v)[f]) for v in variants)]
    out["secondary"] = []
    if done:
        out["secondary"] = _secondary(lambda key, metric: _by_fraction(
            plan, summary, variants, -direction, key, f"{metric} per data fraction", done))
    return out


def _by_fraction(plan: ExperimentPlan, summary: dict, variants: list[str], direction: int, key: str,
                 metric: str, fractions: list[float] | None = None) -> dict:
    """`key` per variant at `fractions` (default: all of the plan's); the verdict at the smallest."""
    fractions = sorted(plan.fractions) if fractions is None else fractions
    table = {f: {v: _per_seed(summary, plan.cells_of(v)[f], key) for v in variants} for f in fractions}
    rows, comparisons = [], []
    for f in fractions:
        rows += [_row(f"{v} @ {f:g}", table[f][v]) for v in variants]
        comparisons += [_comparison(f"{v} - {variants[0]} @ {f:g}", table[f][variants[0]], table[f][v], direction)
                        for v in variants[1:]]
    smallest = [c["verdict"] for c in comparisons[: len(variants) - 1]]
    return {"metric": STEPS, "reference": variants[0], "rows": rows,
            "comparisons": comparisons, "verdict": claim_verdict(smallest),
            "extra": {"fractions": fractions,
                      key: {v: [_row(f"{f:g}", table[f][v]) for f in fractions] for v in variants}},
            "note": f"verdict at the smallest fraction, {fractions[0]:g}"}


def _curves(plan: ExperimentPlan, exp_dir: Path, cell: str, key: str = "eval/success") -> dict[int, dict]:
    """seed -> {step: value} of `key` in the cell's runs' metrics.jsonl (runs with a value only)."""
    runs = [r for r in experiment_runs(plan, exp_dir) if r.variant == cell]
    curves = {r.seed: series(read_metrics(r.dir), key) for r in runs}
    return {s: c for s, c in curves.items() if c}


def _convergence(plan: ExperimentPlan, exp_dir: Path, variants: list[str], summary: dict) -> dict:
    """Steps for each seed's success curve to reach the reference's final seed-mean success (the paper's
    "3.8x faster"); a curve that never reaches it counts as one evaluation interval past its last step.
    Without the runs' metrics (a directory kept before records held them), the seed-mean curves of
    summary.json."""
    curves = {v: _curves(plan, exp_dir, _full_cell(plan, v)) for v in variants}
    ref = curves[variants[0]]
    band = seed_band(list(ref.values()))
    if band is None:
        return _seed_mean_convergence(plan, summary, variants)
    target = band["mean"][-1]
    steps, censored = {}, {}
    for v, per_seed in curves.items():
        steps[v], censored[v] = {}, []
        for seed, curve in per_seed.items():
            points = sorted(curve)
            reached = next((s for s in points if curve[s] >= target - TOLERANCE), None)
            if reached is None:
                censored[v].append(seed)
                reached = points[-1] + (points[-1] - points[-2] if len(points) > 1 else points[-1])
            steps[v][seed] = float(reached)
    out = _compared(STEPS, steps, variants[0], -1)
    means = {v: mean_std(list(steps[v].values()))[0] for v in variants}
    speedup = {v: means[variants[0]] / means[v] if means[v] and means[variants[0]] else None
               for v in variants[1:]}  # reference's mean steps / the variant's (the paper's "3.8x")
    out["extra"] = {"target": target, "target_step": band["steps"][-1], "censored": censored,
                    "speedup": speedup, "curves": {v: seed_band(list(c.values())) for v, c in curves.items()}}
    if target <= 0:
        out["note"] = "the reference's final success is 0: every curve reaches it at its first evaluation"
    return out


def _seed_mean_convergence(plan: ExperimentPlan, summary: dict, variants: list[str]) -> dict:
    """Steps for each variant's seed-mean curve (summary.json) to reach the reference's final seed-mean
    success: one number per variant, so no paired interval and no verdict."""
    stored = summary.get("curves", {}).get("success", {})
    bands = {v: stored.get(_full_cell(plan, v)) for v in variants}
    if bands[variants[0]] is None:
        return {"metric": STEPS, "reference": variants[0], "rows": [], "comparisons": [], "verdict": "unclear",
                "extra": {}, "note": "no learning curves (train.eval_every 0, or no finished run)"}
    conv = convergence(bands, variants[0])
    rows = [{"label": v, "mean": conv["variants"][v]["steps_to_reach"], "std": None,
             "n": bands[v]["seeds"] if bands[v] else 0, "per_seed": {}} for v in variants]
    extra = {"target": conv["target"], "target_step": conv["target_step"], "censored": {},
             "speedup": {v: conv["variants"][v]["speedup"] for v in variants[1:]}, "curves": bands}
    return {"metric": STEPS, "reference": variants[0], "rows": rows, "comparisons": [], "verdict": "unclear",
            "extra": extra, "note": "the runs' metrics are not in this directory, only summary.json's seed-mean "
                                    "curves: steps of those curves (n/a: never reached), no per-seed steps, so "
                                    "no paired interval"}


def _layer_weights(plan: ExperimentPlan, exp_dir: Path, variants: list[str]) -> dict:
    """variant -> layer -> seed band over steps of the adaptive mix's logged softmax weights."""
    out = {}
    for v in variants:
        cell = _full_cell(plan, v)
        runs = [r for r in experiment_runs(plan, exp_dir) if r.variant == cell]
        rows = {r.seed: read_metrics(r.dir) for r in runs}
        keys = sorted({k for rs in rows.values() for row in rs for k in row if k.startswith("layer_weight/")})
        bands = {k.split("/", 1)[1]: seed_band([c for c in (series(rs, k) for rs in rows.values()) if c])
                 for k in keys}
        if any(bands.values()):
            out[v] = bands
    return out


def probe_claim(dirs: list[str | Path]) -> dict | None:
    """The depth-probe claim from every probe.json under `dirs` written for experiment runs
    (`sf probe --policy OUT/runs/<variant>/seed<k>/policy`): held-out AbsRel per variant and seed, paired
    with the baseline (a variant without SF); None if there is none."""
    found = {}
    for d in dirs:
        for path in sorted(Path(d).rglob("probe.json")):
            result = read_json(path)
            if isinstance(result, dict) and result.get("variant") is not None and "abs_rel" in result:
                found.setdefault(result["variant"], {})[int(result["seed"])] = result
    if not found:
        return None
    baselines = [v for v, seeds in found.items() if not any(r.get("spatial_forcing") for r in seeds.values())]
    reference = "baseline" if "baseline" in found else (baselines or list(found))[0]
    variants = [reference, *(v for v in found if v != reference)]
    values = {v: {s: float(r["abs_rel"]) for s, r in found[v].items()} for v in variants}
    out = _compared("held-out depth AbsRel (lower is better)", values, reference, CLAIMS["depth_probe"].direction)
    delta1 = {v: {s: r["delta1"] for s, r in found[v].items()} for v in variants}
    objects = {v: {s: r["objects"]["r2"] for s, r in found[v].items() if r["objects"].get("r2") is not None}
               for v in variants}
    out["extra"] = {"delta1": {v: _row(v, x) for v, x in delta1.items()},
                    "objects_r2": {v: _row(v, x) for v, x in objects.items()},
                    "objects_r2_paired": {v: _comparison(f"{v} - {reference}", objects[reference], x, +1)
                                          for v, x in objects.items() if v != reference and objects[reference]}}
    out["source"] = ", ".join(sorted({str(Path(d)) for d in dirs}))
    return out
