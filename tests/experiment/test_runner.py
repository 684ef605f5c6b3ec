"""The runner's bookkeeping with a fake run executor (no training): seed-major order, threads per job, skip
and resume, failures that do not stop the others, --only, refusal of a changed plan, the summary's numbers."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import signal
import sys
import threading
import time

import pytest

from spatial_forcing.experiment import runner
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.runs import Run, plan_runs
from spatial_forcing.experiment.summary import summarize
from spatial_forcing.utils.errors import SFError

from experiment_plans import FakeExecutor, make_plan_dict


@pytest.fixture
def plan(synthetic_dataset) -> ExperimentPlan:
    return ExperimentPlan.from_dict(make_plan_dict(str(synthetic_dataset)))


def test_runs_seed_major_then_skips_finished_runs(plan, tmp_path, monkeypatch):
    fake = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", fake)
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=1)
    assert [c[0] for c in fake.calls] == ["baseline/seed0", "sf/seed0", "baseline/seed1", "sf/seed1",
                                          "baseline/seed2", "sf/seed2"]
    assert {c[1] for c in fake.calls} == {2} and out.failed == {}
    assert out.caches == 0  # online targets: no cache
    saved = json.loads((tmp_path / "exp" / "plan.json").read_text())
    assert saved["variants"] == plan.variants
    assert saved["resolved"]["variants"]["sf"]["align"]["alpha"] == 0.25

    again = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", again)
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=2)
    assert again.calls == [] and out.executed == [] and out.runs == 6


def test_summary_numbers(plan, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    runner.run_experiment(plan, tmp_path / "exp", jobs=3)
    s = summarize(tmp_path / "exp")
    base, sf = s["variants"]["baseline"], s["variants"]["sf"]
    assert base["success"]["mean"] == pytest.approx(0.3) and base["success"]["std"] == pytest.approx(0.1)
    assert sf["success"]["per_seed"] == {"0": 0.5, "1": 0.5, "2": 0.6}
    assert sf["per_task"]["left_of_cylinder"] == pytest.approx(1.6 / 3)
    assert sf["subgoals"]["picked"] == pytest.approx(0.8 / 3)
    assert base["final_action_loss"]["mean"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4 + 1 / 5 + 1 / 6) / 5)
    assert base["align"] is None and sf["align"]["residual_cos"]["mean"] == pytest.approx(0.6)  # last logged
    assert sf["train_seconds"]["per_seed"] == {"0": 12.0, "1": 12.0, "2": 12.0}
    assert sf["eval_seconds"]["mean"] == pytest.approx(31.0) and sf["eval_seconds"]["std"] == pytest.approx(1.0)
    assert base["eval_seconds"]["mean"] == pytest.approx(61.0)  # episode_seconds preferred to the last wall time
    paired = s["paired"]["sf"]
    assert paired["differences"] == pytest.approx({"0": 0.3, "1": 0.1, "2": 0.3})
    half = 4.302653 * 0.1154701 / 3 ** 0.5
    assert paired["ci95"] == pytest.approx([0.7 / 3 - half, 0.7 / 3 + half], abs=1e-6)
    picked = s["paired_secondary"]["sf"]["picked"]  # picked = success / 2 in the fake runs
    assert picked["differences"] == pytest.approx({"0": 0.15, "1": 0.05, "2": 0.15})
    assert picked["ci95"] == pytest.approx([0.35 / 3 - half / 2, 0.35 / 3 + half / 2], abs=1e-6)
    assert s["paired_secondary"]["sf"]["final_action_loss"]["mean"] == pytest.approx(0.0)  # same fake losses
    assert s["curves"]["success"]["sf"]["mean"] == pytest.approx([0.1, 0.3, 0.5])
    assert s["curves"]["align"]["sf"]["residual_cos"]["steps"] == [1, 2, 3, 4, 5, 6]
    assert "baseline" not in s["curves"]["align"]
    conv = s["convergence"]
    assert conv["reference_steps"] == 6 and conv["variants"]["sf"]["steps_to_reach"] == 4
    assert conv["variants"]["sf"]["speedup"] == pytest.approx(1.5)
    assert (tmp_path / "exp" / "summary.png").stat().st_size > 0
    md = (tmp_path / "exp" / "summary.md").read_text()
    assert "| sf | 3/3 | 0.533 ± 0.058 |" in md and "| sf | picked | +0.1167 |" in md
    assert "| baseline | 0.2 ± 0.0 | 1.0 ± 0.0 |" in md  # cost per run, minutes

    from spatial_forcing.experiment.summary import write_summary

    other = write_summary(tmp_path / "exp", reference="sf")  # pair with another variant
    assert other["reference"] == "sf" and other["paired"]["baseline"]["differences"] == pytest.approx(
        {"0": -0.3, "1": -0.1, "2": -0.3})
    assert (tmp_path / "exp" / "summary_vs_sf.md").is_file() and s == summarize(tmp_path / "exp")
    with pytest.raises(SFError, match="--reference 'nope': no such variant"):
        summarize(tmp_path / "exp", reference="nope")


def test_a_failed_run_does_not_stop_the_others_and_is_retried(plan, tmp_path, monkeypatch):
    fake = FakeExecutor(fail={"sf/seed0"})
    monkeypatch.setattr(runner, "execute_run", fake)
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=2)
    assert list(out.failed) == ["sf/seed0"] and len(fake.calls) == 6
    s = summarize(tmp_path / "exp")
    assert s["variants"]["sf"]["missing_seeds"] == [0] and s["paired"]["sf"]["seeds"] == [1, 2]
    assert s["runs"]["sf/seed0"] == "new"

    retry = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", retry)
    assert runner.run_experiment(plan, tmp_path / "exp").executed == ["sf/seed0"]


def test_an_exception_in_one_run_is_its_failure_only(plan, tmp_path, monkeypatch):
    fake = FakeExecutor()

    def flaky(run: Run, threads: int, **options) -> str | None:
        if run.name == "baseline/seed1":
            raise RuntimeError("disk on fire")
        return fake(run, threads, **options)

    monkeypatch.setattr(runner, "execute_run", flaky)
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=2)
    assert out.failed == {"baseline/seed1": "RuntimeError: disk on fire"} and len(fake.calls) == 5
    assert out.summary["variants"]["baseline"]["seeds"] == [0, 2]


def test_only_added_seeds_and_refusals(plan, tmp_path, monkeypatch, synthetic_dataset):
    fake = FakeExecutor()
    monkeypatch.setattr(runner, "execute_run", fake)
    runner.run_experiment(plan, tmp_path / "exp", only=["sf"])
    assert [c[0] for c in fake.calls] == ["sf/seed0", "sf/seed1", "sf/seed2"]
    with pytest.raises(SFError, match=r"--only nope: no variant\(s\) \['nope'\]"):
        runner.run_experiment(plan, tmp_path / "exp", only=["nope"])
    with pytest.raises(SFError, match="--jobs must be >= 1"):
        runner.run_experiment(plan, tmp_path / "exp", jobs=0)

    grown = make_plan_dict(str(synthetic_dataset))
    grown["seeds"].append(5)
    fake.calls.clear()
    runner.run_experiment(ExperimentPlan.from_dict(grown), tmp_path / "exp", only=["sf"])
    assert [c[0] for c in fake.calls] == ["sf/seed5"]

    changed = make_plan_dict(str(synthetic_dataset))
    changed["train"]["steps"] = 7
    with pytest.raises(SFError, match=r"plan.json was made from a different plan \(train.steps: 6 -> 7\)"):
        runner.run_experiment(ExperimentPlan.from_dict(changed), tmp_path / "exp")


def test_a_plan_nothing_was_made_from_may_still_change(plan, tmp_path, monkeypatch, synthetic_dataset):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "plan.json").write_text(json.dumps(runner.resolved_plan(plan, out)))  # e.g. its generation failed
    changed = make_plan_dict(str(synthetic_dataset))
    changed["train"]["steps"] = 7
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    runner.run_experiment(ExperimentPlan.from_dict(changed), out, only=["baseline"])
    assert json.loads((out / "plan.json").read_text())["train"]["steps"] == 7


def test_dry_run_writes_nothing(plan, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    runner.run_experiment(plan, tmp_path / "exp", only=["baseline"])
    capsys.readouterr()
    out = runner.run_experiment(plan, tmp_path / "exp", dry_run=True, jobs=2)
    text = capsys.readouterr().out
    assert out.executed == [] and "6 runs (2 variants x 3 seeds), 6 selected, 3 to do" in text
    assert "baseline/seed0                 done" in text and "sf/seed0                       new" in text
    assert "train --config" in text and "--threads 1" in text
    assert not (tmp_path / "exp" / "runs" / "sf").exists()
    runner.run_experiment(plan, tmp_path / "fresh", dry_run=True)
    assert not (tmp_path / "fresh").exists()


def test_run_status_and_a_run_dir_from_other_settings(plan, tmp_path):
    run = plan_runs(plan, tmp_path, "/data")[1]
    assert (run.name, run.status()) == ("sf/seed0", "new")
    ckpt = run.dir / "checkpoints" / "step_000004"
    ckpt.mkdir(parents=True)
    (ckpt / "train_state.json").write_text('{"step": 4}')
    (run.dir / "checkpoints" / "latest").write_text("step_000004")
    assert run.status() == "resume from step 4"
    (run.dir / "policy").mkdir()
    (run.dir / "policy" / "model.safetensors").write_bytes(b"")
    assert run.status() == "evaluate"
    (run.dir / "eval.json").write_text(json.dumps({"config": {**dataclasses.asdict(run.eval_config()),
                                                              "workers": 2}}))
    run.check()  # workers do not change results
    assert run.status() == "done"

    run.write_configs()
    moved = plan_runs(plan, tmp_path, "/elsewhere")[1]
    moved.check()  # a moved dataset / OUT is not a different experiment
    other = {**dataclasses.asdict(run.eval_config()), "seed": 1}
    (run.dir / "eval.json").write_text(json.dumps({"config": other}))
    with pytest.raises(SFError, match=r"eval.json was evaluated with other settings \(config.seed: 1 -> 7\)"):
        run.check()
    stale = dict(run.train, lr=0.1)
    (run.dir / "plan_train.json").write_text(json.dumps(stale))
    with pytest.raises(SFError, match=r"plan_train.json differs from the plan \(plan_train.lr: 0.1 -> "):
        run.check()


def test_execute_run_reports_the_log_tail_of_a_failed_command(plan, tmp_path):
    run = plan_runs(plan, tmp_path, tmp_path / "no_such_dataset")[0]
    error = runner.execute_run(run, threads=1)
    assert error.startswith("`sf train` exited with code 2; last lines of") and "train.log" in error
    assert "no_such_dataset" in error and "=== " in (run.dir / "train.log").read_text()
    assert (run.dir / "plan_train.json").is_file() and not (run.dir / "eval.log").exists()


def test_execute_run_refuses_a_run_locked_by_another_process(plan, tmp_path):
    run = plan_runs(plan, tmp_path, "/data")[0]
    run.dir.mkdir(parents=True)
    with open(run.dir / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert "is in use by another process" in runner.execute_run(run, threads=1)
    assert not (run.dir / "train.log").exists()


def test_an_interrupt_cancels_queued_runs_and_terminates_running_commands(plan, tmp_path, monkeypatch):
    # every command sleeps a minute, except those of the first run; when that run completes, Ctrl-C arrives
    code = "import sys, time; time.sleep(0 if 'baseline/seed0' in ' '.join(sys.argv) else 60)"
    monkeypatch.setattr(runner, "_sf", lambda *args: [sys.executable, "-c", code, *map(str, args)])

    def interrupt(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "read_json", interrupt)
    runs = plan_runs(plan, tmp_path, "/data")
    start = time.time()
    with pytest.raises(KeyboardInterrupt):
        runner._execute(runs, jobs=2, threads=1)
    assert time.time() - start < 30 and not runner._RUNNING  # the sleeping commands were terminated
    started = [r.name for r in runs if (r.dir / "train.log").exists()]
    assert started[:2] == ["baseline/seed0", "sf/seed0"]
    assert len(started) <= 3  # the queued runs never started (a third may have begun as the first ended)


def test_caches_are_built_in_a_slot_while_the_baseline_trains(synthetic_dataset, tmp_path, monkeypatch):
    """--jobs 2: the baseline starts while the teacher cache builds; the SF runs start only once it is built;
    a failed cache fails the runs that read it, not the baseline."""
    data = make_plan_dict(str(synthetic_dataset))
    data["variants"]["sf"]["targets"] = "cache"
    data["variants"]["sf"]["teacher_weights"] = ""
    plan = ExperimentPlan.from_dict({**data, "seeds": [0]})
    events: list[str] = []
    fake = FakeExecutor()

    def executor(run: Run, threads: int, **options) -> str | None:
        events.append(f"start {run.name}")
        time.sleep(0.2)
        return fake(run, threads, **options)

    def warm(runs, threads):
        events.append(f"warm {[r.name for r in runs]} threads={threads}")
        deadline = time.time() + 10  # the build "lasts" until the baseline has started in the other slot (or 10 s:
        while "start baseline/seed0" not in events and time.time() < deadline:  # a fixed sleep raced the thread)
            time.sleep(0.01)
        events.append("warm done")
        return 1

    monkeypatch.setattr(runner, "execute_run", executor)
    monkeypatch.setattr(runner, "warm_caches", warm)
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=2)
    assert out.failed == {} and out.caches == 1
    assert events[0].startswith("warm") or events[1].startswith("warm")
    assert "threads=1" in next(e for e in events if e.startswith("warm ["))
    assert events.index("start baseline/seed0") < events.index("warm done") < events.index("start sf/seed0")

    def broken(runs, threads):
        raise SFError("teacher weights: file not found")

    monkeypatch.setattr(runner, "warm_caches", broken)
    out = runner.run_experiment(plan.__class__.from_dict({**data, "seeds": [1]}), tmp_path / "exp2", jobs=2)
    assert list(out.failed) == ["sf/seed1"] and "teacher weights: file not found" in out.failed["sf/seed1"]


def test_an_interrupt_does_not_wait_for_the_teacher_cache_being_built(synthetic_dataset, tmp_path,
                                                                      monkeypatch):
    data = make_plan_dict(str(synthetic_dataset))
    data["variants"]["sf"]["targets"] = "cache"
    data["variants"]["sf"]["teacher_weights"] = ""
    release = threading.Event()

    def warm(runs, threads):
        release.wait(30)  # a long build, ended by the test once it has measured
        return 1

    def interrupted(run: Run, threads: int, **options) -> str | None:
        time.sleep(0.2)
        raise KeyboardInterrupt  # Ctrl-C while the baseline trains beside the cache build

    monkeypatch.setattr(runner, "execute_run", interrupted)
    monkeypatch.setattr(runner, "warm_caches", warm)
    start = time.time()
    with pytest.raises(KeyboardInterrupt):
        runner.run_experiment(ExperimentPlan.from_dict({**data, "seeds": [0]}), tmp_path / "exp", jobs=2)
    assert time.time() - start < 5  # before: the runner's thread pool waited for the build to end
    assert any(t.name == "teacher-cache" for t in threading.enumerate())  # left behind as a daemon
    release.set()


def test_a_cache_build_that_times_out_fails_its_runs(synthetic_dataset, tmp_path, monkeypatch):
    """A TimeoutError of the build (a lock, a download) is the build's error, not the wait's timeout."""
    data = make_plan_dict(str(synthetic_dataset))
    data["variants"]["sf"]["targets"] = "cache"
    data["variants"]["sf"]["teacher_weights"] = ""

    def warm(runs, threads):
        raise TimeoutError("lock held")

    monkeypatch.setattr(runner, "execute_run", FakeExecutor())
    monkeypatch.setattr(runner, "warm_caches", warm)
    def hung(signum, frame):
        raise RuntimeError("the runner waited forever on a failed cache build")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)  # the wait once spun on it forever
    try:
        plan = ExperimentPlan.from_dict({**data, "seeds": [0]})
        out = runner.run_experiment(plan, tmp_path / "exp", jobs=2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert out.failed == {"sf/seed0": "teacher cache: TimeoutError: lock held"}


def test_caches_first_with_every_core_when_asked(synthetic_dataset, tmp_path, monkeypatch):
    """overlap_caches=False (sf demo): the cache is built with both cores before either run starts."""
    data = make_plan_dict(str(synthetic_dataset))
    data["variants"]["sf"]["targets"] = "cache"
    data["variants"]["sf"]["teacher_weights"] = ""
    events: list[str] = []
    fake = FakeExecutor()

    def executor(run: Run, threads: int, **options) -> str | None:
        events.append(f"start {run.name} threads={threads}")
        return fake(run, threads, **options)

    def warm(runs, threads):
        events.append(f"warm threads={threads}")
        return 1

    monkeypatch.setattr(runner, "execute_run", executor)
    monkeypatch.setattr(runner, "warm_caches", warm)
    plan = ExperimentPlan.from_dict({**data, "seeds": [0]})
    out = runner.run_experiment(plan, tmp_path / "exp", jobs=2, overlap_caches=False)
    assert out.failed == {} and events[0] == f"warm threads={runner.CORES}"
    assert sorted(events[1:]) == ["start baseline/seed0 threads=1", "start sf/seed0 threads=1"]
