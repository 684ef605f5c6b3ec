"""`sf train --eval-every N`: closed-loop success of the in-memory student lands in metrics.jsonl."""

from __future__ import annotations

import json

import pytest

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.data.generate import generate_dataset
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError


@pytest.fixture(scope="module")
def tabletop_data(tmp_path_factory):
    return generate_dataset("tabletop", tmp_path_factory.mktemp("tt") / "d", episodes_per_task=1, image_size=32,
                            tasks=[0, 2]).root


def test_eval_every_logs_success_curve_on_the_datasets_tasks(tabletop_data, tmp_path):
    cfg = TrainConfig(dataset=str(tabletop_data), out=str(tmp_path / "run"), vla_preset="tiny",
                      align=AlignConfig(enabled=False), steps=4, batch_size=4, warmup_steps=1, threads=1,
                      log_every=2, save_every=4, eval_every=2, eval_init_states=[0])
    train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/success" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert set(evals[0]) >= {"eval/success", "eval/picked", "eval/task/left_of_cylinder",
                             "eval/task/closest_to_robot"}
    assert all(0.0 <= r["eval/success"] <= 1.0 for r in evals)
    saved = json.loads((tmp_path / "run" / "evals" / "step_000004.json").read_text())
    assert saved["episodes"] == 2 and saved["config"]["tasks"] == [0, 2]


def test_eval_every_needs_a_suite(synthetic_dataset, tmp_path):
    cfg = TrainConfig(dataset=str(synthetic_dataset), out=str(tmp_path / "run"), vla_preset="tiny",
                      align=AlignConfig(enabled=False), steps=2, batch_size=4, threads=1, eval_every=1)
    with pytest.raises(SFError, match="--eval-env"):
        train(cfg)
