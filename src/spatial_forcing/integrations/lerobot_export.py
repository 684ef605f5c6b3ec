"""`sf export --lerobot`: an SF-trained LeRobot checkpoint -> the plain checkpoint of its base policy type.

File-level (safetensors + JSON, no lerobot import): the config loses the SF fields and takes the base type
(`smolvla_sf` -> `smolvla`), the weights lose the SF branch (`sf.` keys: projector; the teacher is never
saved). Processor files are copied as they are (they hold only stock steps). Stock lerobot loads the result
(`from_pretrained`, `--policy.path`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from spatial_forcing.utils.atomic import write_dir
from spatial_forcing.utils.errors import SFError

SF_PREFIX = "sf."  # the SF branch inside an SF policy (lerobot_policy_sf.branch.SF_PREFIX)
SF_FIELDS = ("align", "teacher_weights", "align_log_every")  # fields smolvla_sf adds to SmolVLAConfig
# rewritten here, or SF-typed and not needed to load the policy (train_config.json)
SKIP_FILES = ("config.json", "model.safetensors", "train_config.json")


def plain_config(config: dict, where: Path) -> dict:
    """The base policy's config.json content of an SF config."""
    kind = config.get("type")
    if isinstance(kind, str) and kind.endswith("_sf"):
        return {"type": kind[:-3], **{k: v for k, v in config.items() if k not in (*SF_FIELDS, "type")}}
    raise SFError(f"{where}: type {kind!r} is not an SF policy (expected smolvla_sf)")


def plain_weights(tensors: dict) -> dict:
    """Weights without the SF branch."""
    return {k: v for k, v in tensors.items() if not k.startswith(SF_PREFIX)}


def export_lerobot(src: str | Path, out: str | Path) -> Path:
    """Write the plain checkpoint of `src` (a `pretrained_model` directory, or a training checkpoint holding
    one) into `out`; returns `out`."""
    src = Path(src)
    if (src / "pretrained_model").is_dir():
        src = src / "pretrained_model"
    for name in ("config.json", "model.safetensors"):
        if not (src / name).is_file():
            raise SFError(f"{src}: no {name}; expected a LeRobot pretrained_model directory")
    config = json.loads((src / "config.json").read_text())
    plain = plain_config(config, src / "config.json")
    tensors = plain_weights(load_file(str(src / "model.safetensors")))

    def fill(tmp: Path) -> None:
        (tmp / "config.json").write_text(json.dumps(plain, indent=4))
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"))
        for f in src.iterdir():
            if f.is_file() and f.name not in SKIP_FILES:
                shutil.copy2(f, tmp / f.name)

    return write_dir(out, fill)
