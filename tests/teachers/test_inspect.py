"""`sf teacher inspect` on datasets and teachers whose features we control."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spatial_forcing.cli.main import main as sf_main
from spatial_forcing.data import lerobot_format as fmt
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.data.writer import LeRobotWriter
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.inspect import format_report, inspect_teacher, select_episodes
from spatial_forcing.teachers.mini import save_weights
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError


class PatchMeanTeacher(nn.Module):
    """Features: each 8 x 8 patch's mean R, G, B and brightness, so exactly linear in the pixels."""

    name, dim, num_layers = "patchmean", 4, 1

    def grid(self, image_hw):
        return image_hw[0] // 8, image_hw[1] // 8

    def forward_intermediates(self, images, indices, valid=None):
        b, v, _, hh, ww = images.shape
        x = F.avg_pool2d(images.flatten(0, 1), 8)
        x = torch.cat([x, x.mean(dim=1, keepdim=True)], dim=1)
        return [x.permute(0, 2, 3, 1).reshape(b, v, hh // 8, ww // 8, 4)]


class ConstantTeacher(PatchMeanTeacher):
    """The same features for every frame: a fixed random value per view, position and channel."""

    name = "constant"

    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.randn(2, 4, 4, 4, generator=torch.Generator().manual_seed(0)))

    def forward_intermediates(self, images, indices, valid=None):
        return [self.table.expand(images.shape[0], -1, -1, -1, -1).clone()]


ENV_NAMES = ["linear", "noise", "absent"]


def write_brightness_dataset(root):
    """8 episodes x 10 frames, 32 px: each view is a fixed pattern plus a per-frame brightness (a, w);
    environment_state = [2a - w + 0.5, noise, NaN]."""
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 100, (32, 32, 3))
    features = {fmt.image_key(cam): fmt.image_feature(32, 32) for cam in ("agentview", "wrist")}
    features.update({fmt.STATE_KEY: fmt.vector_feature(8), fmt.ACTION_KEY: fmt.vector_feature(7),
                     "observation.environment_state": fmt.vector_feature(3, names=ENV_NAMES)})
    with LeRobotWriter(root, fps=10, features=features) as writer:
        for _ in range(8):
            for _ in range(10):
                a, w = rng.integers(0, 150, 2)
                env = np.array([2.0 * a - w + 0.5, rng.normal(), np.nan], np.float32)
                writer.add_frame({fmt.image_key("agentview"): (pattern + a).astype(np.uint8),
                                  fmt.image_key("wrist"): (pattern[::-1] + w).astype(np.uint8),
                                  fmt.STATE_KEY: rng.normal(size=8).astype(np.float32),
                                  fmt.ACTION_KEY: rng.uniform(-1, 1, 7).astype(np.float32),
                                  "observation.environment_state": env})
            writer.save_episode("look")
        writer.finalize()
    return root


@pytest.fixture(scope="module")
def brightness_dataset(tmp_path_factory):
    return write_brightness_dataset(tmp_path_factory.mktemp("inspect") / "ds")


def test_constant_per_position_features_are_all_position(brightness_dataset):
    for norm in ("none", "position_mean"):
        report = inspect_teacher(brightness_dataset, ConstantTeacher(), 0, student_grid=3, target_norm=norm)
        assert report["features_from"] == "teacher" and report["frames"] == 80
        assert report["teacher_grid"] == [4, 4]
        assert report["position_variance_fraction"] == pytest.approx(1.0)
        assert report["residual_fraction"] == pytest.approx(0.0, abs=1e-9)
        assert report["position_only_cos"]["teacher_grid"] == pytest.approx(1.0, abs=1e-5)
        assert report["position_only_cos"]["student_grid"] == pytest.approx(1.0, abs=1e-5)


def test_probes_read_a_linear_column_and_not_noise_and_skip_missing_values(brightness_dataset):
    report = inspect_teacher(brightness_dataset, PatchMeanTeacher(), -1, student_grid=2, max_frames=75)
    assert report["frames"] == 70 and report["episodes"] == 7  # whole episodes only
    assert 0.0 < report["position_variance_fraction"] < 1.0
    env = report["probes"]["environment_state"]
    assert env["skipped"] == ["absent"] and set(env["columns"]) == {"linear", "noise"}
    assert env["columns"]["linear"]["targets"] > 0.95 and env["columns"]["linear"]["pixels"] > 0.95
    assert env["columns"]["noise"]["targets"] < 0.3 and env["columns"]["noise"]["pixels"] < 0.3
    assert env["mean"]["targets"] == pytest.approx(np.mean([c["targets"] for c in env["columns"].values()]))
    assert set(report["probes"]["gripper_position"]["columns"]) == {"state[0]", "state[1]", "state[2]"}
    split = report["probes"]["split"]
    assert split["fit_episodes"] + split["val_episodes"] + split["test_episodes"] == 7
    text = format_report(report)
    assert "environment_state.linear" in text and "vary on the test episodes): absent" in text


def test_features_come_from_a_complete_cache_without_running_the_teacher(brightness_dataset, tmp_path):
    reader = LeRobotDatasetReader(brightness_dataset)
    direct = inspect_teacher(reader, PatchMeanTeacher(), 0, student_grid=2)
    path = build_cache(reader, PatchMeanTeacher(), 0, progress=False)
    teacher = PatchMeanTeacher()
    teacher.forward_intermediates = None  # any call would fail
    cached = inspect_teacher(reader, teacher, 0, student_grid=2)
    assert cached["features_from"] == f"cache {path}"
    want = direct["position_variance_fraction"]
    assert cached["position_variance_fraction"] == pytest.approx(want, abs=1e-3)  # fp16 cache vs fp16 direct
    linear = [r["probes"]["environment_state"]["columns"]["linear"]["targets"] for r in (cached, direct)]
    assert linear[0] == pytest.approx(linear[1], abs=1e-2)


def test_episode_selection_is_seeded_and_bounded(brightness_dataset):
    reader = LeRobotDatasetReader(brightness_dataset)
    assert select_episodes(reader, 35, seed=1) == select_episodes(reader, 35, seed=1)
    assert len(select_episodes(reader, 35, seed=1)) == 3
    assert select_episodes(reader, 10_000) == list(range(8))
    with pytest.raises(SFError, match="--max-frames 5 is smaller than every episode"):
        select_episodes(reader, 5)


def test_cli_prints_and_writes_the_report(synthetic_dataset, tmp_path, capsys):
    torch.manual_seed(0)
    weights = tmp_path / "mini3d_small.safetensors"
    save_weights(build_teacher("mini3d", weights="random", dim=32, heads=2, depth=3, num_registers=2).model,
                 weights)
    out = tmp_path / "inspect.json"
    args = ["teacher", "inspect", "--dataset", str(synthetic_dataset), "--teacher", "mini3d",
            "--teacher-weights", str(weights), "--student-grid", "4", "--target-norm", "token_mean",
            "--use-pe", "false", "--json", str(out)]
    assert sf_main(args) == 0
    printed = capsys.readouterr().out
    assert "position variance fraction" in printed and "gripper_position" in printed
    report = json.loads(out.read_text())
    assert report["student_grid"] == [4, 4] and report["use_pe"] is False and report["frames"] == 72
    assert 0.0 <= report["position_variance_fraction"] <= 1.0
    assert sf_main(args[:-2] + ["--max-frames", "3"]) == 2
    assert "--max-frames 3 is smaller than every episode" in capsys.readouterr().err
