"""The exported policy: the one owner of its on-disk format, written by training, read by evaluation.

An exported policy is the student alone (no SF projector, no teacher), one directory written atomically:

    model.safetensors   the student's state dict
    vla.json            its SmallVLAConfig (vision_init is kept as a record and not read back: the weights
                        already hold the trained ViT)
    tokenizer.json      its WordTokenizer
    normalizer.json     state/action normalisation (`data.normalize.Normalizer.state_dict()`)
    info.json           how it was trained and is to be fed: dataset, cameras, steps, crop_scale, ...

It lives under vla/ (not train/ or eval/) so that both sides import it without importing each other.
Every failure to read one is a one-line SFError naming the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.utils.atomic import write_dir
from spatial_forcing.utils.errors import SFError, detail
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.utils.tensor_file import load_tensors, save_tensors
from spatial_forcing.vla.config import config_from_dict
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "vla.json"
TOKENIZER_FILE = "tokenizer.json"
NORMALIZER_FILE = "normalizer.json"
INFO_FILE = "info.json"
STATE_KEY, ACTION_KEY = "observation.state", "action"  # the normaliser's keys (data.lerobot_format names)


@dataclasses.dataclass
class ExportedPolicy:
    """What `read_policy` gives: the student (built and loaded), its normaliser and info.json."""

    model: torch.nn.Module
    normalizer: Normalizer
    info: dict[str, Any]


def export_policy(out_dir: str | Path, policy: torch.nn.Module, vla_config: dict, tokenizer_json: str,
                  normalizer: dict, extra: dict | None = None) -> Path:
    """Write the student alone; an existing export in `out_dir` is replaced only once the new one is
    complete, and never by non-finite weights (SFError instead)."""

    def fill(tmp: Path) -> None:
        save_tensors(policy.state_dict(), tmp / MODEL_FILE, "policy weights")
        (tmp / CONFIG_FILE).write_text(json.dumps(vla_config, indent=2))
        (tmp / TOKENIZER_FILE).write_text(tokenizer_json)
        (tmp / NORMALIZER_FILE).write_text(json.dumps(normalizer))
        (tmp / INFO_FILE).write_text(json.dumps(extra or {}, indent=2))

    return write_dir(Path(out_dir), fill)


def read_policy(policy_dir: str | Path) -> ExportedPolicy:
    """Build the student of an exported policy and load its weights, normaliser and info."""
    policy_dir = Path(policy_dir)
    if not (policy_dir / MODEL_FILE).is_file():
        raise SFError(f"{policy_dir}: not an exported policy (no {MODEL_FILE})")
    config = _read_config(policy_dir / CONFIG_FILE)
    tokenizer_path = policy_dir / TOKENIZER_FILE
    if not tokenizer_path.is_file():
        raise SFError(f"{tokenizer_path}: file not found; an exported policy needs the tokenizer it was "
                      f"trained with")
    try:
        tokenizer = WordTokenizer.from_json(tokenizer_path.read_text())
    except SFError as err:
        raise SFError(f"{tokenizer_path}: {err}") from None
    model = build_policy(config, tokenizer)
    weights = load_tensors(policy_dir / MODEL_FILE, "policy weights")
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:  # e.g. vla.json edited: "size mismatch for ..."
        raise SFError(f"{policy_dir / MODEL_FILE} does not fit {CONFIG_FILE} and {TOKENIZER_FILE} beside it: "
                      f"{detail(err)}") from None
    normalizer = Normalizer.from_state_dict(read_json(policy_dir / NORMALIZER_FILE),
                                            source=str(policy_dir / NORMALIZER_FILE))
    for key, dim in ((STATE_KEY, config.proprio_dim), (ACTION_KEY, config.action_dim)):
        if key not in normalizer.keys or normalizer.dim(key) != dim:
            raise SFError(f"{policy_dir / NORMALIZER_FILE}: no {dim}-value {key!r} stats for the "
                          f"{CONFIG_FILE} of the policy")
    info = read_json(policy_dir / INFO_FILE)
    if not isinstance(info, dict):
        raise SFError(f"{policy_dir / INFO_FILE}: expected a JSON object")
    return ExportedPolicy(model, normalizer, info)


def _read_config(path: Path):
    data = read_json(path)
    if not isinstance(data, dict):
        raise SFError(f"{path}: expected a JSON object of SmallVLAConfig fields")
    try:
        config = config_from_dict(data)
    except SFError as err:
        raise SFError(f"{path}: {err}") from None
    except (TypeError, ValueError) as err:  # a field of the wrong type
        raise SFError(f"{path}: bad field value ({detail(err)})") from None
    # vision_init names the weights the ViT started from; the exported weights replace them, so not read.
    return dataclasses.replace(config, vision_init="")
