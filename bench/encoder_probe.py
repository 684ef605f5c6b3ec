"""Can a student's vision encoder learn where the objects are, when told directly? A supervised check.

    python bench/encoder_probe.py --data DATASET --out DIR [--vla '{"vit_stem": "conv"}'] [--steps 1500]

The student's ViT (the `--preset` + `--vla` shape, random init or its `vision_init`) and a 2-layer MLP on its
flattened tokens are trained end to end, by MSE, to regress the xy of the two red blocks and the cylinder
(`observation.environment_state`, standardised) from both camera views of single frames. Episodes with
index % 5 == 0 are held out; R^2 on (every third frame of) them is reported every 250 steps, with the training
loss. This separates "the encoder cannot localise a 4-pixel block" from "the policy does not use what it sees":
if the encoder learns positions here in a few hundred steps but the policy's first action ignores the layout
(bench/readout.py), the bottleneck is downstream of the encoder.

Writes DIR/encoder_probe.json and DIR/encoder_probe.png and prints each evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.sim.tabletop.semantics import env_state_columns
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

OBJECTS = ("red_block_a", "red_block_b", "cylinder")  # environment_state slots regressed (xy of each)


def frames(path: str, cameras: list[str]) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """uint8 images [N, V, 3, S, S], standardised object xy [N, 2*len(OBJECTS)], train and test row indices."""
    r = LeRobotDatasetReader(path)
    env = r.columns["observation.environment_state"][:, env_state_columns(OBJECTS, "xy")]
    ok = ~np.isnan(env).any(1)
    episode = r.columns["episode_index"].ravel().astype(int)
    train, test = np.flatnonzero(ok & (episode % 5 != 0)), np.flatnonzero(ok & (episode % 5 == 0))[::3]
    mu, sd = env[train].mean(0), env[train].std(0)
    images = np.stack([r.images(f"observation.images.{c}") for c in cameras], 1)
    return (torch.from_numpy(images).permute(0, 1, 4, 2, 3).contiguous(),
            torch.from_numpy((np.nan_to_num(env) - mu) / sd).float(), train, test)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--vla", default="{}", help="SmallVLAConfig overrides (JSON), e.g. the stem")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        vla = json.loads(args.vla)
    except json.JSONDecodeError as err:
        raise SFError(f"--vla: invalid JSON ({err})") from None
    config = preset(args.preset, **vla)
    vit = build_policy(config, WordTokenizer.build(["x"])).vit  # the student's encoder, built as in training
    images, target, train, test = frames(args.data, ["agentview", "wrist"][:config.views])
    tokens = config.views * config.grid[0] * config.grid[1]
    head = nn.Sequential(nn.Flatten(), nn.Linear(tokens * config.vit_dim, 256), nn.GELU(),
                         nn.Linear(256, target.shape[1]))
    opt = torch.optim.AdamW([*vit.parameters(), *head.parameters()], lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    curve, t0 = [], time.time()
    for step in range(1, args.steps + 1):
        idx = train[torch.randint(len(train), (args.batch,), generator=gen).numpy()]
        loss = ((head(vit(images[idx].float() / 255)) - target[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == args.steps:
            vit.eval()
            with torch.no_grad():
                pred = torch.cat([head(vit(images[test[i:i + 256]].float() / 255))
                                  for i in range(0, len(test), 256)])
            vit.train()
            y = target[test]
            r2 = (1 - ((pred - y) ** 2).mean(0) / y.var(0)).tolist()
            curve.append({"step": step, "train_loss": float(loss.detach()), "r2_blocks": float(np.mean(r2[:4])),
                          "r2_cylinder": float(np.mean(r2[4:])), "cpu_s": round(time.process_time(), 1),
                          "wall_s": round(time.time() - t0, 1)})
            print(json.dumps(curve[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "encoder_probe.json", {"command": " ".join(sys.argv), "vla": vla,
                                            "preset": args.preset, "curve": curve})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([c["step"] for c in curve], [c["r2_blocks"] for c in curve], "o-", label="blocks (held out)")
    ax.plot([c["step"] for c in curve], [c["r2_cylinder"] for c in curve], "s-", label="cylinder (held out)")
    ax.set_xlabel("step")
    ax.set_ylabel("R^2")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "encoder_probe.png", dpi=120)
    return curve


if __name__ == "__main__":
    try:
        main()
    except SFError as err:  # bad input: one line naming the file or option, no traceback
        sys.exit(f"encoder_probe: error: {err}")
