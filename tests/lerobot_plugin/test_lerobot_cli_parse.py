"""lerobot's argument parser still finishes with the plugin installed. The generic `sf` wrapper once had a
field typed `PreTrainedConfig` (a draccus choice over every registered policy type, `sf` included): draccus
then registered CLI actions without end and every `lerobot-train` hung, for any policy type, because lerobot
imports the plugin in every run. Each check runs in a subprocess with a timeout, so a hang fails the test
instead of stalling the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (dev)")

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
# The hang had no end; a healthy parse takes ~10 s on a loaded 2-core machine (mostly lerobot's imports).
TIMEOUT = 120

PARSE = """
import json, sys
import draccus
from lerobot.configs.train import TrainPipelineConfig
from lerobot.utils.import_utils import register_third_party_plugins
register_third_party_plugins()
assert "lerobot_policy_sf" in sys.modules, "the plugin was not imported"
for policy in json.loads(sys.argv[1]):
    args = ["--dataset.repo_id=local/x", "--policy.device=cpu", *policy]
    policy = draccus.parse(TrainPipelineConfig, args=args).policy
    inner = getattr(policy, "base_config", policy)
    print(policy.type, inner.type, inner.chunk_size)
"""


def run(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, env=ENV)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{Path(args[0]).name} ran over {TIMEOUT} s: lerobot's parser hangs with the plugin")


def test_lerobot_train_help_finishes_and_lists_the_sf_fields():
    result = run([str(Path(sys.executable).with_name("lerobot-train")), "--help"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--policy.base_type" in result.stdout and "--policy.align.layers" in result.stdout


def test_train_config_parses_act_and_sf_wrapping_act():
    policies = [["--policy.type=act", "--policy.chunk_size=12", "--policy.n_action_steps=12"],
                ["--policy.type=sf", "--policy.base_type=act",
                 '--policy.base={"chunk_size": 8, "n_action_steps": 8}']]
    result = run([sys.executable, "-c", PARSE, json.dumps(policies)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == ["act act 12", "sf act 8"]
