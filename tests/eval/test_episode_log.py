"""The episodes log is keyed on the policy and the protocol: another policy or protocol in the same --out is
refused with one line, and a torn last line is repaired instead of being glued to the next episode."""

import json

import numpy as np
import pytest

from spatial_forcing.eval.episode_log import callable_key, policy_digest
from spatial_forcing.eval.rollout import EvalConfig, evaluate
from spatial_forcing.utils.errors import SFError

BASE = dict(env="tabletop", tasks=[0], init_states=[0, 1], image_size=32, max_steps=4)


def up(observations, instructions):
    """Moves the gripper up: never succeeds, fast."""
    action = np.zeros((1, 4, 7), np.float32)
    action[..., 2] = 0.5
    return action


def _log(tmp_path):
    return [json.loads(x) for x in (tmp_path / "e.episodes.jsonl").read_text().splitlines()]


def test_another_policy_in_the_same_out_is_refused(tmp_path):
    evaluate(up, EvalConfig(**BASE), tmp_path / "e.json", policy_key="run-a")
    assert {r["policy"] for r in _log(tmp_path)} == {"run-a"}
    with pytest.raises(SFError, match=r"another policy \(run-a, this one is run-b\)"):
        evaluate(up, EvalConfig(**BASE), tmp_path / "e.json", policy_key="run-b")
    assert len(_log(tmp_path)) == 2  # nothing logged was lost
    res = evaluate(up, EvalConfig(**{**BASE, "init_states": [0, 1, 2]}), tmp_path / "e.json", policy_key="run-a")
    assert res["episodes"] == 3 and len(_log(tmp_path)) == 3  # the same policy resumes


def test_a_changed_protocol_is_refused_naming_the_field(tmp_path):
    evaluate(up, EvalConfig(**BASE), tmp_path / "e.json")
    with pytest.raises(SFError, match=r"another protocol \(max_steps 4 -> 6\)"):
        evaluate(up, EvalConfig(**{**BASE, "max_steps": 6}), tmp_path / "e.json")
    with pytest.raises(SFError, match=r"seed 7 -> 8"):
        evaluate(up, EvalConfig(**{**BASE, "seed": 8}), tmp_path / "e.json")
    # which episodes run and what is written beside them are not the protocol
    res = evaluate(up, EvalConfig(**{**BASE, "init_states": [1], "videos_per_task": 0}), tmp_path / "e.json")
    assert res["episodes"] == 1


def test_torn_last_line_is_not_glued_to_the_next_episode(tmp_path):
    evaluate(up, EvalConfig(**{**BASE, "init_states": [0]}), tmp_path / "e.json")
    with open(tmp_path / "e.episodes.jsonl", "a") as fh:
        fh.write('{"task_id": 0, "init_state": 1, "succ')  # killed while writing episode 1
    evaluate(up, EvalConfig(**BASE), tmp_path / "e.json")
    assert [r["init_state"] for r in _log(tmp_path)] == [0, 1]  # every line parses; episode 1 ran again


def test_a_log_without_keys_is_refused(tmp_path):
    (tmp_path / "e.episodes.jsonl").write_text(json.dumps({"task_id": 0, "init_state": 0, "success": True}) + "\n")
    with pytest.raises(SFError, match=r"e.episodes.jsonl: holds episodes logged without their policy and protocol"):
        evaluate(up, EvalConfig(**BASE), tmp_path / "e.json")


def test_no_initial_states_is_an_error_not_nan(tmp_path):
    with pytest.raises(SFError, match="--init-states: no initial states"):
        evaluate(up, EvalConfig(**{**BASE, "init_states": []}), tmp_path / "e.json")
    assert not (tmp_path / "e.json").exists()


def test_policy_keys(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.safetensors").write_bytes(b"\x00" * 8)
    (tmp_path / "a" / "vla.json").write_text("{}")
    before = policy_digest(tmp_path / "a")
    (tmp_path / "a" / ".vla.json.123.tmp").write_text("x")  # an atomic write's leftover is not the policy
    assert policy_digest(tmp_path / "a") == before
    (tmp_path / "a" / "model.safetensors").write_bytes(b"\x00" * 7 + b"\x01")
    assert policy_digest(tmp_path / "a") != before
    with pytest.raises(SFError, match="not a directory"):
        policy_digest(tmp_path / "missing")
    assert callable_key(up) == f"callable:{__name__}.up"
    assert callable_key(Up()) == f"callable:{__name__}.Up"  # a callable object: its class
    assert callable_key(Up().__call__) == f"callable:{__name__}.Up.__call__"


class Up:
    def __call__(self, observations, instructions):
        return up(observations, instructions)
