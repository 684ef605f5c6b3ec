"""A small valid experiment plan for the tests."""

from __future__ import annotations


def make_plan_dict(dataset: str = "data") -> dict:
    """A small valid plan (as parsed JSON): baseline vs SF with online targets, three seeds."""
    return {
        "name": "unit",
        "dataset": {"path": dataset},
        "train": {"vla_preset": "tiny", "steps": 6, "batch_size": 4, "align": {"teacher": "mini3d"}},
        "variants": {"baseline": {"align": {"enabled": False}},
                     "sf": {"targets": "online", "teacher_weights": "random", "align": {"alpha": 0.25}}},
        "seeds": [0, 1, 2],
        "eval": {"tasks": [0, 1], "init_states": [0], "image_size": 32},
    }
