"""An experiment's record: what its runs measured, small enough to commit, from which it resumes elsewhere.

`sf experiment PLAN --out runs/x --record results/x` keeps results/x up to date while the runs finish:

  results/x/plan.json, summary.json, summary.md, summary.png    as in OUT
  results/x/runs/<variant>/seed<k>/                             RUN_FILES of every trained run, and policy/
                                                                of a run trained but not yet evaluated

written after each training, after each run and on Ctrl-C (the episodes of an interrupted evaluation).

No checkpoint, TensorBoard file or log is kept: a run killed before its policy was exported starts again on
another machine. There (OUT empty, the record checked out), the same command first copies the recorded runs
into OUT, so a recorded evaluation is not run again and a recorded policy is evaluated without training again.
A run is copied from whichever of the two places holds it further along (evaluated > trained > neither).
`sf report results/x` reads a record like any experiment directory.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Sequence

from spatial_forcing.experiment.runs import Run
from spatial_forcing.utils.atomic import atomic_path, write_dir

log = logging.getLogger(__name__)

# what `sf train` and `sf eval` write that the summary and the report read (evals/: the curve's evaluations)
RUN_FILES = ("plan_train.json", "plan_eval.json", "train_config.json", "metrics.jsonl", "evals", "eval.json",
             "eval.episodes.jsonl")
POLICY = "policy"  # the exported student: kept only until the run's evaluation is recorded
EPISODES = "eval.episodes.jsonl"  # the final evaluation's episode log
EXPERIMENT_FILES = ("plan.json", "summary.json", "summary.md", "summary.png")


def _progress(run_dir: Path) -> tuple[int, int]:
    """(2, 0) evaluated; (1, E) trained (policy exported) with E episodes of its evaluation logged (a killed
    evaluation resumes from them); (0, 0) nothing usable."""
    if (run_dir / "eval.json").is_file():
        return 2, 0
    if not (run_dir / POLICY / "model.safetensors").is_file():
        return 0, 0
    log_path = run_dir / EPISODES
    return 1, (sum(1 for line in log_path.open() if line.endswith("\n")) if log_path.is_file() else 0)


def _recorded(run: Run, out_dir: Path, record: Path) -> Path:
    return record / run.dir.relative_to(out_dir.resolve())


def _copy(src: Path, dst: Path) -> None:
    """Copy a file or a directory tree to `dst` atomically (through a temporary sibling renamed over it)."""
    if src.is_dir():
        write_dir(dst, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
    else:
        with atomic_path(dst) as tmp:
            shutil.copy2(src, tmp)


def _transfer(src: Path, dst: Path) -> None:
    """RUN_FILES, and the policy of a run not yet evaluated, from run directory `src` to `dst`.

    Order: the policy first (so an episode log never lands beside another policy), eval.json last (a copy cut
    short leaves the run not evaluated, so it is evaluated again); a file `src` lacks is removed from `dst`
    (an episode log of another policy, say)."""
    evaluated = _progress(src)[0] == 2
    names = [*(() if evaluated else (POLICY,)), *(n for n in RUN_FILES if n != "eval.json"), "eval.json"]
    for name in names:
        if (src / name).exists():
            _copy(src / name, dst / name)
        elif (dst / name).is_dir():
            shutil.rmtree(dst / name)
        elif (dst / name).exists():
            (dst / name).unlink()


def save_run(run: Run, out_dir: Path, record: Path) -> bool:
    """Record the run if OUT holds it further along than the record; True if something was copied."""
    dst = _recorded(run, out_dir, record)
    copied = _progress(run.dir) > _progress(dst)
    if copied:
        _transfer(run.dir, dst)
        log.info("recorded %s in %s", run.name, dst)
    if _progress(dst)[0] == 2:  # the record keeps no weights it no longer needs
        shutil.rmtree(dst / POLICY, ignore_errors=True)
    return copied


def restorable(runs: Sequence[Run], out_dir: Path, record: Path) -> list[Run]:
    """The runs that the record holds further along than OUT."""
    return [r for r in runs if _progress(_recorded(r, out_dir, record)) > _progress(r.dir)]


def restore_runs(runs: Sequence[Run], out_dir: Path, record: Path) -> list[str]:
    """Copy into OUT the runs that the record holds further along; returns their names."""
    todo = restorable(runs, out_dir, record)
    for run in todo:
        _transfer(_recorded(run, out_dir, record), run.dir)
    restored = [run.name for run in todo]
    if restored:
        log.info("restored %d run(s) from %s: %s", len(restored), record, ", ".join(restored))
    return restored


def save_experiment(out_dir: Path, record: Path) -> None:
    """Copy OUT's plan.json and summary files into the record."""
    for name in EXPERIMENT_FILES:
        if (out_dir / name).is_file():
            _copy(out_dir / name, record / name)
