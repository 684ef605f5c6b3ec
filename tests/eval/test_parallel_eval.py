"""Evaluation in worker processes gives the same episodes as one process, and resumes the same way."""

import json
import shutil

import numpy as np
import pytest
import torch

from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.stats import vector_stats
from spatial_forcing.eval.rollout import EvalConfig, evaluate
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import config_to_dict, tiny
from spatial_forcing.vla.export import export_policy
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    """A random tiny student exported exactly as training exports it."""
    from spatial_forcing.sim.registry import get_suite

    torch.manual_seed(0)
    tokenizer = WordTokenizer.build(t.instruction for t in get_suite("tabletop").tasks)
    config = tiny(image_size=32)
    model = build_policy(config, tokenizer)
    rng = np.random.default_rng(0)
    stats = {"action": vector_stats(rng.normal(size=(100, 7))),
             "observation.state": vector_stats(rng.normal(size=(100, 8)))}
    out = tmp_path_factory.mktemp("policy") / "policy"
    return export_policy(out, model, config_to_dict(config), tokenizer.to_json(),
                         Normalizer(stats).state_dict(), {"cameras": ["agentview", "wrist"]})


def _records(path):
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for r in recs:
        assert r.pop("seconds") > 0  # timing differs between processes; the rest must not
    return sorted(recs, key=lambda r: (r["task_id"], r["init_state"]))


def test_two_workers_match_one_process_and_resume(policy_dir, tmp_path):
    base = dict(env="tabletop", tasks=[0, 3], init_states=[0, 1], image_size=32, max_steps=6)
    one = evaluate(str(policy_dir), EvalConfig(**base), tmp_path / "one.json")
    # a half-finished parallel run: two episodes already logged
    inline_log = (tmp_path / "one.episodes.jsonl").read_text().splitlines()
    (tmp_path / "two.episodes.jsonl").write_text("\n".join(inline_log[:2]) + "\n")
    two = evaluate(str(policy_dir), EvalConfig(**base, workers=2), tmp_path / "two.json")
    assert _records(tmp_path / "two.episodes.jsonl") == _records(tmp_path / "one.episodes.jsonl")
    assert len(_records(tmp_path / "two.episodes.jsonl")) == 4  # the logged two were not run again
    assert two["per_task"] == one["per_task"] and two["episodes"] == 4


def test_workers_need_a_policy_directory(tmp_path):
    with pytest.raises(SFError, match="exported policy directory"):
        evaluate(lambda obs, ins: np.zeros((1, 4, 7)), EvalConfig(env="tabletop", tasks=[0], init_states=[0],
                                                                   workers=2), tmp_path / "e.json")


def test_cli_refuses_another_policy_into_the_same_out(policy_dir, tmp_path, capsys):
    from spatial_forcing.cli.main import main

    other = tmp_path / "other"
    shutil.copytree(policy_dir, other)
    (other / "NOTES.txt").write_text("a copy")  # the same model, but other files: another policy
    args = ["--out", str(tmp_path / "e.json"), "--tasks", "0", "--init-states", "0", "--image-size", "32",
            "--max-steps", "2"]
    assert main(["eval", "tabletop", "--policy", str(policy_dir), *args]) == 0
    capsys.readouterr()
    assert main(["eval", "tabletop", "--policy", str(other), *args]) == 2
    err = capsys.readouterr().err
    assert "holds episodes of another policy" in err and len(err.strip().splitlines()) == 1
