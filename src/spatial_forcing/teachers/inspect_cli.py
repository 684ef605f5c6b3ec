"""`sf teacher inspect`: how position-dependent a teacher's features and targets are, and what linear probes
read out of them (`teachers.inspect`).

Example: sf teacher inspect --dataset data/tabletop --teacher mini3d --image-size 64 --json inspect.json
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from spatial_forcing.core.target_norm import TARGET_NORMS
from spatial_forcing.teachers.inspect import format_report, inspect_teacher
from spatial_forcing.teachers.registry import TEACHERS, build_teacher
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value == "true"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of `sf teacher inspect`."""
    parser.add_argument("--dataset", type=Path, required=True, help="LeRobot v3 dataset directory")
    parser.add_argument("--teacher", choices=sorted(TEACHERS), required=True)
    parser.add_argument("--teacher-weights", default=None,
                        help="weights file, or 'random' (seeded by --seed); default: the teacher's default")
    parser.add_argument("--layer", type=int, default=-1, help="teacher layer (default -1, the last)")
    parser.add_argument("--student-grid", type=int, default=8,
                        help="side of the student's square patch grid, the targets' resolution (default 8)")
    parser.add_argument("--target-norm", choices=TARGET_NORMS, default="none",
                        help="normalisation of the raw features, as align.target_norm (default none)")
    parser.add_argument("--target-norm-gamma", type=float, default=0.6, help="as align.target_norm_gamma")
    parser.add_argument("--use-pe", type=_bool, default=True, metavar="BOOL",
                        help="add the 2D sin-cos PE to the targets, as align.use_pe (default true)")
    parser.add_argument("--pe-scale", type=float, default=0.1, help="as align.pe_scale (default 0.1)")
    parser.add_argument("--max-frames", type=int, default=2000,
                        help="at most this many frames, as whole seeded episodes (default 2000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the episode choice, the probe split and a random teacher init")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize views to this square size first, as training does; default: stored size")
    parser.add_argument("--cameras", nargs="+", default=["agentview", "wrist"], help="views, in order")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per teacher call (default 32)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this JSON file")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the cores are shared)")


def _finite(obj: Any) -> Any:
    """The report with NaN / inf floats as None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj


def main(args: argparse.Namespace) -> int:
    """Compute the report, print it, and write it as JSON with --json."""
    if args.batch_size < 1 or args.threads < 1:
        raise SFError(f"--batch-size and --threads must be >= 1, got {args.batch_size} and {args.threads}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    kwargs = {"weights": args.teacher_weights} if args.teacher_weights is not None else {}
    teacher = build_teacher(args.teacher, **kwargs)
    report = _finite(inspect_teacher(
        args.dataset, teacher, args.layer, args.cameras, args.image_size, args.student_grid, args.target_norm,
        args.target_norm_gamma, args.use_pe, args.pe_scale, args.max_frames, args.seed, args.batch_size))
    print(format_report(report))
    if args.json is not None:
        write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0
