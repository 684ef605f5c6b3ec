"""`sf experiment`: every (variant, seed) run of a plan, trained (`sf train --resume`) and evaluated
(`sf eval`) in subprocesses, `jobs` runs at a time, then the summary.

Order: check OUT against the plan (and every existing run against its recorded configs) -> OUT/plan.json
-> the dataset -> teacher caches, one after the other -> runs, seed-major -> summary. With --jobs >= 2 the
caches are built by one of the job slots (with that slot's threads) while runs that read no cache (the
baseline) already train; runs that read a cache wait for it. Finished runs are
skipped, a killed run resumes from its last checkpoint and its evaluation's episode log, a failed run is
reported with the tail of its log and does not stop the others.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from spatial_forcing.experiment.caches import cache_plan, needs_cache, warm_caches
from spatial_forcing.experiment.compat import plan_change
from spatial_forcing.experiment.dataset import (GENERATED_DIRS, dataset_dir, dataset_ready, dataset_sections,
                                                ensure_dataset, val_dataset_dir)
from spatial_forcing.experiment.plan import ExperimentPlan
from spatial_forcing.experiment.record import restorable, restore_runs, save_experiment, save_run
from spatial_forcing.experiment.runs import Run, experiment_runs
from spatial_forcing.experiment.summary import write_summary
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.dataclass_cli import build_config
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json

log = logging.getLogger(__name__)

CORES = 2  # CPU cores the runs share: with --jobs N each run gets max(1, CORES // N) torch/OpenMP threads
LOG_TAIL = 15  # lines of a failed run's log shown in the report
_RUNNING: set[subprocess.Popen] = set()  # commands running now (terminated on an interrupt)
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set on an interrupt: no new command starts


@dataclasses.dataclass
class Outcome:
    """What one invocation of the runner did."""

    runs: int  # runs of the plan (all variants x seeds)
    selected: int  # runs selected by --only
    executed: list[str]  # runs trained and/or evaluated by this invocation
    failed: dict[str, str]  # run -> what failed
    caches: int  # distinct teacher caches built or checked before the runs
    summary: dict | None  # what summary.json holds (None for a dry run)


def run_experiment(plan: ExperimentPlan, out_dir: str | Path, jobs: int = 1,
                   only: Sequence[str] | None = None, dry_run: bool = False,
                   overlap_caches: bool = True, record: str | Path | None = None,
                   train_only: bool = False) -> Outcome:
    """Run whatever is left of the plan in OUT; writes OUT/plan.json, the runs and OUT/summary.*.

    `overlap_caches=False` builds the teacher caches with every core before any run starts (instead of in one
    slot beside the baseline): shorter for one baseline and one SF run, which then train side by side.
    `record`: a directory kept up to date with the runs' small files (`experiment.record`), from which the
    runs it holds are first restored into OUT. `train_only`: train the selected runs and evaluate none (for a
    plan whose evaluations outlast a working session: every policy is trained, and recorded, while the data
    is there; the evaluations follow, without the data, in later invocations)."""
    out_dir = Path(out_dir)
    if jobs < 1:
        raise SFError(f"--jobs must be >= 1, got {jobs}")
    _check_out_dir(plan, out_dir)
    record = Path(record) if record else None
    if record is not None:
        if record.exists() and not record.is_dir():
            raise SFError(f"--record {record}: a file, expected a directory (e.g. results/<name>)")
        if record.resolve() == out_dir.resolve():
            raise SFError(f"--record {record}: the same directory as --out; give another one, e.g. "
                          f"results/<name>")
        _check_out_dir(plan, record)
    runs = experiment_runs(plan, out_dir)
    selected = _select(runs, only, plan)
    if record is not None and not dry_run:
        restore_runs(runs, out_dir, record)
    for run in runs:
        run.check()
    todo = [r for r in selected if not (r.trained if train_only else r.finished)]
    threads = max(1, CORES // jobs)
    if dry_run:
        text = _dry_run_text(plan, out_dir, runs, selected, todo, jobs, threads)
        print(text + (f"\nrecord: {record} ({len(restorable(runs, out_dir, record))} run(s) to restore into "
                      f"{out_dir} first)" if record is not None else ""))
        return Outcome(len(runs), len(selected), [], {}, 0, None)

    write_json(out_dir / "plan.json", resolved_plan(plan, out_dir))
    keep = None
    if record is not None:
        keep = functools.partial(_keep, out_dir=out_dir, record=record)
        _record_all(runs, out_dir, record)  # e.g. a policy exported before a kill cut its evaluation short
    if any(not r.trained for r in todo):  # evaluating an exported policy needs no data
        for section in dataset_sections(plan):
            ensure_dataset(plan, out_dir, section)
    to_warm = [r for r in todo if not r.trained]
    caches = len(cache_plan(to_warm))
    overlap = overlap_caches and jobs > 1 and caches > 0 and any(not needs_cache(r) for r in todo)
    if caches and not overlap:
        warm_caches(to_warm, CORES)
    log.info("%d of %d runs to do (%d selected), %d at a time with %d thread(s) each%s", len(todo), len(runs),
             len(selected), jobs, threads, "; teacher caches built in one of the slots" if overlap else "")
    try:
        warm = (lambda: warm_caches(to_warm, threads)) if overlap else None
        failed = _execute(todo, jobs, threads, warm=warm, keep=keep, evaluate=not train_only)
    except BaseException:
        if record is not None:  # what the stopped runs reached: a policy, part of an evaluation's episodes
            _record_all(runs, out_dir, record)
        raise
    summary = write_summary(out_dir)
    if record is not None:
        save_experiment(out_dir, record)
    return Outcome(len(runs), len(selected), [r.name for r in todo], failed, caches, summary)


def resolved_plan(plan: ExperimentPlan, out_dir: Path) -> dict:
    """OUT/plan.json: the plan as given, plus (under "resolved", for reading) the dataset locations, every
    variant's complete TrainConfig (seed, out and threads are per run) and the complete final EvalConfig."""
    dataset, held_out = dataset_dir(plan, out_dir), val_dataset_dir(plan, out_dir)
    variants = {}
    for name in plan.cells:
        cfg = build_config(TrainConfig, plan.run_values(name, 0, dataset, "", held_out)).to_dict()
        variants[name] = {k: v for k, v in cfg.items() if k not in ("seed", "out", "threads")}
    return {**plan.to_dict(), "resolved": {"dataset": str(dataset), "val_dataset": str(held_out),
                                           "reference": plan.reference,
                                           "variants": variants,
                                           "eval": dataclasses.asdict(plan.eval_config())}}


