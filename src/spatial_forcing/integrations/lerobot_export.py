"""`sf export --lerobot`: an SF-trained LeRobot checkpoint -> the plain checkpoint of its base policy type.

File-level (safetensors + JSON, no lerobot import): the config loses the SF fields and takes the base type
(`smolvla_sf` -> `smolvla`; the generic `sf` -> its `base` config of type `base_type`), the weights lose the
SF branch (`sf.` keys: projector; the teacher is never saved) and, for `sf`, the `base.` prefix. Processor
files are copied as they are (they hold only stock steps). Stock lerobot loads the result (`from_pretrained`,
`--policy.path`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from spatial_forcing.utils.atomic import write_dir
from spatial_forcing.utils.errors import SFError

SF_PREFIX = "sf."  # the SF branch inside an SF policy (lerobot_policy_sf.branch.SF_PREFIX)
WRAPPER_PREFIX = "base."  # the wrapped policy inside the generic `sf` policy (SFPolicy.base)
# the generic `sf` wrapper's own values that its wrapped policy takes (lerobot_policy_sf SFConfig.base_config)
SYNCED = ("input_features", "output_features", "device", "use_amp")
SF_FIELDS = ("align", "teacher_weights", "align_log_every")  # fields smolvla_sf adds to SmolVLAConfig
# rewritten here, or SF-typed and not needed to load the policy (train_config.json)
SKIP_FILES = ("config.json", "model.safetensors", "train_config.json")


def plain_config(config: dict, where: Path) -> dict:
    """The base policy's config.json content of an SF config."""
    kind = config.get("type")
    if kind == "sf":
        return wrapped_config(config, where)
    if isinstance(kind, str) and kind.endswith("_sf"):
        return {"type": kind[:-3], **{k: v for k, v in config.items() if k not in (*SF_FIELDS, "type")}}
    raise SFError(f"{where}: type {kind!r} is not an SF policy (expected smolvla_sf or sf)")


def wrapped_config(config: dict, where: Path) -> dict:
    """The wrapped policy's config of a generic `sf` config: `base` typed `base_type`, with the wrapper's
    features (less `ignore_inputs`), device and AMP flag, as the wrapper gave them to it."""
    kind, base = config.get("base_type"), config.get("base")
    if not isinstance(kind, str) or not kind or kind == "sf" or not isinstance(base, dict):
        raise SFError(f"{where}: type 'sf' needs 'base_type' (the wrapped policy type) and 'base' (its "
                      f"config), got base_type={kind!r}")
    plain = {"type": kind, **{k: v for k, v in base.items() if k != "type"}}
    ignore = set(config.get("ignore_inputs") or ())
    for key in (k for k in SYNCED if k in config):
        value = config[key]
        if key == "input_features" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ignore}
        if value or not key.endswith("_features"):  # no features given: the wrapped config's own
            plain[key] = value
    return plain


def plain_weights(tensors: dict, kind: str) -> dict:
    """Weights without the SF branch (and without the wrapper prefix for the generic `sf` type)."""
    out = {k: v for k, v in tensors.items() if not k.startswith(SF_PREFIX)}
    if kind == "sf":
        out = {k[len(WRAPPER_PREFIX):]: v for k, v in out.items() if k.startswith(WRAPPER_PREFIX)}
    return out


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
    tensors = plain_weights(load_file(str(src / "model.safetensors")), config["type"])

    def fill(tmp: Path) -> None:
        (tmp / "config.json").write_text(json.dumps(plain, indent=4))
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "model.safetensors"))
        for f in src.iterdir():
            if f.is_file() and f.name not in SKIP_FILES:
                shutil.copy2(f, tmp / f.name)

    return write_dir(out, fill)
