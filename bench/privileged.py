"""Is the tabletop learnable by behaviour cloning when perception is solved? A control for the regime search.

    python bench/privileged.py --data DATASET --out DIR [--steps 4000] [--batch 256] [--init-states 25-34]

Two small MLP policies are trained on the same demonstrations with the same L1 chunk loss, chunk and
closed-loop protocol as the VLA, and evaluated in the simulator:

- privileged: state + the object positions the simulator reports (`observation.environment_state`, NaN ->
  0 with a presence mask) + the task (one-hot of the instruction). Perfect perception, nothing to learn
  from pixels.
- blind: state + task only. What a policy scores without seeing the layout at all (the trivial predictor).

If `privileged` succeeds and `blind` does not, the demonstrations, action space, chunking and evaluation are
sound and what a VLA student lacks is reading the layout from its cameras. Writes DIR/privileged.json and
DIR/privileged.png and prints one line per variant and seed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spatial_forcing.data.lerobot_format import ACTION_KEY, STATE_KEY
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.eval.config import EvalConfig
from spatial_forcing.eval.rollout import evaluate
from spatial_forcing.experiment.stats import mean_std
from spatial_forcing.sim.tabletop.env import ENV_STATE_KEY
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import parse_int_ranges

VARIANTS = ("privileged", "blind")


def features(state: np.ndarray, env_state: np.ndarray | None, task: np.ndarray, num_tasks: int) -> np.ndarray:
    """[n, F] float32: state, (object xyz with NaN -> 0, presence mask), task one-hot."""
    parts = [state.astype(np.float32), np.eye(num_tasks, dtype=np.float32)[task]]
    if env_state is not None:
        present = ~np.isnan(env_state)
        parts += [np.where(present, env_state, 0.0).astype(np.float32), present.astype(np.float32)]
    return np.concatenate(parts, axis=1)


def chunks(reader: LeRobotDatasetReader, actions: np.ndarray, chunk: int) -> np.ndarray:
    """[n, chunk, A]: actions t..t+chunk-1 of each frame's episode, the last action repeated past the end."""
    out = np.empty((len(actions), chunk, actions.shape[1]), np.float32)
    for e in reader.episodes:
        lo, hi = reader.episode_range(int(e["episode_index"]))
        idx = np.minimum(np.arange(lo, hi)[:, None] + np.arange(chunk)[None], hi - 1)
        out[lo:hi] = actions[idx]
    return out


class MLPPolicy(nn.Module):
    def __init__(self, dim_in: int, chunk: int, action_dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.chunk, self.action_dim = chunk, action_dim
        self.net = nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, chunk * action_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1, self.chunk, self.action_dim)