def _check_out_dir(plan: ExperimentPlan, out_dir: Path) -> None:
    """Refuse OUT made from another plan (beyond added seeds or variants) once anything was made from it."""
    path = out_dir / "plan.json"
    if not path.is_file():
        return
    change = plan_change(read_json(path), plan)
    if not change:
        return
    made = [p for section in dataset_sections(plan) if "generate" in getattr(plan, section)
            for p in (out_dir / GENERATED_DIRS[section], out_dir / f"{GENERATED_DIRS[section]}.work") if p.exists()]
    made += list((out_dir / "runs").glob("*/seed*"))
    if made:
        raise SFError(f"{path} was made from a different plan ({change}); only seeds or variants may be "
                      f"added: use another --out")
    log.info("replacing %s (%s): no data or run was made from it yet", path, change)


def _select(runs: list[Run], only: Sequence[str] | None, plan: ExperimentPlan) -> list[Run]:
    if not only:
        return runs
    cells = {c: v for v in plan.variants for c in plan.cells_of(v).values()}  # cell -> its variant
    unknown = [v for v in only if v not in plan.variants and v not in cells]
    if unknown:
        raise SFError(f"--only {','.join(only)}: no variant(s) {unknown} in the plan; expected some of "
                      f"{list(dict.fromkeys([*plan.variants, *cells]))}")
    return [r for r in runs if r.variant in only or cells.get(r.variant) in only]


