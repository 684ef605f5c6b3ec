"""`sf train --eval-every N`: closed-loop success of the in-memory student lands in metrics.jsonl."""

from __future__ import annotations

import json

import pytest
import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.data.generate import generate_dataset
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.eval_curve import curve_evaluator
from spatial_forcing.train.loop import train
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer


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


def test_episodes_are_keyed_by_the_weights_and_stale_logs_set_aside(tabletop_data, tmp_path):
    cfg = TrainConfig(dataset=str(tabletop_data), out=str(tmp_path / "run"), vla_preset="tiny",
                      align=AlignConfig(enabled=False), threads=1, eval_every=1, eval_init_states=[0],
                      eval_tasks=[0])
    data = ChunkDataset(cfg.dataset, chunk=preset("tiny").chunk, cameras=cfg.cameras,
                        image_size=preset("tiny").image_size)
    torch.manual_seed(0)
    policy = build_policy(preset("tiny"), WordTokenizer.build(data.instructions))
    run = curve_evaluator(cfg, data)
    log_path = tmp_path / "run" / "evals" / "step_000001.episodes.jsonl"

    def keys() -> set[str]:
        return {json.loads(line)["policy"] for line in log_path.read_text().splitlines()}

    run(1, policy)
    (first,) = keys()
    assert first.startswith("weights:")
    run(1, policy)  # same weights: the logged episode is reused, not refused
    assert keys() == {first}
    with torch.no_grad():
        next(policy.parameters()).add_(1.0)
    run(1, policy)  # other weights at the same step (a resume that was not bit-exact): evaluated again
    (second,) = keys()
    assert second != first
    assert json.loads(log_path.with_name(log_path.name + ".stale").read_text())["policy"] == first