def train(x: np.ndarray, y: np.ndarray, steps: int, seed: int, batch: int = 256, lr: float = 1e-3):
    """An MLP fitted with L1 on standardised inputs; returns (model, mean, std, final L1)."""
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt, yt = torch.from_numpy((x - mean) / std), torch.from_numpy(y)
    model = MLPPolicy(x.shape[1], y.shape[1], y.shape[2])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        i = torch.randint(0, len(xt), (batch,), generator=gen)
        loss = (model(xt[i]) - yt[i]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model.eval(), mean, std, float(np.mean(losses[-100:]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="tabletop training dataset (sf generate)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--steps", type=int, default=4000, help="training steps per policy")
    p.add_argument("--batch", type=int, default=256, help="samples per step")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW, cosine to 0)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="which of privileged,blind to run")
    p.add_argument("--chunk", type=int, default=8, help="actions per prediction, all executed (as the VLA)")
    p.add_argument("--tasks", default="0-3", help="tasks evaluated")
    p.add_argument("--init-states", default="25-34", help="fixed initial states evaluated per task")
    p.add_argument("--seeds", default="0,1,2", help="training seeds")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    try:
        reader = LeRobotDatasetReader(args.data)
        if ENV_STATE_KEY not in reader.columns:
            raise SFError(f"--data {args.data}: no {ENV_STATE_KEY!r} (a tabletop dataset from sf generate)")
    except SFError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    state, actions = reader.columns[STATE_KEY], reader.columns[ACTION_KEY]
    env_state = reader.columns[ENV_STATE_KEY]
    task = reader.columns["task_index"].astype(int)
    num_tasks, instructions = len(reader.tasks), list(reader.tasks)
    y = chunks(reader, actions, args.chunk)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suite_ids = parse_int_ranges(args.tasks, "--tasks")
    init_states = parse_int_ranges(args.init_states, "--init-states")
    cfg = EvalConfig(env="tabletop", tasks=suite_ids, init_states=init_states, image_size=64)
    variants = [v for v in args.variants.split(",") if v]
    if set(variants) - set(VARIANTS):
        print(f"error: --variants {args.variants!r}: expected a subset of {','.join(VARIANTS)}", file=sys.stderr)
        return 2
    results: dict = {"data": str(args.data), "frames": len(y), "steps": args.steps, "batch": args.batch,
                     "lr": args.lr, "chunk": args.chunk,
                     "tasks": suite_ids, "init_states": init_states, "runs": {}}
    for variant in variants:
        env = env_state if variant == "privileged" else None
        x = features(state, env, task, num_tasks)
        for seed in [int(s) for s in args.seeds.split(",")]:
            t0 = time.time()
            model, mean, std, l1 = train(x, y, args.steps, seed, args.batch, args.lr)

            def act(observations, instr, model=model, mean=mean, std=std, variant=variant):
                obs_state = np.stack([o[STATE_KEY] for o in observations])
                obs_env = np.stack([o[ENV_STATE_KEY] for o in observations]) if variant == "privileged" else None
                ids = np.asarray([instructions.index(s) for s in instr])
                f = (features(obs_state, obs_env, ids, num_tasks) - mean) / std
                with torch.no_grad():
                    return model(torch.from_numpy(f.astype(np.float32))).numpy()

            res = evaluate(act, cfg, out / f"{variant}_seed{seed}.json", label=f"{variant} s{seed}",
                           policy_key=f"privileged-bench:{variant}:{seed}:{args.steps}:{args.batch}:{args.lr}:{args.data}")
            results["runs"][f"{variant}/seed{seed}"] = {
                "success": res["success_rate"], "picked": res["subgoal_rates"].get("picked", float("nan")),
                "per_task": res["per_task"], "train_l1": l1, "wall_s": round(time.time() - t0, 1)}
            r = results["runs"][f"{variant}/seed{seed}"]
            print(f"{variant:10s} seed {seed}: success {r['success']:.3f} picked {r['picked']:.3f} "
                  f"train L1 {l1:.4f} ({r['wall_s']} s)", flush=True)
    summary = {}
    for variant in variants:
        runs = [r for k, r in results["runs"].items() if k.startswith(variant + "/")]
        summary[variant] = {"success": mean_std([r["success"] for r in runs]),
                            "picked": mean_std([r["picked"] for r in runs]),
                            "train_l1": mean_std([r["train_l1"] for r in runs])}
        print(f"{variant:10s}: success {summary[variant]['success']} picked {summary[variant]['picked']}")
    results["summary"] = summary
    write_json(out / "privileged.json", results)
    _plot(results, out / "privileged.png")
    return 0


def _plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    variants = sorted({k.split("/")[0] for k in results["runs"]}, key=VARIANTS.index)
    for i, variant in enumerate(variants):
        runs = [r for k, r in results["runs"].items() if k.startswith(variant + "/")]
        for j, key in enumerate(("success", "picked")):
            vals = [r[key] for r in runs]
            ax.bar(i * 3 + j, np.mean(vals), color=f"C{j}", label=key if i == 0 else None)
            ax.scatter([i * 3 + j] * len(vals), vals, color="k", s=8, zorder=3)
    ax.set_xticks([0.5 + 3 * i for i in range(len(variants))], variants)
    ax.set_ylim(0, 1)
    ax.set_ylabel("rate")
    ax.set_title(f"MLP policies, {results['steps']} steps, {results['frames']} frames")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