def _execute(todo: list[Run], jobs: int, threads: int, warm: Callable[[], int] | None = None,
             keep: Callable[[Run], None] | None = None, evaluate: bool = True) -> dict[str, str]:
    """Run `todo` in order, `jobs` at a time; returns run name -> failure description. On an interrupt the
    queued runs are cancelled and the running commands terminated (they resume next time). `keep(run)` (the
    record) is called once a run's policy is exported and once the run is done.

    `warm` (build the teacher caches) takes the first slot; the runs that need no cache are queued first so
    that they fill the other slots, and a run that needs a cache waits for it (and fails if it failed)."""
    failed: dict[str, str] = {}
    if not todo:
        return failed
    bar = tqdm(total=len(todo), desc="runs", unit="run")
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        def run_one(run: Run, threads: int) -> str | None:
            return execute_run(run, threads, after_training=keep, evaluate=evaluate)
        execute = run_one
        if warm is not None:
            warming = _in_background(warm)
            pool.submit(_outcome, warming)  # the build holds one of the slots until it ends
            free = [r for r in todo if not needs_cache(r)][: jobs - 1]
            todo = free + [r for r in todo if r not in free]

            def after_cache(run: Run, threads: int) -> str | None:
                if needs_cache(run):
                    try:
                        _outcome(warming, raise_error=True)
                    except Exception as err:
                        return f"teacher cache: {type(err).__name__}: {str(err).splitlines()[0]}"
                return run_one(run, threads)
            execute = after_cache
        futures = {pool.submit(execute, run, threads): run for run in todo}
        for future in as_completed(futures):
            run = futures[future]
            try:
                error = future.result()
                if keep is not None:
                    keep(run)
            except Exception as err:  # a bug in one run's bookkeeping must not stop the others
                error = f"{type(err).__name__}: {err}"
            if error:
                failed[run.name] = error
                log.error("run %s failed: %s", run.name, error)
            elif evaluate:
                result = read_json(run.dir / "eval.json")
                log.info("run %s: success %.3f", run.name, result["success_rate"])
            bar.update(1)
            bar.set_postfix(failed=len(failed))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        _terminate_commands()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return failed


def _keep(run: Run, out_dir: Path, record: Path) -> None:
    """Record the run; a failure to write the record is logged, not the run's failure."""
    try:
        save_run(run, out_dir, record)
    except OSError as err:
        log.error("could not record %s in %s: %s", run.name, record, err)


def _record_all(runs: list[Run], out_dir: Path, record: Path) -> None:
    """Record every run OUT holds further along, and a summary of what OUT holds now."""
    for run in runs:
        _keep(run, out_dir, record)
    try:
        write_summary(out_dir)
        save_experiment(out_dir, record)
    except (OSError, SFError) as err:
        log.error("could not record the summary in %s: %s", record, err)


def _in_background(work: Callable[[], int]) -> Future:
    """Run `work` in a daemon thread: an interrupt ends the runner without waiting for it (a teacher cache
    writes each chunk atomically, so the next runner continues it)."""
    future: Future = Future()

    def target() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work())
        except BaseException as err:
            future.set_exception(err)

    threading.Thread(target=target, name="teacher-cache", daemon=True).start()
    return future


def _outcome(future: Future, raise_error: bool = False) -> None:
    """Wait for `future` (its error raised if `raise_error`) unless the runner is interrupted first."""
    while not _STOPPING.is_set():
        if wait([future], timeout=0.5).done:
            if raise_error and future.exception() is not None:
                raise future.exception()
            return
    raise SFError("interrupted while the teacher cache was being built")


