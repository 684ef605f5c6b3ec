"""`sf generate`: expert demonstrations of a suite -> LeRobot v3 dataset (resumable)."""

from __future__ import annotations

import argparse

from spatial_forcing.utils.int_ranges import int_ranges_type


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="generate expert demonstrations as a LeRobot v3 dataset")
    parser.add_argument("--env", required=True,
                        help="suite name (tabletop, libero_spatial, ...) or package.module:factory")
    parser.add_argument("--out", required=True, help="output dataset directory (must not exist)")
    parser.add_argument("--episodes-per-task", type=int, required=True, help="successful demos per task")
    parser.add_argument("--image-size", type=int, default=128, help="rendered image side in pixels")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--init-states", default=None, type=int_ranges_type(),
                        help="use the suite's fixed initial states A-B (both included) or a list (0-4,7), "
                             "in order; default: seeded random layouts (tabletop: disjoint from its evaluation states)")
    parser.add_argument("--max-attempts", type=int, default=None,
                        help="random layouts tried per task at most (default 3 x episodes-per-task + 5)")
    parser.add_argument("--tasks", default=None, type=int_ranges_type(),
                        help="task ids, e.g. 0,1,2 or 0-3; default: all")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the episodes")
    parser.add_argument("--action-noise", type=float, default=0.0,
                        help="DART: size (action units) of random pushes of the executed position actions; "
                             "labels stay the expert's (default 0 = clean demos)")
    parser.add_argument("--noise-rate", type=float, default=0.05,
                        help="probability per moving step that a push starts (default 0.05)")
    parser.add_argument("--keep-work", action="store_true", help="keep the <out>.work part files")
    parser.add_argument("--record-geometry", action="store_true",
                        help="also store per-camera depth, semantic segmentation and camera matrices "
                             "(tabletop only; needed by --align.teacher oracle3d)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spatial_forcing.data.generate import generate_dataset

    result = generate_dataset(args.env, args.out, args.episodes_per_task, image_size=args.image_size,
                              init_states=args.init_states, workers=args.workers, seed=args.seed,
                              tasks=args.tasks, keep_work=args.keep_work, max_attempts=args.max_attempts,
                              action_noise=args.action_noise, noise_rate=args.noise_rate,
                              record_geometry=args.record_geometry)
    tried, ok = sum(result.attempts.values()), sum(result.successes.values())
    print(f"wrote {result.episodes} episodes / {result.frames} frames to {result.root} "
          f"(expert success {ok}/{tried}, {result.seconds:.1f} s)")
    return 0
