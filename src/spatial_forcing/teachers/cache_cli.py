"""`sf teacher cache`: precompute one teacher layer's features for every frame of a dataset, beside it.

Example: sf teacher cache --dataset data/tabletop --teacher mini3d --layer 2 --image-size 64
Rerunning after an interruption finishes the missing chunks only; training in cache mode
(`sf train --targets cache`) then reads the features without running the teacher.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from spatial_forcing.teachers.cache import FeatureCache
from spatial_forcing.teachers.cache_build import build_cache
from spatial_forcing.teachers.registry import TEACHERS, build_teacher
from spatial_forcing.utils.errors import SFError

log = logging.getLogger("sf.teacher.cache")


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of `sf teacher cache`."""
    parser.add_argument("--dataset", type=Path, required=True, help="LeRobot v3 dataset directory")
    parser.add_argument("--teacher", choices=sorted(TEACHERS), required=True)
    parser.add_argument("--layer", type=int, required=True, help="teacher layer (negative counts from the end)")
    parser.add_argument("--weights", default=None,
                        help="weights file, or 'random' (seeded by --seed); default: the teacher's default")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize views to this square size first, as training does (the VLA's image_size, "
                             "e.g. 64 for the demo preset); default: the stored size")
    parser.add_argument("--cameras", nargs="+", default=["agentview", "wrist"], help="views, in order")
    parser.add_argument("--out", type=Path, default=None,
                        help="cache directory (default <dataset>.sf_cache/<teacher>-L<layer>-<hash>)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per teacher call (default 32)")
    parser.add_argument("--chunk-frames", type=int, default=0,
                        help="frames per chunk file (default 0 = about 64 MB of features per chunk)")
    parser.add_argument("--vggt-config", default=None, help="vggt only: size preset (e.g. 'tiny' for tests)")
    parser.add_argument("--overwrite", action="store_true", help="replace a stale cache instead of refusing")
    parser.add_argument("--seed", type=int, default=0, help="seed of a random teacher init")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the cores are shared)")


def main(args: argparse.Namespace) -> int:
    """Build or finish the cache, verify it, print its location and size."""
    if args.batch_size < 1:
        raise SFError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.chunk_frames < 0:
        raise SFError(f"--chunk-frames must be >= 0, got {args.chunk_frames}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    kwargs: dict = {"weights": args.weights}
    if args.weights == "random":
        kwargs["seed"] = args.seed
    if args.teacher == "vggt" and args.vggt_config:
        kwargs["config"] = args.vggt_config
    elif args.vggt_config:
        raise SFError(f"--vggt-config only applies to --teacher vggt, not {args.teacher!r}")
    teacher = build_teacher(args.teacher, **kwargs)
    path = build_cache(args.dataset, teacher, args.layer, args.cameras, args.image_size, out=args.out,
                       chunk_frames=args.chunk_frames, batch_size=args.batch_size, overwrite=args.overwrite)
    cache = FeatureCache(path)
    size = sum(p.stat().st_size for p in path.glob("chunk-*.npy")) / 2**20
    print(f"{path}: {len(cache)} frames x {cache.row_shape} float16 in {cache.manifest['num_chunks']} chunks, "
          f"{size:.1f} MiB")
    return 0