def execute_run(run: Run, threads: int, after_training: Callable[[Run], None] | None = None,
                evaluate: bool = True) -> str | None:
    """Train (unless the policy is exported) then evaluate one run (unless `evaluate` is False); None on
    success, else what failed with the tail of its log. `after_training(run)` is called once the policy is
    exported.

    The run directory is locked (RUN/.lock, flock) for as long as the runner or any of its commands lives: the
    commands inherit the lock, so a second `sf experiment` on the same OUT, or one started after this one was
    killed while its commands still finish, reports the run as busy instead of running it twice at once."""
    try:
        run.dir.mkdir(parents=True, exist_ok=True)
        with open(run.dir / ".lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return (f"{run.dir} is in use by another process (another sf experiment, or the commands "
                        f"of a killed one still running)")
            run.write_configs()
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            if not run.trained:
                cmd = _sf("train", "--config", run.dir / "plan_train.json", "--resume", "--threads", threads)
                error = _call(cmd, run.dir / "train.log", env, lock.fileno())
                if error:
                    return error
                if after_training is not None:
                    after_training(run)
            if not evaluate:
                return None
            cmd = _sf("eval", run.eval_config().env, "--config", run.dir / "plan_eval.json", "--policy",
                      run.dir / "policy", "--out", run.dir / "eval.json")
            return _call(cmd, run.dir / "eval.log", env, lock.fileno())
    except (OSError, SFError) as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"


def _sf(*args: object) -> list[str]:
    return [sys.executable, "-m", "spatial_forcing.cli.main", *map(str, args)]


def _call(cmd: list[str], log_path: Path, env: dict, lock_fd: int) -> str | None:
    """Run `cmd` (holding the run's lock), stdout and stderr appended to `log_path`; None if it exits 0."""
    with open(log_path, "a") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd[3:])}\n")
        fh.flush()
        with _RUNNING_LOCK:
            if _STOPPING.is_set():
                return "interrupted before it started"
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, pass_fds=(lock_fd,))
            _RUNNING.add(proc)
        try:
            code = proc.wait()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
    if code == 0:
        return None
    tail = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL:]
    return (f"`sf {cmd[3]}` exited with code {code}; last lines of {log_path}:\n"
            + "\n".join(f"    {line[-300:]}" for line in tail))


def _terminate_commands() -> None:
    """SIGTERM every running command (checkpoints and episode logs are written atomically: they resume)."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        proc.terminate()
    for proc in running:  # their last writes (a checkpoint, an episode) are complete once they exit
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log.warning("command %s did not stop within 60 s: killed", " ".join(proc.args[3:5]))
            proc.kill()
    if running:
        log.warning("interrupted: terminated %d running command(s); rerun the same command to resume",
                    len(running))


def _data_line(plan: ExperimentPlan, out_dir: Path, section: str) -> str:
    root, spec = dataset_dir(plan, out_dir, section), getattr(plan, section)
    if dataset_ready(plan, out_dir, section):
        return f"{section}: {root} (exists)"
    if "generate" in spec:
        return f"{section}: generate into {root} with {spec['generate']}"
    return f"{section}: {root} (MISSING)"


def _dry_run_text(plan: ExperimentPlan, out_dir: Path, runs: list[Run], selected: list[Run], todo: list[Run],
                  jobs: int, threads: int) -> str:
    data = "\n".join(_data_line(plan, out_dir, s) for s in dataset_sections(plan))
    caches = len(cache_plan([r for r in todo if not r.trained]))
    lines = [f"experiment {plan.name!r} in {out_dir}: {len(runs)} runs ({len(plan.cells)} variants x "
             f"{len(plan.seeds)} seeds), {len(selected)} selected, {len(todo)} to do; --jobs {jobs}, "
             f"{threads} thread(s) each", data,
             f"teacher caches built or checked before the runs: {caches}", "runs (in order):"]
    lines += [f"  {r.name:<30} {r.status()}" for r in selected]
    if todo:
        first = todo[0]
        lines += [f"first run's commands ({first.dir}):",
                  "  " + " ".join(_sf("train", "--config", first.dir / "plan_train.json", "--resume",
                                      "--threads", threads)[3:]),
                  "  " + " ".join(_sf("eval", first.eval_config().env, "--config",
                                      first.dir / "plan_eval.json", "--policy", first.dir / "policy",
                                      "--out", first.dir / "eval.json")[3:])]
    return "\n".join(lines)
