"""Checkpoints: a resume never silently starts over (dangling or unreadable `latest`, corrupt newest
checkpoint -> the previous valid one, with a warning), and a non-finite model never rotates good ones out."""

from __future__ import annotations

import logging

import pytest
import torch

from spatial_forcing.train.checkpoint import (latest_checkpoint, load_checkpoint, restore_latest,
                                              save_checkpoint)
from spatial_forcing.utils.errors import SFError


def _parts(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    return model, optimizer, scheduler


@pytest.fixture
def run(tmp_path):
    """A run directory with checkpoints at steps 2, 4 and 6 (the model's bias holds the step)."""
    model, optimizer, scheduler = _parts()
    for step in (2, 4, 6):
        with torch.no_grad():
            model.bias.fill_(step)
        save_checkpoint(tmp_path, step, model, optimizer, scheduler)
    return tmp_path


def _restore(run_dir):
    model, optimizer, scheduler = _parts(seed=1)
    found = restore_latest(run_dir, model, optimizer, scheduler)
    return found and (found[1], int(model.bias[0]))


def test_two_newest_kept_and_restored_from_latest(run):
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000004", "step_000006"]
    assert _restore(run) == (6, 6)
    assert _restore(run / "elsewhere") is None  # no checkpoint at all: a fresh start


@pytest.mark.parametrize("pointer", [b"step_000009", b"\xff\xfe\x00garbage", b"../../etc"])
def test_dangling_or_unreadable_latest_falls_back_to_the_newest(run, pointer, caplog):
    (run / "checkpoints" / "latest").write_bytes(pointer)
    with caplog.at_level(logging.WARNING):
        assert _restore(run) == (6, 6)
    assert "trying the newest checkpoints" in caplog.text
    assert latest_checkpoint(run).name == "step_000006"


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(run, caplog):
    weights = run / "checkpoints" / "step_000006" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with caplog.at_level(logging.WARNING):
        assert _restore(run) == (4, 4)
    assert "skipping checkpoint" in caplog.text and "corrupt or truncated checkpoint weights" in caplog.text
    (run / "checkpoints" / "step_000004" / "optimizer.pt").write_bytes(b"not a torch file")
    with pytest.raises(SFError, match=r"none of its 2 checkpoint\(s\) loads .*--overwrite") as err:
        _restore(run)
    assert "step_000006/model.safetensors: corrupt" in str(err.value)  # the newest one's reason
    assert "\n" not in str(err.value)
    with pytest.raises(SFError, match=r"step_000004/optimizer\.pt: corrupt or truncated optimizer state "
                                      r"\(UnpicklingError\)$"):
        load_checkpoint(run / "checkpoints" / "step_000004", *_parts())


def test_latest_without_any_checkpoint_directory_is_an_error(run):
    for step in ("step_000004", "step_000006"):
        for f in (run / "checkpoints" / step).iterdir():
            f.unlink()
        (run / "checkpoints" / step).rmdir()
    with pytest.raises(SFError, match=r"latest exists but no checkpoint directory does"):
        _restore(run)


def test_non_finite_weights_are_not_saved_and_rotate_nothing_out(run):
    model, optimizer, scheduler = _parts()
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(SFError, match="refusing to write checkpoint weights"):
        save_checkpoint(run, 8, model, optimizer, scheduler)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000004", "step_000006"]
    assert (run / "checkpoints" / "latest").read_text() == "step_000006"


def test_saving_after_a_fallback_drops_the_abandoned_later_checkpoints(run):
    model, optimizer, scheduler = _parts()
    save_checkpoint(run, 5, model, optimizer, scheduler)  # resumed from 4 (6 was corrupt), now at 5
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000004", "step_000005"]
