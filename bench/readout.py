"""Does a student read the scene layout from its cameras? Two measures on held-out tabletop episodes.

    python bench/readout.py --data HELDOUT_DATASET --out DIR POLICY [POLICY ...]

POLICY is an exported policy directory (RUN/policy) or RUN:STEP (a checkpoint of a training run). HELDOUT_DATASET
is a tabletop dataset the policies were not trained on (another `sf generate --seed`), with the instructions
the policies know.

1. first-chunk readout: every tabletop episode starts from the same arm pose, so on an episode's first frame
   only the images tell one layout from another. The policy predicts its first action chunk there; we report
   R^2 of the chunk's mean xy motion against the expert's (over up to 200 episodes). A policy that ignores the
   images predicts one motion for every layout: R^2 <= 0.
2. token probe (`--probe`): ridge regression from the student's ViT tokens (all views, flattened) to the xy of
   the red blocks and the cylinder (`observation.environment_state`), on the first 10 frames of each episode,
   fit on 3/4 of the episodes and scored (R^2) on the rest; the same for the untrained student (step 0) as a
   reference, since even random patch embeddings carry some position.

With `--reference V`, policies given as `sf experiment` run paths (`.../<variant>/seed<k>/policy`) are also
summarised per variant: mean +- std over seeds and the paired 95% t-interval of the difference to variant V.

Writes DIR/readout.json and DIR/readout.png and prints one line per policy (and per variant).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import torch

from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.eval.policy_spec import load_policy
from spatial_forcing.experiment.stats import mean_std, t_interval
from spatial_forcing.probe.ridge import r2, ridge_r2
from spatial_forcing.sim.tabletop.semantics import env_state_columns
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

OBJECTS = ("red_block_a", "red_block_b", "cylinder")  # environment_state slots probed (xy of each)


def first_frames(r: LeRobotDatasetReader, n: int = 200) -> tuple[list[dict], list[str], np.ndarray]:
    """Observations, instructions and the expert's mean xy motion over the first 8 actions, of <= n episodes."""
    episodes = list(range(0, r.num_episodes, max(1, r.num_episodes // n)))[:n]
    obs, instr, motion = [], [], []
    for ep in episodes:
        lo, _ = r.episode_range(ep)
        frame = r.frame(lo)
        obs.append({k: np.asarray(v) for k, v in frame.items() if k.startswith("observation.")})
        instr.append(r.tasks[int(frame["task_index"])])
        motion.append(r.columns["action"][lo:lo + 8, :2].mean(0))
    return obs, instr, np.array(motion)


def first_chunk_r2(policy: LoadedPolicy, obs: list[dict], instr: list[str], motion: np.ndarray) -> float:
    pred = np.concatenate([policy.act(obs[i:i + 50], instr[i:i + 50])[:, :, :2].mean(1)
                           for i in range(0, len(obs), 50)])
    return r2(pred, motion)


def probe_frames(r: LeRobotDatasetReader, cameras: list[str]) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Images [N, V, 3, S, S], object xy [N, 2*len(OBJECTS)] and episode ids of the first 10 frames per
    episode."""
    env = r.columns["observation.environment_state"][:, env_state_columns(OBJECTS, "xy")]
    keep = np.flatnonzero(~np.isnan(env).any(1) & (r.columns["frame_index"].ravel() < 10))[::2]
    images = np.stack([r.images(f"observation.images.{c}") for c in cameras], 1)[keep]
    return (torch.from_numpy(images).permute(0, 1, 4, 2, 3).float() / 255, env[keep],
            r.columns["episode_index"].ravel()[keep].astype(int))


@torch.no_grad()
def token_probe_r2(policy: LoadedPolicy, images: torch.Tensor, target: np.ndarray, episodes: np.ndarray) -> float:
    feats = torch.cat([policy.model.vit(images[i:i + 256]).flatten(1) for i in range(0, len(images), 256)])
    return ridge_r2(feats.numpy(), target, episodes % 4 != 0)  # held out: every 4th episode


def paired(results: dict, reference: str) -> dict:
    """Per variant: mean/std over seeds of each measure and the paired t-interval of (variant - reference)."""
    by: dict[str, dict[int, dict]] = {}
    for spec, res in results.items():
        m = re.search(r"([^/]+)/seed(\d+)/policy/?$", spec)
        if m:
            by.setdefault(m.group(1), {})[int(m.group(2))] = res
    out = {}
    for variant, seeds in by.items():
        row = {}
        for key in ("first_chunk_r2", "token_probe_r2"):
            vals = [seeds[s][key] for s in sorted(seeds) if key in seeds[s]]
            if not vals:
                continue
            mean, std = mean_std(vals)
            row[key] = {"mean": mean, "std": std, "seeds": sorted(seeds)}
            common = [s for s in sorted(seeds) if s in by.get(reference, {}) and key in seeds[s]]
            if variant != reference and len(common) >= 2:
                row[key]["vs_reference"] = t_interval([seeds[s][key] - by[reference][s][key] for s in common])
        out[variant] = row
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(labels) + 2), 4))
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [results[k]["first_chunk_r2"] for k in labels], 0.4, label="first-chunk readout R^2")
    if all("token_probe_r2" in v for v in results.values()):
        ax.bar(x + 0.2, [results[k]["token_probe_r2"] for k in labels], 0.4, label="token probe R^2 (objects)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="held-out tabletop dataset")
    ap.add_argument("--out", required=True, help="output directory (readout.json, readout.png)")
    ap.add_argument("--probe", action="store_true", help="also fit the token probe (slower)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reference", default="", help="variant to pair against (experiment run paths)")
    ap.add_argument("policies", nargs="+", help="RUN/policy directories or RUN:STEP checkpoints")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    r = LeRobotDatasetReader(args.data)
    obs, instr, motion = first_frames(r)
    probe = None
    results = {}
    for spec in args.policies:
        policy = load_policy(spec)
        res = {"first_chunk_r2": first_chunk_r2(policy, obs, instr, motion), "episodes": len(obs)}
        if args.probe:
            probe = probe or probe_frames(r, policy.cameras)
            res["token_probe_r2"] = token_probe_r2(policy, *probe)
        results[spec] = res
        print(spec, " ".join(f"{k} {v:.3f}" for k, v in res.items() if isinstance(v, float)), flush=True)
    variants = paired(results, args.reference) if args.reference else {}
    for variant, row in variants.items():
        print(variant, " ".join(
            f"{k} {v['mean']:+.3f} +- {v['std'] or 0:.3f}" + (
                f" (vs {args.reference} {v['vs_reference']['mean']:+.3f} [{v['vs_reference']['ci'][0]:+.3f}, "
                f"{v['vs_reference']['ci'][1]:+.3f}])" if "vs_reference" in v else "") for k, v in row.items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "readout.json", {"data": args.data, "command": " ".join(sys.argv), "results": results,
                                      "variants": variants, "reference": args.reference})
    plot(results, out / "readout.png")
    return results


if __name__ == "__main__":
    try:
        main()
    except SFError as err:  # bad input: one line naming the file or option, no traceback
        sys.exit(f"readout: error: {err}")
