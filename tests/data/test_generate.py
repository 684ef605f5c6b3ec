"""Demo generation over a fake numpy Suite: failure filtering, replay rendering, workers, resume, CLI."""

from __future__ import annotations

import fake_suite
import numpy as np
import pytest

from spatial_forcing.cli.main import main
from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.demos import render_path, rollout_path
from spatial_forcing.data.generate import generate_dataset
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.utils.errors import SFError

SPEC = "fake_suite:FakeSuite"


def _check_against_sim(root, size):
    """Every stored frame's images equal what the fake sim renders for the stored proprio."""
    r = LeRobotDatasetReader(root)
    suite = fake_suite.FakeSuite()
    for g in range(r.num_frames):
        f = r[g]
        env = suite.make_env(int(f["task_index"]), image_size=size)
        env.pos, env.grip = f[fmt.STATE_KEY][:3].astype(np.float64), float(f[fmt.STATE_KEY][6])
        want = env.render_observation()
        for key in (fmt.image_key("agentview"), fmt.image_key("wrist")):
            np.testing.assert_array_equal(f[key], want[key])
    return r


def test_generate_filters_failures_and_renders_only_successes(tmp_path):
    fake_suite.ROLLOUTS.clear()
    out = tmp_path / "demos"
    res = generate_dataset(SPEC, out, episodes_per_task=3, image_size=16, init_states="2-8", keep_work=True)
    # states 3 and 7 fail: each task tries 2,3,4 then 5 -> uses 2,4,5
    assert res.attempts == {0: 4, 1: 4} and res.successes == {0: 3, 1: 3}
    assert sorted(fake_suite.ROLLOUTS) == sorted((t, i) for t in (0, 1) for i in (2, 3, 4, 5))
    work = tmp_path / "demos.work"
    assert rollout_path(work, 0, 3).is_file() and not render_path(work, 0, 3, 16).is_file()
    assert render_path(work, 1, 5, 16).is_file()
    r = _check_against_sim(out, 16)
    assert r.num_episodes == 6 and r.tasks == [t.instruction for t in fake_suite.FakeSuite().tasks]
    cams = [fmt.image_key("agentview"), fmt.image_key("wrist")]
    assert list(r.features)[:4] == cams + [fmt.STATE_KEY, fmt.ACTION_KEY]
    assert r.stats is not None and "q99" in r.stats[fmt.ACTION_KEY]
    # the last frame of every episode is the step that reached the target
    for e in range(r.num_episodes):
        _, hi = r.episode_range(e)
        last = r[hi - 1]
        env = fake_suite.FakeEnv(int(last["task_index"]), 16, cameras=False)
        reached = last[fmt.STATE_KEY][:3] + 0.1 * np.clip(last[fmt.ACTION_KEY][:3], -1, 1)
        assert np.linalg.norm(reached - env.target) < 0.08
        before = r[hi - 2]
        assert np.linalg.norm(before[fmt.STATE_KEY][:3] - env.target) >= 0.08
    assert res.frames == r.num_frames


def test_random_layouts_and_workers_give_the_same_dataset(tmp_path):
    fake_suite.ROLLOUTS.clear()
    one = generate_dataset(SPEC, tmp_path / "a", episodes_per_task=4, image_size=8, tasks=[1], workers=1)
    assert set(fake_suite.ROLLOUTS) == {(1, -1)}  # no fixed init_state was used
    assert one.episodes == 4 and one.successes[1] == 4
    assert one.attempts[1] == len(fake_suite.ROLLOUTS) > 4  # a failed layout was retried with a new seed
    two = generate_dataset(SPEC, tmp_path / "b", episodes_per_task=4, image_size=8, tasks=[1], workers=2)
    assert two.attempts == one.attempts
    ra, rb = LeRobotDatasetReader(one.root), LeRobotDatasetReader(two.root)
    assert ra.num_frames == rb.num_frames and not (tmp_path / "a.work").exists()
    for key in (fmt.STATE_KEY, fmt.ACTION_KEY, "episode_index"):
        np.testing.assert_array_equal(ra.columns[key], rb.columns[key])
    key = fmt.image_key("agentview")
    np.testing.assert_array_equal(ra.images(key), rb.images(key))


def test_interrupted_generation_resumes(tmp_path):
    out = tmp_path / "demos"
    fake_suite.ROLLOUTS.clear()
    fake_suite.CRASH_AT = (1, 1)
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            generate_dataset(SPEC, out, episodes_per_task=3, image_size=8, init_states=range(8))
    finally:
        fake_suite.CRASH_AT = None
    assert not out.exists()  # no half dataset
    assert len(list((tmp_path / "demos.work").glob("*.rollout.npz"))) == 4  # task 0: 0,1,2; task 1: 0
    fake_suite.ROLLOUTS.clear()
    res = generate_dataset(SPEC, out, episodes_per_task=3, image_size=8, init_states=range(8))
    assert fake_suite.ROLLOUTS == [(1, 1), (1, 2)]  # only the missing rollouts ran again
    assert res.episodes == 6
    _check_against_sim(out, 8)


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["generate", "--env", SPEC, "--out", str(out), "--episodes-per-task", "1",
                 "--image-size", "8", "--tasks", "0"])
    assert code == 0 and "wrote 1 episodes" in capsys.readouterr().out
    assert LeRobotDatasetReader(out).num_episodes == 1
    assert main(["generate", "--env", SPEC, "--out", str(out), "--episodes-per-task", "1"]) == 2  # exists
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1
    assert main(["generate", "--env", SPEC, "--out", str(tmp_path / "x"), "--episodes-per-task", "1",
                 "--init-states", "a-b"]) == 2
    assert "--init-states" in capsys.readouterr().err
    assert main(["generate", "--env", SPEC, "--out", str(tmp_path / "g"), "--episodes-per-task", "1",
                 "--record-geometry"]) == 2
    err = capsys.readouterr().err
    assert "--record-geometry: suite 'fake'" in err and err.count("\n") == 1
    assert not (tmp_path / "g.work").exists()


def test_init_states_text_is_read_by_the_shared_parser(tmp_path):
    with pytest.raises(SFError, match=r"^--init-states '9-3': 9-3 is a reversed range"):
        generate_dataset(SPEC, tmp_path / "g", 1, init_states="9-3")
    assert not (tmp_path / "g").exists()
