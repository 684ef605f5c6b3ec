"""`sf report DIR [DIR ...] --out REPORT.md`: one section per claim of the paper (`experiment.claims`), from
`sf experiment` directories whose plans declare the claims they answer, and from `sf probe` outputs found
under the given directories. Writes REPORT.md, REPORT.json (every number) and REPORT_figures/*.png."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from spatial_forcing.experiment import claim_figures as figures
from spatial_forcing.experiment.claim_results import experiment_claims, probe_claim
from spatial_forcing.experiment.claims import CLAIMS, Claim
from spatial_forcing.experiment.verdict import RULE, UNCLEAR, claim_verdict
from spatial_forcing.utils.atomic import atomic_path, write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)


def collect(dirs: list[str | Path]) -> dict[str, list[dict]]:
    """claim id -> its measurements (one per experiment answering it; the probe claim from probe.json)."""
    found: dict[str, list[dict]] = {c: [] for c in CLAIMS}
    for d in dirs:
        if not Path(d).is_dir():
            raise SFError(f"{d}: not a directory; expected an `sf experiment` output directory")
        if (Path(d) / "plan.json").is_file():
            for claim, measurement in experiment_claims(d).items():
                found[claim].append(measurement)
    probe = probe_claim(dirs)
    if probe is not None:
        found["depth_probe"].append(probe)
    return found


def write_report(dirs: list[str | Path], out: str | Path, measured_only: bool = False) -> dict[str, list[dict]]:
    """Write the report; `measured_only` leaves out the claims no directory answers (their sections and rows)
    and says which they are in one line, for a report on one experiment."""
    out = Path(out)
    if out.is_dir():
        raise SFError(f"--out {out} is a directory; expected a markdown file such as REPORT.md")
    found = collect(dirs)
    if not any(found.values()):
        log.warning("no experiment in %s declares a claim (plan key \"claims\") and no probe.json was found",
                    [str(d) for d in dirs])
    fig_dir = out.parent / f"{out.stem}_figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    shown = [c for c in CLAIMS if found[c] or not measured_only]
    sections = [_section(i + 1, claim, CLAIMS[claim], found[claim], fig_dir, out.parent)
                for i, claim in enumerate(shown)]
    text = "\n".join([*_head(dirs, out, found, shown), *sections])
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    write_json(out.with_suffix(".json"), {"sources": [str(d) for d in dirs], "rule": RULE, "claims": found})
    log.info("wrote %s, %s and %s/", out, out.with_suffix(".json"), fig_dir)
    return found


def _f(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _spec(m: dict, sign: str = "") -> str:
    """How a measurement's figures print: whole numbers for step counts, 4 decimals for action losses, 3 for
    rates and errors."""
    if m["metric"].startswith("steps"):
        return f"{sign}.0f"
    return f"{sign}.4f" if "loss" in m["metric"] else f"{sign}.3f"


def _ci(ci: list[float] | None, spec: str = "+.3f") -> str:
    return "n/a (n < 2)" if not ci else f"[{_f(ci[0], spec)}, {_f(ci[1], spec)}]"


def _overall(measurements: list[dict]) -> str:
    return claim_verdict([m["verdict"] for m in measurements]) if measurements else "not measured"


def _head(dirs: list[str | Path], out: Path, found: dict[str, list[dict]],
          shown: list[str] | None = None) -> list[str]:
    shown = list(CLAIMS) if shown is None else shown
    flag = [] if len(shown) == len(CLAIMS) else ["--measured-only"]
    command = " ".join(["sf report", *map(str, dirs), "--out", str(out), *flag])  # exactly what rebuilds this file
    lines = ["# Spatial Forcing: the paper's claims, measured", "",
             f"Built by `{command}` from `sf experiment` directories "
             "(plans with a `claims` key) and `sf probe` outputs. Every number below is in the sibling "
             "`.json` file.", "", f"**Verdict rule.** {RULE}", "",
             *([f"Not measured here (left out): {', '.join(f'`{c}`' for c in CLAIMS if c not in shown)}.", ""]
               if flag else []),
             "| claim | paper | ours (paired difference, 95% CI) | verdict "
             "| held-out action loss (paired, 95% CI; not part of the verdict) |", "|---|---|---|---|---|"]
    for claim in shown:
        spec = CLAIMS[claim]
        paper = "; ".join(f"{k}: {v}" for k, v in spec.paper_numbers.items())
        several = len(found[claim]) > 1  # then each measurement names its experiment
        name = (lambda m: Path(m["source"]).name + ": ") if several else (lambda m: "")
        ours = "; ".join(f"{name(m)}{_ours(m)}" for m in found[claim] if _ours(m)) or "-"
        held_out = "; ".join(f"{name(m)}{_diffs(s)}" for m in found[claim] for s in m.get("secondary", [])
                             if s["key"] == "final_val_action_loss" and s["comparisons"]) or "-"
        lines.append(f"| {spec.title} | {paper} | {ours} | {_overall(found[claim])} | {held_out} |")
    return lines + [""]


def _section(number: int, claim: str, spec: Claim, measurements: list[dict], fig_dir: Path,
             base: Path) -> str:
    lines = [f"## {number}. {spec.title} (`{claim}`)", "", f"**Paper.** {spec.paper}", "",
             "| paper | figure |", "|---|---|", *(f"| {k} | {v} |" for k, v in spec.paper_numbers.items()), ""]
    if not measurements:
        lines += ["**Not measured.** No directory given to `sf report` answers this claim. To measure it:", "",
                  f"    {_command(claim, spec)}", ""]
        return "\n".join(lines)
    for i, m in enumerate(measurements):
        plain, signed = _spec(m), _spec(m, "+")
        lines += [f"**Ours** ({m['metric']}; from `{m['source']}`):", "",
                  "| variant | mean ± std | seeds |", "|---|---|---|",
                  *(f"| {r['label']} | {_f(r['mean'], plain)} ± {_f(r['std'], plain)} | {r['n']} |"
                    for r in m["rows"]), "",
                  *(["| paired difference | mean | 95% CI | seeds | verdict |", "|---|---|---|---|---|",
                     *(f"| {c['label']} | {_f(c['mean'], signed)} | {_ci(c['ci95'], signed)} | {c['n']} | "
                       f"{c['verdict']} |" for c in m["comparisons"]), ""] if m["comparisons"] else []),
                  _sentence(spec, m), ""]
        if m.get("note"):
            lines += [f"Note: {m['note']}.", ""]
        lines += _secondary_lines(m)
        lines += _extra_lines(claim, m)
        for name, path in _figures(claim, m, fig_dir, suffix="" if i == 0 else f"_{i}"):
            lines += [f"![{name}]({os.path.relpath(path, base)})", ""]
    return "\n".join(lines)


def _sentence(spec: Claim, m: dict) -> str:
    side = "higher" if spec.direction > 0 else "lower"
    if not m["comparisons"]:
        why = "no paired difference (see the note)" if m["rows"] else "nothing to compare yet"
        return f"**Verdict: {UNCLEAR}**: {why}."
    return (f"**Verdict: {m['verdict']}** (the paper's direction: {side} than `{m['reference']}`; paired "
            f"differences {_diffs(m)}).")


def _diffs(m: dict) -> str:
    """Each paired difference of a measurement, in its own format."""
    return "; ".join(_diff(c, _spec(m, "+")) for c in m["comparisons"])


def _ours(m: dict) -> str:
    """A measurement in the head table: its paired differences, or else the seed-mean speed-up a
    convergence measurement without per-seed curves holds ("" if neither)."""
    if m["comparisons"]:
        return _diffs(m)
    speedup = m["extra"].get("speedup") or {}
    return "; ".join(f"{v} {'never reaches it' if x is None else f'x{x:.2f}'} (seed-mean curves, no interval)"
                     for v, x in speedup.items())


def _diff(c: dict, signed: str = "+.3f") -> str:
    """One paired difference: `label mean [low, high]`."""
    return f"{c['label']} {_f(c['mean'], signed)} {_ci(c['ci95'], signed)}"


def _secondary_lines(m: dict) -> list[str]:
    """The action losses beside the success verdict, read in the paper's direction (lower for the variant it
    favours): "supported" here says only that the loss moved that way."""
    rows = [f"| {s['metric']} | {c['label']} | {_f(c['mean'], _spec(s, '+'))} "
            f"| {_ci(c['ci95'], _spec(s, '+'))} | {c['n']} | {c['verdict']} |"
            for s in m.get("secondary", []) for c in s["comparisons"]]
    if not rows:
        return []
    return ["Secondary measures (not part of the verdict; read in the paper's direction, a lower loss for "
            "the variant it favours):", "", "| measure | paired difference | mean | 95% CI | seeds | reads |",
            "|---|---|---|---|---|---|", *rows, ""]


def _extra_lines(claim: str, m: dict) -> list[str]:
    extra = m["extra"]
    if claim == "convergence" and "speedup" in extra:
        speed = ", ".join(f"{v}: x{_f(s, '.2f')}" for v, s in extra["speedup"].items())
        censored = {v: s for v, s in extra["censored"].items() if s}
        return [f"Target: the reference's seed-mean success at its last evaluation (step {extra['target_step']}): "
                f"{_f(extra['target'])}. Speed-up (reference's mean steps / the variant's; the paper: x3.8): "
                f"{speed}." + (f" Seeds that never reached it (counted one interval past their last "
                               f"evaluation): {censored}." if censored else ""), ""]
    if claim == "depth_probe":
        rows = [f"| {v} | {_f(extra['delta1'][v]['mean'])} | {_f(extra['objects_r2'][v]['mean'])} |"
                for v in extra["delta1"]]
        paired = [f"{_diff(c)} (n = {c['n']})"
                  for c in extra.get("objects_r2_paired", {}).values()]
        return ["| variant | delta<1.25 (mean) | object xyz R^2 (mean) |", "|---|---|---|", *rows, "",
                *([f"Object xyz R^2, paired: {'; '.join(paired)}.", ""] if paired else [])]
    return []


def _figures(claim: str, m: dict, fig_dir: Path, suffix: str) -> list[tuple[str, Path]]:
    """Draw the claim's figures; (caption, path) of each."""
    out = []
    extra = m["extra"]
    if claim == "convergence":
        if extra.get("curves"):
            out.append(("success vs steps", fig_dir / f"{claim}{suffix}.png"))
            figures.curves(extra["curves"], extra["target"], "success vs training steps", out[-1][1])
        return out
    if claim == "data_efficiency":
        out.append(("success vs data fraction", fig_dir / f"{claim}{suffix}.png"))
        figures.fractions(extra["success"], extra["fractions"], "success vs data fraction", out[-1][1])
        return out
    if m["rows"]:
        ylabel = "held-out depth AbsRel" if claim == "depth_probe" else "final success"
        out.append((f"{claim}: per variant", fig_dir / f"{claim}{suffix}.png"))
        figures.bars(m["rows"], ylabel, f"{claim}: {m['metric']}", out[-1][1])
    if extra.get("layer_weights"):
        out.append(("adaptive mix: layer weights over steps", fig_dir / f"{claim}{suffix}_layer_weights.png"))
        figures.layer_weights(extra["layer_weights"], "adaptive mix: softmax layer weights", out[-1][1])
    return out


def _command(claim: str, spec: Claim) -> str:
    if spec.measure == "probe":
        return ("sf probe --policy OUT/runs/<variant>/seed<k>/policy --dataset HELDOUT --out "
                "OUT/probe/<variant>/seed<k>   # for baseline and SF runs of every seed (HELDOUT: a "
                "--record-geometry dataset of other episodes), then: sf report OUT ... --out REPORT.md")
    name = Path(spec.plan).stem
    return (f"sf experiment {spec.plan} --out runs/{name} --jobs 2 && sf report runs/{name} --out REPORT.md   "
            f"# claims.{claim}: {list(spec.suggested)}")
