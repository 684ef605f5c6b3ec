"""lerobot finds the plugin by itself: its own register_third_party_plugins() registers smolvla_sf and sf, and
its factory resolves the policy classes and processors by its naming convention."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("lerobot_policy_sf", reason="lerobot and the plugin: bash scripts/setup.sh lerobot (or dev)")


def test_register_third_party_plugins_finds_smolvla_sf_and_sf():
    code = """
from lerobot.configs.policies import PreTrainedConfig
import lerobot.policies
assert not {"smolvla_sf", "sf"} & set(PreTrainedConfig.get_known_choices())
assert "lerobot_policy_sf" not in __import__("sys").modules
from lerobot.utils.import_utils import register_third_party_plugins
register_third_party_plugins()
from lerobot.policies.factory import get_policy_class
for kind in ("smolvla_sf", "sf"):
    cls = get_policy_class(kind)
    print(PreTrainedConfig.get_choice_class(kind).__name__, cls.__module__, cls.__name__)
"""
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": ""}
    if os.environ.get("PYTHONPATH"):  # a checkout run against another checkout's venv
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [
        "SmolVLASFConfig lerobot_policy_sf.modeling_smolvla_sf SmolVLASFPolicy",
        "SFConfig lerobot_policy_sf.modeling_sf SFPolicy"]


def test_distribution_name_has_the_prefix_lerobot_looks_for():
    from importlib.metadata import distribution

    assert distribution("lerobot_policy_sf").metadata["Name"] == "lerobot_policy_sf"
