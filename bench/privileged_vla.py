"""Does the VLA student act on the layout when the layout is handed to it? Perception removed as a bottleneck.

    python bench/privileged_vla.py --data DATASET --out DIR --variant privileged|plain [--steps 800] [--seeds 0,1,2]

The student is `sf train`'s (same preset, optimiser, schedule, batch order, loss); the only difference between
the two variants is its proprio input:

- plain: the normalised robot state, as `sf train` (this bench's own baseline: it must reproduce sf train's
  figures, so that a difference is the input's, not the loop's);
- privileged: the state plus the object positions the simulator reports (`observation.environment_state`,
  the columns present in every frame, standardised), i.e. the layout as one proprio token.

If `privileged` succeeds where `plain` does not, the decoder, action head, chunking and evaluation can act on
the layout once it is in the sequence, and the student's failure is in reading it from the cameras. Writes
DIR/<variant>_seed<k>.json (closed-loop evaluation) and DIR/privileged_vla_<variant>.json (its runs so far;
finished seeds are skipped when the command is run again).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.eval.config import EvalConfig
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.eval.rollout import evaluate
from spatial_forcing.sim.tabletop.env import ENV_STATE_KEY
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import batch_positions, lr_factor
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.int_ranges import parse_int_ranges
from spatial_forcing.utils.json_file import read_json
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

log = logging.getLogger("privileged_vla")


class Layout:
    """The object columns of environment_state present in every frame, standardised with dataset statistics."""

    def __init__(self, env_state: np.ndarray) -> None:
        self.cols = np.flatnonzero(~np.isnan(env_state).any(0))
        x = env_state[:, self.cols]
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6

    def __call__(self, env_state: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((env_state[:, self.cols] - self.mean) / self.std).astype(np.float32))


def train_one(ds: ChunkDataset, layout: Layout | None, env_state: np.ndarray, cfg: TrainConfig):
    """`sf train`'s optimisation of a demo student whose proprio is state (+ layout); returns (model, L1)."""
    torch.manual_seed(cfg.seed)
    extra = 0 if layout is None else len(layout.cols)
    model = build_policy(preset(cfg.vla_preset, proprio_dim=8 + extra), WordTokenizer.build(ds.instructions))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    model.train()
    losses = []
    for step in range(cfg.steps):
        positions = batch_positions(step, len(ds), cfg.batch_size, cfg.seed)
        batch = default_collate([ds[int(i)] for i in positions])
        if layout is not None:
            batch["state"] = torch.cat([batch["state"], layout(env_state[batch["index"].numpy()])], dim=1)
        loss = model(batch)["action_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 100 == 0:
            log.info("step %d L1 %.4f", step, float(np.mean(losses[-100:])))
    return model.eval(), float(np.mean(losses[-50:]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="tabletop training dataset (sf generate)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--variant", choices=("plain", "privileged"), required=True)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--tasks", default="0-3")
    p.add_argument("--init-states", default="25-34", help="fixed initial states evaluated per task")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    try:
        ds = ChunkDataset(args.data, chunk=8, image_size=64)
        if ENV_STATE_KEY not in ds.reader.columns:
            raise SFError(f"--data {args.data}: no {ENV_STATE_KEY!r} (a tabletop dataset from sf generate)")
    except SFError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    env_state = ds.reader.columns[ENV_STATE_KEY]
    layout = Layout(env_state) if args.variant == "privileged" else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ecfg = EvalConfig(env="tabletop", tasks=parse_int_ranges(args.tasks, "--tasks"),
                      init_states=parse_int_ranges(args.init_states, "--init-states"), image_size=64)
    summary_path = out / f"privileged_vla_{args.variant}.json"
    summary = read_json(summary_path) if summary_path.exists() else {"data": args.data, "runs": {}}
    for seed in [int(s) for s in args.seeds.split(",")]:
        name = f"{args.variant}/seed{seed}"
        if name in summary["runs"]:
            continue
        t0 = time.time()
        cfg = TrainConfig(dataset=args.data, steps=args.steps, batch_size=32, lr=5e-4, seed=seed)
        model, l1 = train_one(ds, layout, env_state, cfg)
        policy = LoadedPolicy(model, ds.normalizer, ["agentview", "wrist"])

        def act(observations, instructions, policy=policy):
            batch = policy.batch_from_obs(observations, instructions)
            if layout is not None:
                env = np.stack([o[ENV_STATE_KEY] for o in observations])
                batch["state"] = torch.cat([batch["state"], layout(env)], dim=1)
            with torch.no_grad():
                pred = policy.model.predict_action(batch)
            return policy.normalizer.unnormalize("action", pred).numpy()

        res = evaluate(act, ecfg, out / f"{args.variant}_seed{seed}.json", label=name,
                       policy_key=f"privileged-vla:{name}:{args.steps}:{args.data}")
        summary["runs"][name] = {"success": res["success_rate"],
                                 "picked": res["subgoal_rates"].get("picked", float("nan")),
                                 "per_task": res["per_task"], "train_l1": l1, "steps": args.steps,
                                 "wall_s": round(time.time() - t0, 1)}
        write_json(summary_path, summary)
        print(f"{name}: success {res['success_rate']:.3f} picked {summary['runs'][name]['picked']:.3f} "
              f"train L1 {l1:.4f} ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
