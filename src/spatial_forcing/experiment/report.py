"""Text views of a summary: the compact stdout table and summary.md."""

from __future__ import annotations


def _f(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _mean_std(stat: dict) -> str:
    return f"{_f(stat['mean'])} ± {_f(stat['std'])}"


def _diff(paired: dict | None) -> str:
    if paired is None:
        return "reference"
    if paired["mean"] is None:
        return "n/a"
    ci = paired["ci95"]
    return f"{paired['mean']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else f"{paired['mean']:+.3f} [n < 2]"


def _reach(conv: dict, name: str) -> str:
    entry = conv["variants"].get(name)
    if not entry:
        return "n/a"
    if entry["steps_to_reach"] is None:
        return "never"
    ratio = entry["ratio_to_reference"]
    return f"{entry['steps_to_reach']} (x{ratio:.2f})" if ratio is not None else str(entry["steps_to_reach"])


def _cos(variant: dict) -> str:
    align = variant["align"]
    if not align:
        return "-"
    return "/".join(_f(align[k]["mean"], ".2f") for k in ("align_cos", "position_only_cos", "residual_cos"))


def _rows(summary: dict) -> list[list[str]]:
    rows = []
    for name, v in summary["variants"].items():
        total = len(v["seeds"]) + len(v["missing_seeds"])
        per_seed = " ".join(_f(x, ".2f") for x in v["success"]["per_seed"].values()) or "-"
        rows.append([name, f"{len(v['seeds'])}/{total}", _mean_std(v["success"]), per_seed,
                     _diff(summary["paired"].get(name)), _f(v["subgoals"].get("picked")),
                     _f(v["final_action_loss"]["mean"], ".4f"),
                     _f(v.get("final_val_action_loss", {}).get("mean"), ".4f"), _cos(v),
                     _reach(summary["convergence"], name)])
    return rows


HEADER = ["variant", "seeds", "success mean ± std", "per seed", "diff vs reference [95% CI]", "picked",
          "action L1", "held-out L1", "cos/pos/res", "steps to ref final"]


def table(summary: dict) -> str:
    """Fixed-width table for stdout."""
    rows = [HEADER, *_rows(summary)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    conv = summary["convergence"]
    title = (f"experiment {summary['name']}: reference {summary['reference']!r}; final evaluation "
             f"{len(summary['eval']['tasks']) or 'all'} tasks x {len(summary['eval']['init_states'])} "
             f"initial states")
    foot = [f"steps to ref final: first evaluation step at which the seed-mean curve reaches "
            f"{_f(conv['target'])} (the reference's at step {conv.get('target_step', 'n/a')}); "
            f"(xR) = steps / reference's steps"]
    if conv.get("note"):
        foot.append(f"note: {conv['note']}")
    return "\n".join([title, *lines, *foot])


def markdown(summary: dict) -> str:
    """summary.md: the same table, per-task rates, paired differences per seed, run states."""
    out = [f"# Experiment `{summary['name']}`", "",
           f"Reference variant: `{summary['reference']}`. Seeds: {summary['seeds']}. Final evaluation: "
           f"{summary['eval']['env']}, tasks {summary['eval']['tasks'] or 'all'}, initial states "
           f"{summary['eval']['init_states']}.", "", "## Final success", ""]
    out += _md_table(HEADER, _rows(summary))
    tasks = list(dict.fromkeys(t for v in summary["variants"].values() for t in v["per_task"]))
    if tasks:
        out += ["", "## Success per task (mean over seeds)", ""]
        out += _md_table(["variant", *tasks], [[n, *(_f(v["per_task"].get(t)) for t in tasks)]
                                               for n, v in summary["variants"].items()])
    if summary["paired"]:
        out += ["", f"## Paired differences vs `{summary['reference']}` (success, per seed)", ""]
        out += _md_table(["variant", "seed: difference", "mean", "std", "t", "95% CI"],
                         [[n, ", ".join(f"{s}: {d:+.3f}" for s, d in p["differences"].items()) or "-",
                           _f(p["mean"], "+.3f"), _f(p["std"]), _f(p["t"]),
                           f"[{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}]" if p["ci95"] else "n/a"]
                          for n, p in summary["paired"].items()])
    secondary = summary.get("paired_secondary") or {}
    if secondary:
        out += ["", f"## Paired differences vs `{summary['reference']}` (sub-goals and action losses)", ""]
        out += _md_table(["variant", "measure", "mean", "std", "95% CI"],
                         [[n, k, _f(p["mean"], "+.4f"), _f(p["std"], ".4f"),
                           f"[{p['ci95'][0]:+.4f}, {p['ci95'][1]:+.4f}]" if p["ci95"] else "n/a"]
                          for n, measures in secondary.items() for k, p in measures.items()])
    conv = summary["convergence"]
    out += ["", "## Convergence", "",
            f"Target: the reference's seed-mean training-curve success at its last evaluation step "
            f"({conv.get('target_step', 'n/a')}): {_f(conv['target'])}."]
    if conv.get("note"):
        out += ["", f"Note: {conv['note']}."]
    if conv["variants"]:
        out += [""] + _md_table(["variant", "steps to reach", "ratio to reference", "speed-up"],
                                [[n, str(c["steps_to_reach"]), _f(c["ratio_to_reference"], ".2f"),
                                  _f(c["speedup"], ".2f")] for n, c in conv["variants"].items()])
    out += ["", "## Cost per run (mean ± std over seeds, minutes)", ""]
    out += _md_table(["variant", "training", "final evaluation"],
                     [[n, *(_minutes(v.get(k)) for k in ("train_seconds", "eval_seconds"))]
                      for n, v in summary["variants"].items()])
    out += ["", "## Runs", ""] + [f"- `{name}`: {state}" for name, state in summary["runs"].items()]
    out += ["", "## Definitions", ""] + [f"- {k}: {v}" for k, v in summary["notes"].items()]
    return "\n".join(out) + "\n"


def _minutes(stat: dict | None) -> str:
    if not stat or stat["mean"] is None:
        return "n/a"
    std = None if stat["std"] is None else stat["std"] / 60
    return f"{stat['mean'] / 60:.1f} ± {_f(std, '.1f')}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]
