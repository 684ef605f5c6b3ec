"""Resumable LIBERO evaluation: an interrupted `evaluate` keeps finished episodes and a rerun skips them."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported (LIBERO imports it too)
pytest.importorskip("libero.libero", reason="LIBERO is the [libero] extra")

import numpy as np  # noqa: E402

from spatial_forcing.eval.rollout import EvalConfig, evaluate  # noqa: E402

CHUNK = 4  # actions per call; > max_steps, so every episode is exactly one act call


def _zero_chunk() -> np.ndarray:
    """A [1, CHUNK, 7] chunk of no-motion actions with the gripper open (-1)."""
    chunk = np.zeros((1, CHUNK, 7), dtype=np.float32)
    chunk[..., 6] = -1.0
    return chunk


class FakeAct:
    """Counts calls; optionally raises KeyboardInterrupt on call number `interrupt_at` (1-based)."""

    def __init__(self, interrupt_at: int | None = None):
        self.calls, self.interrupt_at = 0, interrupt_at
        self.batches: list[int] = []

    def __call__(self, observations, instructions) -> np.ndarray:
        self.calls += 1
        self.batches.append(len(observations))
        assert len(instructions) == len(observations) == 1 and isinstance(instructions[0], str)
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return _zero_chunk()


def test_interrupted_evaluation_resumes(tmp_path):
    cfg = EvalConfig(env="libero_spatial", tasks=[0], init_states=[0, 1], max_steps=3, num_steps_wait=2,
                     image_size=64)
    out = tmp_path / "eval.json"
    episodes = tmp_path / "eval.episodes.jsonl"

    first = FakeAct(interrupt_at=2)  # the call that starts the 2nd episode
    with pytest.raises(KeyboardInterrupt):
        evaluate(first, cfg, out)
    assert first.calls == 2
    recs = [json.loads(line) for line in episodes.read_text().splitlines()]
    assert [(r["task_id"], r["init_state"]) for r in recs] == [(0, 0)]
    assert recs[0]["steps"] == cfg.max_steps and recs[0]["success"] is False
    assert not out.exists()  # no summary for an interrupted run

    second = FakeAct()
    result = evaluate(second, cfg, out)
    assert second.calls == 1  # only the 2nd episode ran
    recs = [json.loads(line) for line in episodes.read_text().splitlines()]
    assert sorted(r["init_state"] for r in recs) == [0, 1]
    summary = json.loads(out.read_text())
    assert summary == result
    assert summary["episodes"] == 2 and summary["env"] == "libero_spatial"
    assert list(summary["per_task"].values()) == [0.0] and summary["success_rate"] == 0.0
