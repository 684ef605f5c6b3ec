"""The run directory: a non-empty --out needs --resume or --overwrite, --resume refuses a changed config,
an unusable --out or --dataset is one line, a torn metrics line does not break --resume, and a run failing
its checks leaves nothing behind."""

from __future__ import annotations

import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError


def _steps(run):
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(synthetic_dataset, tmp_path_factory, tiny_train_cfg):
    """A finished 8-step run (checkpoints 4 and 8, policy), copied by the tests that change it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    train(tiny_train_cfg(synthetic_dataset, run, steps=8))
    return run


def test_non_empty_out_needs_resume_or_overwrite(synthetic_dataset, finished, tmp_path, tiny_train_cfg):
    run = shutil.copytree(finished, tmp_path / "run")
    metrics = (run / "metrics.jsonl").read_text()
    with pytest.raises(SFError, match=r"--out .*run is not empty \(checkpoints, metrics.jsonl, policy, "
                                      r"tensorboard, \.\.\.\): pass --resume to continue its run or "
                                      r"--overwrite"):
        train(tiny_train_cfg(synthetic_dataset, run, steps=8))
    assert (run / "metrics.jsonl").read_text() == metrics
    with pytest.raises(SFError, match="give one of them"):
        train(tiny_train_cfg(synthetic_dataset, run, steps=8, overwrite=True), resume=True)
    (run / "notes.txt").write_text("mine")
    train(tiny_train_cfg(synthetic_dataset, run, steps=4, save_every=2, overwrite=True))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000002", "step_000004"]
    assert _steps(run) == [2, 4] and json.loads((run / "policy" / "info.json").read_text())["steps"] == 4
    assert (run / "notes.txt").read_text() == "mine"  # only what training writes is replaced


def test_resume_refuses_a_changed_config_and_allows_monitoring_changes(
        synthetic_dataset, make_synthetic_dataset, finished, tmp_path, tiny_train_cfg):
    run = shutil.copytree(finished, tmp_path / "run")
    other = make_synthetic_dataset(tmp_path / "other", episodes_per_task=1, seed=3)
    changed = tiny_train_cfg(other, run, steps=8, lr=1e-3, align=AlignConfig(enabled=True, teacher="mini3d",
                                                                             layers=[2], alpha=0.25))
    with pytest.raises(SFError) as err:
        train(changed, resume=True)
    text = str(err.value)
    assert text.startswith(f"--resume: {run} was trained with another config (dataset: ")
    assert "align.alpha: 0.5 -> 0.25; lr: 0.0005 -> 0.001)" in text and "--overwrite" in text
    assert json.loads((run / "train_config.json").read_text())["lr"] == 0.0005  # not rewritten
    train(tiny_train_cfg(synthetic_dataset, run, steps=8, log_every=4, save_every=8), resume=True)


def test_torn_metrics_line_does_not_break_resume(synthetic_dataset, finished, tmp_path, tiny_train_cfg):
    run = shutil.copytree(finished, tmp_path / "run")
    shutil.rmtree(run / "checkpoints" / "step_000008")  # killed after step 7's metrics, mid-write of step 8's
    (run / "checkpoints" / "latest").write_text("step_000004")
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 9, "loss": 0.1')
    train(tiny_train_cfg(synthetic_dataset, run, steps=8), resume=True)
    assert _steps(run) == [2, 4, 6, 8]


@pytest.mark.parametrize("out,message", [
    (lambda t: t / "afile", r"--out .*afile is a file, expected a run directory"),
    (lambda t: t / "afile" / "run", r"--out .*afile/run: .*afile is a file, expected a directory"),
])
def test_unusable_out_is_one_line(synthetic_dataset, tmp_path, capsys, tiny_train_args, out, message):
    (tmp_path / "afile").write_text("x")
    assert main(tiny_train_args(synthetic_dataset, out(tmp_path))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sf train: error: ")
    assert re.search(message, err), err


def test_file_as_dataset_is_named_as_a_file(tmp_path, capsys, tiny_train_args):
    (tmp_path / "data.parquet").write_bytes(b"")
    assert main(tiny_train_args(tmp_path / "data.parquet", tmp_path / "run")) == 2
    assert "data.parquet is a file, expected a dataset directory" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_failed_checks_leave_nothing_behind(synthetic_dataset, tmp_path, tiny_train_cfg):
    align = AlignConfig(enabled=True, teacher="mini3d", layers=[7])
    with pytest.raises(SFError, match="out of range"):
        train(tiny_train_cfg(synthetic_dataset, tmp_path / "a" / "run", align=align))
    assert not (tmp_path / "a").exists()


def test_stale_cache_hint_and_the_train_flag_agree(synthetic_dataset, tmp_path, tiny_train_cfg):
    dataset = shutil.copytree(synthetic_dataset, tmp_path / "ds")
    train(tiny_train_cfg(dataset, tmp_path / "first", steps=1))  # builds the sidecar cache
    for file in (dataset / "data").rglob("*.parquet"):  # edit the frames: the cache is now stale
        table = pq.read_table(file)
        col = table.column_names.index("observation.images.agentview")
        flipped = pa.chunked_array([table.column(col).combine_chunks()[::-1]])
        pq.write_table(table.set_column(col, table.field(col), flipped), file)
    with pytest.raises(SFError, match=r"stale teacher-feature cache .*pass --overwrite \(sf train"):
        train(tiny_train_cfg(dataset, tmp_path / "second", steps=1))
    assert not (tmp_path / "second").exists()
    train(tiny_train_cfg(dataset, tmp_path / "second", steps=1, overwrite=True))
