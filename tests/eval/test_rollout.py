import json

import numpy as np
import pytest

from spatial_forcing.data.video import decode_video
from spatial_forcing.eval.episode import write_video
from spatial_forcing.eval.rollout import EvalConfig, evaluate
from spatial_forcing.utils.errors import SFError


class CountingPolicy:
    """Moves the gripper up (never succeeds); optionally dies at call `die_at` like a killed process."""

    def __init__(self, die_at: int | None = None, chunk: int = 4):
        self.calls, self.die_at, self.chunk = 0, die_at, chunk
        self.episodes_started = 0

    def __call__(self, observations, instructions):
        self.calls += 1
        if self.die_at is not None and self.calls == self.die_at:
            raise KeyboardInterrupt
        action = np.zeros((1, self.chunk, 7), np.float32)
        action[..., 2] = 0.5
        return action


def test_interrupted_evaluation_resumes_where_it_stopped(tmp_path):
    cfg = EvalConfig(env="tabletop", tasks=[0, 4], init_states=[0, 1], image_size=32, max_steps=8)
    out = tmp_path / "eval.json"
    dying = CountingPolicy(die_at=5)  # 2 chunks per episode: dies in the 3rd episode
    with pytest.raises(KeyboardInterrupt):
        evaluate(dying, cfg, out)
    done = [json.loads(x) for x in (tmp_path / "eval.episodes.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["init_state"]) for r in done] == [(0, 0), (0, 1)]
    assert not out.exists()
    policy = CountingPolicy()
    result = evaluate(policy, cfg, out)
    assert policy.calls == 4  # only the 2 remaining episodes ran
    assert result["episodes"] == 4 and result["success_rate"] == 0.0
    assert set(result["per_task"]) == {"left_of_cylinder", "on_tall_box"}
    assert json.loads(out.read_text())["per_task"] == result["per_task"]
    # the cost counts both invocations: every episode's seconds, the 2 logged before the kill included
    done = [json.loads(x) for x in (tmp_path / "eval.episodes.jsonl").read_text().splitlines()]
    assert len(done) == 4 and all(r["seconds"] > 0 for r in done)
    assert result["episode_seconds"] == pytest.approx(sum(r["seconds"] for r in done), abs=0.06)


def test_episode_seconds_unknown_for_logs_without_times(tmp_path):
    cfg = EvalConfig(env="tabletop", tasks=[0], init_states=[0, 1], image_size=32, max_steps=4)
    out = tmp_path / "eval.json"
    evaluate(CountingPolicy(), cfg, out, policy_key="p")
    log = tmp_path / "eval.episodes.jsonl"
    old = [json.loads(x) for x in log.read_text().splitlines()]
    old[0].pop("seconds")  # a line an older version wrote
    log.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert evaluate(CountingPolicy(), cfg, out, policy_key="p")["episode_seconds"] is None


def test_chunk_is_executed_open_loop_and_videos_are_written(tmp_path):
    policy = CountingPolicy(chunk=4)
    cfg = EvalConfig(env="tabletop", tasks=[0], init_states=[3], image_size=32, max_steps=10,
                     video_dir=str(tmp_path / "videos"))
    res = evaluate(policy, cfg, tmp_path / "e.json")
    assert policy.calls == 3  # ceil(10 / 4) predictions for 10 steps
    assert res["per_task"] == {"left_of_cylinder": 0.0}
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and decode_video(videos[0], fps=20).shape == (10, 32, 64, 3)  # agentview | wrist
    policy = CountingPolicy(chunk=4)
    evaluate(policy, EvalConfig(env="tabletop", tasks=[0], init_states=[3], image_size=32, max_steps=10,
                                open_loop_steps=1), tmp_path / "e1.json")
    assert policy.calls == 10  # re-planning every step


def test_videos_of_odd_sizes_are_padded_to_even_h264(tmp_path):
    frames = [np.full((33, 66, 3), 40 * i, np.uint8) for i in range(5)]
    write_video(tmp_path / "v.mp4", frames)
    out = decode_video(tmp_path / "v.mp4", fps=20)
    assert out.shape == (5, 34, 66, 3) and abs(int(out[4, 10, 10, 0]) - 160) <= 3
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # the temporary file was renamed


def test_bad_init_state_is_a_clear_error(tmp_path):
    with pytest.raises(SFError, match=r"--init-states \[99\] out of range"):
        evaluate(CountingPolicy(), EvalConfig(env="tabletop", tasks=[0], init_states=[99]), tmp_path / "e.json")


@pytest.mark.parametrize("out, message", [
    (lambda d: d / "afile" / "e.json", r"^--out .*afile/e\.json: .*afile is a file, expected a directory$"),
    (lambda d: d / "afile" / "x" / "e.json", r"^--out .*e\.json: .*afile is a file, expected a directory$"),
    (lambda d: d / "adir", r"^--out .*adir is a directory, expected a file path$"),
])
def test_unusable_out_is_refused_before_any_episode(tmp_path, out, message):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    policy = CountingPolicy()
    with pytest.raises(SFError, match=message):
        evaluate(policy, EvalConfig(env="tabletop", tasks=[0], init_states=[0], max_steps=4), out(tmp_path))
    assert policy.calls == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]
    assert list((tmp_path / "adir").iterdir()) == []


def test_expert_episode_reports_the_picked_subgoal(tmp_path):
    from spatial_forcing.sim.registry import get_suite

    suite = get_suite("tabletop")
    env = suite.make_env(0, image_size=32, cameras=False)
    expert = suite.expert(env)
    obs, info = env.reset(options={"init_state": 2})
    for _ in range(suite.tasks[0].max_steps):
        obs, _, terminated, _, info = env.step(expert(obs))
        if terminated:
            break
    env.close()
    assert info["success"] and info["picked"]
    res = evaluate(CountingPolicy(), EvalConfig(env="tabletop", tasks=[0], init_states=[2], image_size=32,
                                                max_steps=4), tmp_path / "e.json")
    assert res["subgoal_rates"] == {"picked": 0.0}  # moving up never lifts the block


def test_temporal_ensemble_weights_every_chunk_covering_the_step_oldest_first(tmp_path):
    from spatial_forcing.eval.config import protocol
    from spatial_forcing.eval.episode import TemporalEnsemble

    ens = TemporalEnsemble(np.log(2.0))  # weights 1, 1/2, 1/4 from the oldest chunk on
    assert ens.add(np.zeros((2, 1))) == pytest.approx([0.0])
    assert ens.add(np.ones((2, 1))) == pytest.approx([1 / 3])  # (1 x 0 + 1/2 x 1) / 1.5
    assert ens.add(np.full((2, 1), 4.0)) == pytest.approx([(1 + 0.5 * 4) / 1.5])  # the first chunk has ended
    policy = CountingPolicy(chunk=4)
    cfg = EvalConfig(env="tabletop", tasks=[0], init_states=[3], image_size=32, max_steps=10,
                     temporal_ensemble=0.01)
    evaluate(policy, cfg, tmp_path / "e.json")
    assert policy.calls == 10  # a query every step
    assert protocol(cfg)["temporal_ensemble"] == 0.01 and "temporal_ensemble" not in protocol(EvalConfig())
    for bad, message in ((dict(temporal_ensemble=-0.1), "--temporal-ensemble must be a number >= 0"),
                         (dict(temporal_ensemble=0.01, open_loop_steps=2), "drop --open-loop-steps")):
        with pytest.raises(SFError, match=message):
            evaluate(CountingPolicy(), EvalConfig(env="tabletop", tasks=[0], init_states=[3], image_size=32,
                                                  **bad), tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
