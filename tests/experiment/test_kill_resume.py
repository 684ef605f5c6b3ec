"""A killed `sf experiment` (the runner and its commands, SIGKILL) resumes without redoing finished runs.

The runner runs for real in a subprocess; its `sf train` / `sf eval` commands are stand-ins that write what
the real ones would (the policy, eval.json), so the test takes seconds. The fourth run's training hangs until
the kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from experiment_plans import make_plan_dict

COMMAND = r"""
import json, os, pathlib, sys, time
args = sys.argv[1:]
run = pathlib.Path(args[args.index("--config") + 1]).parent
if args[0] == "train":
    if os.environ.get("HANG_RUN") and str(run).endswith(os.environ["HANG_RUN"]):
        (run / "hanging").write_text("")
        time.sleep(600)
    (run / "policy").mkdir(exist_ok=True)
    (run / "policy" / "model.safetensors").write_bytes(b"")
else:
    out = pathlib.Path(args[args.index("--out") + 1])
    out.write_text(json.dumps({"success_rate": 0.5, "per_task": {}, "subgoal_rates": {}, "config": {}}))
"""

DRIVER = r"""
import sys
from spatial_forcing.experiment import runner
from spatial_forcing.experiment.plan import load_plan
runner._sf = lambda *args: [sys.executable, "-c", sys.argv[3], *map(str, args)]
runner.run_experiment(load_plan(sys.argv[1]), sys.argv[2], jobs=1)
"""


def _experiment(plan, out, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(plan), str(out), COMMAND], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _starts(log) -> int:
    return log.read_text().count("\n=== ") if log.exists() else 0


def test_a_killed_experiment_resumes_without_redoing_finished_runs(synthetic_dataset, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(make_plan_dict(str(synthetic_dataset))))
    out = tmp_path / "exp"
    runs = out / "runs"
    order = ["baseline/seed0", "sf/seed0", "baseline/seed1", "sf/seed1", "baseline/seed2", "sf/seed2"]

    proc = _experiment(plan, out, {**os.environ, "HANG_RUN": "sf/seed1"})
    deadline = time.time() + 120
    while not (runs / "sf" / "seed1" / "hanging").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and the command it was running, as a crash would
    proc.wait()
    assert [r for r in order if (runs / r / "eval.json").exists()] == order[:3]
    assert not (runs / "sf" / "seed1" / "policy").exists()

    rerun = _experiment(plan, out, dict(os.environ))
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert all((runs / r / "eval.json").exists() for r in order) and (out / "summary.json").exists()
    for name in order[:3]:  # finished before the kill: neither trained nor evaluated again
        assert _starts(runs / name / "train.log") == 1 and _starts(runs / name / "eval.log") == 1, name
    assert _starts(runs / "sf" / "seed1" / "train.log") == 2  # the killed run started again
    for name in order[4:]:
        assert _starts(runs / name / "train.log") == 1, name
