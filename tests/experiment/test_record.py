"""`sf experiment --record DIR`: the runs' small files kept where they can be committed, and an experiment
that resumes from them on a fresh machine (a fake executor stands in for `sf train` + `sf eval`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.experiment import runner
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.record import RUN_FILES, restore_runs
from spatial_forcing.experiment.runs import plan_runs
from spatial_forcing.experiment.summary import summarize
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json

from experiment_plans import FakeExecutor, make_plan_dict


@pytest.fixture
def plan(synthetic_dataset) -> ExperimentPlan:
    return ExperimentPlan.from_dict(make_plan_dict(str(synthetic_dataset)))


def test_a_recorded_experiment_resumes_on_a_fresh_machine_without_running_again(plan, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    record = tmp_path / "results" / "exp"
    runner.run_experiment(plan, tmp_path / "runs" / "exp", jobs=2, record=record)
    kept = record / "runs" / "sf" / "seed1"
    made = {p.name for p in (tmp_path / "runs" / "exp" / "runs" / "sf" / "seed1").iterdir()}
    assert {"policy", "checkpoints", "eval.json", "metrics.jsonl"} <= made
    assert {p.name for p in kept.iterdir()} == made & set(RUN_FILES)  # no weights once evaluated
    assert {p.name for p in record.iterdir()} == {"plan.json", "runs", "summary.json", "summary.md",
                                                  "summary.png"}
    assert summarize(record) == summarize(tmp_path / "runs" / "exp")  # the record reads as an experiment

    shutil.rmtree(tmp_path / "runs")  # another machine: only the committed record
    again = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", again)
    out = runner.run_experiment(plan, tmp_path / "runs" / "exp", jobs=2, record=record)
    assert again.calls == [] and out.executed == []
    assert out.summary["variants"]["sf"]["success"]["per_seed"] == {"0": 0.5, "1": 0.5, "2": 0.6}


def test_a_policy_exported_before_an_interrupt_is_evaluated_elsewhere_untrained(plan, tmp_path, monkeypatch):
    record = tmp_path / "results"
    monkeypatch.setattr(runner, "execute_run", FakeExecutor(interrupt={"sf/seed0"}))
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(plan, tmp_path / "a", jobs=1, record=record)
    cut = record / "runs" / "sf" / "seed0"
    assert (cut / "policy" / "model.safetensors").read_bytes() == b"weights"
    assert not (cut / "eval.json").exists()
    assert len((cut / "eval.episodes.jsonl").read_text().splitlines()) == 2  # recorded on the interrupt
    assert (record / "runs" / "baseline" / "seed0" / "eval.json").is_file()

    elsewhere = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", elsewhere)
    out = runner.run_experiment(plan, tmp_path / "b", jobs=1, record=record)
    assert elsewhere.calls[0][0] == "sf/seed0" and "sf/seed0" not in elsewhere.trained
    assert elsewhere.logged["sf/seed0"] == 2  # its evaluation resumes after the 2 recorded episodes
    assert "baseline/seed0" not in elsewhere.trained and "sf/seed2" in elsewhere.trained
    assert out.failed == {} and (cut / "eval.json").is_file() and not (cut / "policy").exists()
    assert read_json(record / "summary.json")["variants"]["sf"]["seeds"] == [0, 1, 2]


def test_train_only_records_every_policy_and_a_fresh_machine_evaluates_them_without_data(
        tmp_path, monkeypatch, synthetic_dataset):
    plan = ExperimentPlan.from_dict({**make_plan_dict(str(tmp_path / "data")), "seeds": [0, 1]})
    shutil.copytree(synthetic_dataset, tmp_path / "data")
    first = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", first)
    record = tmp_path / "results"
    out = runner.run_experiment(plan, tmp_path / "a", jobs=2, record=record, train_only=True)
    assert sorted(first.trained) == ["baseline/seed0", "baseline/seed1", "sf/seed0", "sf/seed1"]
    assert out.failed == {} and not list(record.glob("runs/*/*/eval.json"))
    assert len(list(record.glob("runs/*/*/policy/model.safetensors"))) == 4
    assert runner.run_experiment(plan, tmp_path / "a", train_only=True).executed == []  # all trained

    shutil.rmtree(tmp_path / "a")
    shutil.rmtree(tmp_path / "data")  # evaluating needs no data
    then = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", then)
    out = runner.run_experiment(plan, tmp_path / "b", jobs=2, record=record)
    assert then.trained == [] and len(then.calls) == 4 and out.failed == {}
    assert len(list(record.glob("runs/*/*/eval.json"))) == 4 and not list(record.glob("runs/*/*/policy"))


def test_a_run_further_along_in_out_is_recorded_and_not_overwritten(plan, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    runner.run_experiment(plan, tmp_path / "out", jobs=1, only=["baseline"])  # no record yet
    record = tmp_path / "record"
    quiet = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", quiet)
    runner.run_experiment(plan, tmp_path / "out", jobs=1, only=["baseline"], record=record)
    assert quiet.calls == [] and (record / "runs" / "baseline" / "seed2" / "eval.json").is_file()
    assert not (record / "runs" / "sf").exists()


def test_refusals_and_a_dry_run_that_counts_what_it_would_restore(plan, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    record = tmp_path / "record"
    runner.run_experiment(plan, tmp_path / "a", jobs=1, only=["baseline"], record=record)
    with pytest.raises(SFError, match="--record .*the same directory as --out"):
        runner.run_experiment(plan, record, record=record)
    (tmp_path / "a_file").write_text("kept")
    with pytest.raises(SFError, match="--record .*a_file: a file, expected a directory"):
        runner.run_experiment(plan, tmp_path / "b", record=tmp_path / "a_file")
    assert (tmp_path / "a_file").read_text() == "kept" and not (tmp_path / "b").exists()
    other = ExperimentPlan.from_dict({**plan.to_dict(), "train": {**plan.train, "lr": 0.5}})
    with pytest.raises(SFError, match=r"record/plan.json was made from a different plan"):
        runner.run_experiment(other, tmp_path / "b", record=record)

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.to_dict()))
    assert main(["experiment", str(plan_file), "--out", str(tmp_path / "c"), "--record",
                 str(record), "--dry-run"]) == 0
    assert "3 run(s) to restore into" in capsys.readouterr().out and not (tmp_path / "c").exists()


def test_git_keeps_a_record_and_ignores_its_temporary_copies():
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0

    assert not ignored("results/x/runs/sf/seed0/eval.json")  # `runs` once matched every such directory
    assert not ignored("results/x/runs/sf/seed0/policy/model.safetensors")
    assert ignored("runs") and ignored("results/x/runs/sf/seed0/.policy.ab12.tmp/item")


def test_a_restored_policy_never_sits_beside_an_episode_log_of_another(plan, tmp_path):
    out, record = tmp_path / "out", tmp_path / "record"
    run = plan_runs(plan, out, "/data")[0]
    kept = record / "runs" / run.variant / f"seed{run.seed}"
    (kept / "policy").mkdir(parents=True)
    (kept / "policy" / "model.safetensors").write_bytes(b"A")
    (run.dir / "policy").mkdir(parents=True)
    (run.dir / "eval.episodes.jsonl").write_text('{"policy": "B"}\n')  # OUT's policy B was lost, its log not
    assert restore_runs([run], out, record) == [run.name]
    assert (run.dir / "policy" / "model.safetensors").read_bytes() == b"A"
    assert not (run.dir / "eval.episodes.jsonl").exists()

    (kept / "eval.episodes.jsonl").write_text('{"policy": "A"}\n' * 3)  # the record is further along
    (run.dir / "eval.episodes.jsonl").write_text('{"policy": "A"}\n')
    assert restore_runs([run], out, record) == [run.name] and restore_runs([run], out, record) == []
    assert len((run.dir / "eval.episodes.jsonl").read_text().splitlines()) == 3


def test_sigterm_stops_the_runner_as_ctrl_c_does():
    from spatial_forcing.cli.experiment import _stopped_like_ctrl_c

    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), _stopped_like_ctrl_c():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
