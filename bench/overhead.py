"""Training-step and inference cost of Spatial Forcing, measured interleaved in one run.

train_step_ratio: step time (fwd + bwd + AdamW) of the student with the SF branch and precomputed teacher
targets over the same student without it, alternating steps on the same batches.
inference_latency_ratio: batch-1 action prediction of an exported SF-trained student over the baseline's
(the exported policy carries no projector and no teacher, so this should be 1).

    python bench/overhead.py --out runs/bench/overhead.json [--preset small] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.data.normalize import Normalizer
from spatial_forcing.eval.policy import LoadedPolicy
from spatial_forcing.vla.export import export_policy
from spatial_forcing.train.model import TrainModule
from spatial_forcing.utils.atomic import save_figure
from spatial_forcing.vla.config import config_to_dict, preset
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

INSTRUCTIONS = ["pick up the block left of the cylinder and place it on the plate",
                "pick up the block right of the cylinder and place it on the plate"]


def make_batch(cfg, batch_size: int, teacher_dim: int, teacher_grid: int, gen: torch.Generator) -> dict:
    return {"images": torch.rand(batch_size, cfg.views, 3, cfg.image_size, cfg.image_size, generator=gen),
            "state": torch.randn(batch_size, 8, generator=gen),
            "actions": torch.rand(batch_size, cfg.chunk, cfg.action_dim, generator=gen) * 2 - 1,
            "action_is_pad": torch.zeros(batch_size, cfg.chunk, dtype=torch.bool),
            "instruction": [INSTRUCTIONS[i % 2] for i in range(batch_size)],
            "teacher_feats": torch.randn(batch_size, cfg.views, teacher_grid, teacher_grid, teacher_dim, generator=gen)}


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON output (a PNG is written beside it)")
    parser.add_argument("--preset", default="small", help="student preset: tiny | demo | small")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per variant")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--teacher-dim", type=int, default=512, help="channels of the (precomputed) targets")
    parser.add_argument("--teacher-grid", type=int, default=8, help="teacher feature grid side")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--inference-calls", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = preset(args.preset)
    tokenizer = WordTokenizer.build(INSTRUCTIONS)

    torch.manual_seed(0)
    base_policy = build_policy(cfg, tokenizer)
    torch.manual_seed(0)
    sf_policy = build_policy(cfg, tokenizer)
    layers = AlignConfig().resolve_layers(sf_policy.num_layers)
    sf = SpatialForcing(AlignConfig(), cfg.llm_dim, args.teacher_dim, layers)
    variants = {"baseline": TrainModule(base_policy, None), "sf": TrainModule(sf_policy, sf)}
    optims = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, m in variants.items()}
    gen = torch.Generator().manual_seed(0)
    batches = [make_batch(cfg, args.batch_size, args.teacher_dim, args.teacher_grid, gen) for _ in range(4)]

    def step(name: str, batch: dict) -> None:
        action_loss, align_loss, _ = variants[name](batch)
        loss = action_loss + 0.5 * align_loss
        optims[name].zero_grad(set_to_none=True)
        loss.backward()
        optims[name].step()

    times = {"baseline": [], "sf": []}
    for i in range(args.steps + 3):  # 3 warm-up rounds, then interleaved, alternating which goes first
        order = ("baseline", "sf") if i % 2 == 0 else ("sf", "baseline")
        for name in order:
            dt = timed(lambda: step(name, batches[i % len(batches)]))
            if i >= 3:
                times[name].append(dt)
    train_ratio = statistics.median(times["sf"]) / statistics.median(times["baseline"])

    # Inference: export both students exactly as training does, reload, time batch-1 predictions.
    normalizer = Normalizer({k: {"q01": [-1.0] * d, "q99": [1.0] * d} for k, d in
                             (("observation.state", 8), ("action", 7))})
    lat = {"baseline": [], "sf": []}
    with tempfile.TemporaryDirectory() as tmp:
        loaded = {}
        for name, module in variants.items():
            d = export_policy(Path(tmp) / name, module.policy, config_to_dict(cfg), tokenizer.to_json(),
                              normalizer.state_dict(), extra={"cameras": ["agentview", "wrist"]})
            loaded[name] = LoadedPolicy.load(d)
        sizes = {k: sum(p.numel() for p in v.model.parameters()) for k, v in loaded.items()}
        obs = {"observation.images.agentview": (torch.rand(cfg.image_size, cfg.image_size, 3) * 255).byte().numpy(),
               "observation.images.wrist": (torch.rand(cfg.image_size, cfg.image_size, 3) * 255).byte().numpy(),
               "observation.state": torch.zeros(8).numpy()}
        for i in range(args.inference_calls + 5):
            order = ("baseline", "sf") if i % 2 == 0 else ("sf", "baseline")
            for name in order:
                dt = timed(lambda: loaded[name].act([obs], [INSTRUCTIONS[0]]))
                if i >= 5:
                    lat[name].append(dt)
    inf_ratio = statistics.median(lat["sf"]) / statistics.median(lat["baseline"])

    result = {
        "train_step_ratio": round(train_ratio, 4),
        "inference_latency_ratio": round(inf_ratio, 4),
        "train_step_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
        "inference_ms": {k: round(1000 * statistics.median(v), 3) for k, v in lat.items()},
        "exported_params": sizes,
        "sf_branch_params": sum(p.numel() for p in sf.parameters()),
        "config": {"preset": args.preset, "batch_size": args.batch_size, "steps": args.steps,
                   "teacher_dim": args.teacher_dim, "teacher_grid": args.teacher_grid, "threads": args.threads,
                   "align_layers": layers, "inference_calls": args.inference_calls},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    _plot(out.with_suffix(".png"), times, lat)
    print(json.dumps(result, indent=2))


def _plot(path: Path, times: dict, lat: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].boxplot([times["baseline"], times["sf"]], tick_labels=["baseline", "SF"])
    axes[0].set(title="training step (s)")
    axes[1].boxplot([[1000 * t for t in lat["baseline"]], [1000 * t for t in lat["sf"]]],
                    tick_labels=["baseline", "SF-trained"])
    axes[1].set(title="batch-1 inference (ms)")
    save_figure(fig, path)


if __name__ == "__main__":
    main()
