"""`sf teacher pretrain`: render (or load cached) tabletop frames and pretrain mini3d or mini2d."""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path

import torch

from spatial_forcing.teachers.blocks import MiniConfig
from spatial_forcing.utils.errors import SFError

log = logging.getLogger("sf.teacher.pretrain")


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of `sf teacher pretrain`."""
    parser.add_argument("--teacher", choices=["mini3d", "mini2d"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, weights, cache)")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--steps", type=int, default=3000, help="step budget (default 3000)")
    parser.add_argument("--renders", type=int, default=2000, help="two-view samples to render (default 2000)")
    parser.add_argument("--image-size", type=int, default=64, help="render and model input size (default 64)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--data", choices=["auto", "tabletop", "synthetic"], default="auto",
                        help="render source; auto = tabletop if the suite is installed, else synthetic")
    parser.add_argument("--cache", type=Path, default=None, 
                        help="render cache npz (default OUT/renders_*.npz)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dim", type=int, default=192, help="token width (features have 2*dim channels)")
    parser.add_argument("--depth", type=int, default=4, help="frame/global block pairs")
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--patch", type=int, default=8)
    parser.add_argument("--ckpt-every", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, 
                        help="torch threads (default 1: the cores are shared)")
    parser.add_argument("--tensorboard", action="store_true", help="write TensorBoard scalars to OUT/tb")


def _source(choice: str) -> str:
    if choice != "auto":
        return choice
    if importlib.util.find_spec("spatial_forcing.sim.tabletop.suite") is not None:
        return "tabletop"
    log.warning("tabletop suite not installed; pretraining on synthetic primitive scenes")
    return "synthetic"


def main(args: argparse.Namespace) -> int:
    """Run the pretraining and print the held-out metrics."""
    from spatial_forcing.teachers.pretrain.loop import PretrainConfig, pretrain
    from spatial_forcing.teachers.pretrain.renders import get_renders

    torch.set_num_threads(max(1, args.threads))
    for name in ("steps", "renders", "batch", "image_size", "ckpt_every"):
        if getattr(args, name) < 1:
            flag = name.replace("_", "-")
            raise SFError(f"--{flag}: expected a positive integer, got {getattr(args, name)}")
    try:
        model = MiniConfig(image_size=args.image_size, patch=args.patch, dim=args.dim, depth=args.depth,
                           heads=args.heads)
    except ValueError as err:
        raise SFError(f"model options: {err}") from err
    cfg = PretrainConfig(teacher=args.teacher, steps=args.steps, minutes=args.minutes, batch=args.batch,
                         lr=args.lr, ckpt_every=args.ckpt_every, seed=args.seed, tensorboard=args.tensorboard,
                         model=model)
    source = _source(args.data)
    cache = args.cache or args.out / f"renders_{source}_{args.image_size}px.npz"
    data = get_renders(source, args.renders, args.image_size, cache, seed=args.seed)
    metrics = pretrain(cfg, data, args.out, resume=args.resume)
    print(f"{args.teacher}: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    print(f"weights: {args.out / (args.teacher + '.safetensors')}")
    return 0
