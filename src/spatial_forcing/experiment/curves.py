"""Learning curves of an experiment from its runs' metrics.jsonl (`sf train --eval-every N` logs
`eval/success`), averaged over seeds, and "steps to reach the reference's final success".

The target is the reference variant's seed-mean curve at its last evaluation step: the same initial states
and episodes as every point of every curve (the final `eval.json` uses the plan's own `eval` states).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from spatial_forcing.utils.jsonl import read_jsonl

TOLERANCE = 1e-9  # seed means of rates are sums of floats: 0.1 + 0.2 must reach 0.3


def read_metrics(run_dir: Path) -> list[dict]:
    """Rows of RUN/metrics.jsonl ([] if absent); a line cut by a kill is skipped."""
    return list(read_jsonl(Path(run_dir) / "metrics.jsonl"))


def series(rows: list[dict], key: str) -> dict[int, float]:
    """step -> value of `key` (the last row of a step wins)."""
    return {int(r["step"]): float(r[key]) for r in rows if key in r and r[key] is not None}


def seed_band(per_seed: Sequence[dict[int, float]]) -> dict | None:
    """Mean, min and max over seeds at the steps every seed logged; None without a common step."""
    if not per_seed:
        return None
    steps = sorted(set.intersection(*(set(s) for s in per_seed)))
    if not steps:
        return None
    values = [[s[step] for s in per_seed] for step in steps]
    return {"steps": steps, "mean": [sum(v) / len(v) for v in values], "min": [min(v) for v in values],
            "max": [max(v) for v in values], "seeds": len(per_seed)}


def steps_to_reach(curve: dict | None, target: float) -> int | None:
    """First step at which the seed-mean curve is >= target; None if never (or no curve)."""
    if curve is None:
        return None
    for step, value in zip(curve["steps"], curve["mean"]):
        if value >= target - TOLERANCE:
            return step
    return None


def convergence(curves: dict[str, dict | None], reference: str) -> dict:
    """Per variant: steps to reach the reference's final seed-mean success, and the ratio to the reference's
    own steps (< 1: faster than the reference; `speedup` is its inverse, as the paper's "3.8x faster")."""
    ref = curves.get(reference)
    if ref is None:
        return {"target": None, "variants": {},
                "note": f"no learning curve for the reference {reference!r} (train.eval_every 0?)"}
    target = ref["mean"][-1]
    ref_steps = steps_to_reach(ref, target)
    out = {"target": target, "target_step": ref["steps"][-1], "reference_steps": ref_steps, "variants": {}}
    if target <= 0.0:
        out["note"] = "the reference's final success is 0: every curve reaches it at its first evaluation"
    for name, curve in curves.items():
        steps = steps_to_reach(curve, target)
        ratio = steps / ref_steps if steps is not None and ref_steps else None
        out["variants"][name] = {"steps_to_reach": steps, "ratio_to_reference": ratio,
                                 "speedup": 1.0 / ratio if ratio else None}
    return out
