"""`sf teacher pretrain`: render (or load cached) tabletop frames and pretrain mini3d or mini2d, or the
student's own ViT (vit2d, shaped by a VLA preset) for the student option `vision_init`."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
from pathlib import Path

import torch

from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import PRESETS, SmallVLAConfig, preset
from spatial_forcing.vla.vision_init import shipped_name, vit_shape
from spatial_forcing.vla.vision_pretrain import ViT2DConfig

log = logging.getLogger("sf.teacher.pretrain")
MINI_SIZE = {"dim": 192, "depth": 4, "heads": 3, "patch": 8}  # defaults of the mini teachers' size options


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of `sf teacher pretrain`."""
    parser.add_argument("--teacher", choices=["mini3d", "mini2d", "vit2d"], required=True,
                        help="a mini teacher, or vit2d: the student's own ViT (for its option vision_init), "
                             "masked-image pretrained with no 3D labels")
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, weights, cache)")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--steps", type=int, default=3000, help="step budget (default 3000)")
    parser.add_argument("--renders", type=int, default=2000, help="two-view samples to render (default 2000)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="render and model input size (default 64; vit2d: the ViT's image_size)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--data", choices=["auto", "tabletop", "synthetic"], default="auto",
                        help="render source; auto = tabletop if the suite is installed, else synthetic")
    parser.add_argument("--cache", type=Path, default=None, 
                        help="render cache npz (default OUT/renders_*.npz)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ckpt-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, 
                        help="torch threads (default 1: the cores are shared)")
    parser.add_argument("--tensorboard", action="store_true", help="write TensorBoard scalars to OUT/tb")
    mini = parser.add_argument_group("mini teacher size (mini3d, mini2d)")
    mini.add_argument("--dim", type=int, default=None, help="token width (default 192; features have 2*dim)")
    mini.add_argument("--depth", type=int, default=None, help="frame/global block pairs (default 4)")
    mini.add_argument("--heads", type=int, default=None, help="attention heads (default 3)")
    mini.add_argument("--patch", type=int, default=None, help="patch size (default 8)")
    vit = parser.add_argument_group("student ViT shape (vit2d)")
    vit.add_argument("--vla-preset", choices=sorted(PRESETS), default=None,
                     help="VLA preset whose ViT is pretrained (default demo, as sf train)")
    vit.add_argument("--vla", default=None, metavar="JSON",
                     help='SmallVLAConfig overrides as in sf train, e.g. \'{"patch_size": 8}\'')


def _source(choice: str) -> str:
    if choice != "auto":
        return choice
    if importlib.util.find_spec("spatial_forcing.sim.tabletop.suite") is not None:
        return "tabletop"
    log.warning("tabletop suite not installed; pretraining on synthetic primitive scenes")
    return "synthetic"


def _mini_model(args: argparse.Namespace) -> MiniConfig:
    if args.vla_preset is not None or args.vla is not None:
        raise SFError("--vla-preset/--vla: only with --teacher vit2d; a mini teacher's size is --dim, "
                      "--depth, --heads, --patch")
    size = {name: default if getattr(args, name) is None else getattr(args, name)
            for name, default in MINI_SIZE.items()}
    try:
        return MiniConfig(image_size=args.image_size or 64, **size)
    except ValueError as err:
        raise SFError(f"model options: {err}") from err


def _vla_overrides(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as err:
        raise SFError(f"--vla: invalid JSON ({err})") from None
    if not isinstance(overrides, dict):
        raise SFError(f"--vla: expected a JSON object of SmallVLAConfig fields, "
                      f"got {type(overrides).__name__}")
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(SmallVLAConfig)})
    if unknown:
        raise SFError(f"--vla: unknown SmallVLAConfig field(s) {unknown}")
    return overrides


def _vit_model(args: argparse.Namespace) -> tuple[ViT2DConfig, dict]:
    """The ViT2DConfig of the chosen VLA preset + overrides, and those overrides."""
    given = [f"--{name}" for name in MINI_SIZE if getattr(args, name) is not None]
    if given:
        raise SFError(f"{', '.join(given)}: only for the mini teachers; the vit2d shape comes from "
                      "--vla-preset and --vla")
    overrides = _vla_overrides(args.vla)
    vla = preset(args.vla_preset or "demo", **overrides)
    if args.image_size is not None and args.image_size != vla.image_size:
        raise SFError(f"--image-size {args.image_size}: the ViT's image_size is {vla.image_size}; "
                      f"change it with --vla '{{\"image_size\": {args.image_size}}}'")
    return ViT2DConfig.from_vla(vla), overrides


def main(args: argparse.Namespace) -> int:
    """Run the pretraining and print the held-out metrics."""
    from spatial_forcing.teachers.pretrain.loop import PretrainConfig, pretrain
    from spatial_forcing.teachers.pretrain.renders import get_renders

    torch.set_num_threads(max(1, args.threads))
    for name in ("steps", "renders", "batch", "image_size", "ckpt_every"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SFError(f"--{name.replace('_', '-')}: expected a positive integer, got {value}")
    unused = {"func", *(MINI_SIZE if args.teacher == "vit2d" else ("vla_preset", "vla"))}
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in unused}
    if args.teacher == "vit2d":
        model, options["vla"] = _vit_model(args)
        options["vla_preset"] = args.vla_preset or "demo"
    else:
        model = _mini_model(args)
    cfg = PretrainConfig(teacher=args.teacher, steps=args.steps, minutes=args.minutes, batch=args.batch,
                         lr=args.lr, ckpt_every=args.ckpt_every, seed=args.seed, tensorboard=args.tensorboard,
                         model=model)
    source = options["data"] = _source(args.data)
    cache = args.cache or args.out / f"renders_{source}_{model.image_size}px.npz"
    data = get_renders(source, args.renders, model.image_size, cache, seed=args.seed)
    metrics = pretrain(cfg, data, args.out, resume=args.resume, options=options)
    weights = args.out / f"{args.teacher}.safetensors"
    print(f"{args.teacher}: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    print(f"weights: {weights}")
    if args.teacher == "vit2d":
        name = shipped_name(vit_shape(model))
        print(f"student option: vision_init={str(weights)!r}; to ship it as vision_init='shipped', copy it "
              f"and its .json to spatial_forcing/assets/{name}.safetensors and {name}.json")
    return 0
