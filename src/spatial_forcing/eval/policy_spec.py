"""A policy named on the command line: an exported policy directory (RUN/policy) or RUN:STEP, the student
part of a training run's checkpoint at STEP (0 = the untrained student of that run's seed-0 init)."""

from __future__ import annotations

from pathlib import Path

import torch

from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.tensor_file import load_tensors
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer


def load_policy(spec: str) -> LoadedPolicy:
    """An exported policy directory, or RUN:STEP (the student part of a training checkpoint)."""
    if ":" not in spec:
        return LoadedPolicy.load(spec)
    run, step = spec.rsplit(":", 1)
    if not step.isdigit():
        raise SFError(f"policy {spec!r}: expected RUN/policy or RUN:STEP with an integer STEP")
    config = Path(run) / "train_config.json"
    if not config.is_file():
        raise SFError(f"policy {spec!r}: {config} not found; expected a training run directory")
    cfg = read_json(config)
    data = LeRobotDatasetReader(cfg["dataset"])
    torch.manual_seed(0)
    model = build_policy(preset(cfg["vla_preset"], **cfg["vla"]), WordTokenizer.build(data.tasks))
    if int(step) > 0:
        state = load_tensors(Path(run) / "checkpoints" / f"step_{int(step):06d}" / "model.safetensors",
                             "checkpoint")
        model.load_state_dict({k[len("policy."):]: v for k, v in state.items() if k.startswith("policy.")})
    return LoadedPolicy(model, Normalizer(data.stats), cfg["cameras"])


def run_config(spec: str) -> dict | None:
    """The training run's train_config.json of a policy spec (RUN/policy or RUN:STEP), None if absent."""
    run = Path(spec.rsplit(":", 1)[0]) if ":" in spec else Path(spec).parent
    path = run / "train_config.json"
    return read_json(path) if path.is_file() else None
