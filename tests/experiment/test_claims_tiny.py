"""The CI run of the claims pipeline: `sf experiment configs/experiments/tiny_claims.json` (tiny preset, 4 steps,
2 seeds, 2 data fractions), `sf probe` on its baseline and SF students, then `sf report`: every claim has its
section, the measured ones their numbers and figures. Budget: 2 minutes on a 2-core machine, one torch thread
per process. The machine running the tests may be shared, so the budget is checked on the CPU time of this
process and its commands divided by the 2 cores (what the wall time is on an idle machine); the wall time is
printed beside it."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import torch

from spatial_forcing.cli.main import main
from spatial_forcing.experiment.claims import CLAIMS

PLAN = Path(__file__).parents[2] / "configs" / "experiments" / "tiny_claims.json"
CORES, BUDGET_S = 2, 120.0


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def test_tiny_claims_plan_probe_and_report_within_the_ci_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    out, report = tmp_path / "exp", tmp_path / "REPORT.md"
    start, cpu = time.time(), _cpu_seconds()
    assert main(["experiment", str(PLAN), "--out", str(out), "--jobs", "2"]) == 0
    for variant in ("baseline_frac1", "sf_frac1"):
        for seed in (0, 1):
            assert main(["probe", "--policy", str(out / "runs" / variant / f"seed{seed}" / "policy"), "--dataset",
                         str(out / "data"), "--out", str(out / "probe" / variant / f"seed{seed}"), "--steps", "20",
                         "--size", "16", "--stride", "4", "--examples", "1"]) == 0
    assert main(["report", str(out), "--out", str(report)]) == 0
    wall, cpu = time.time() - start, _cpu_seconds() - cpu
    with capsys.disabled():
        print(f"\ntiny claims: wall {wall:.0f} s, CPU {cpu:.0f} s = {cpu / CORES:.0f} s on {CORES} idle cores")
    assert cpu / CORES < BUDGET_S

    text = report.read_text()
    for number, spec in enumerate(CLAIMS.values(), 1):
        assert f"## {number}. {spec.title}" in text
    measured = ("success", "convergence", "data_efficiency", "depth_probe")
    assert text.count("**Not measured.**") == len(CLAIMS) - len(measured)
    claims = json.loads(report.with_suffix(".json").read_text())["claims"]
    for claim in measured:
        (m,) = claims[claim]
        assert m["verdict"] in ("supported", "not supported", "unclear") and len(m["comparisons"]) >= 1
        assert all(c["n"] == 2 for c in m["comparisons"]), claim  # both seeds paired
        assert (tmp_path / "REPORT_figures" / f"{claim}.png").stat().st_size > 1000
    assert [r["label"] for r in claims["success"][0]["rows"]] == ["baseline", "sf"]
    assert claims["data_efficiency"][0]["extra"]["fractions"] == [0.5, 1.0]
    assert claims["depth_probe"][0]["reference"] == "baseline_frac1"
    assert claims["convergence"][0]["extra"]["curves"]["sf"]["steps"] == [2, 4]
