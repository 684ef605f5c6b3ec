"""Teacher cost on CPU: online teacher vs cached features, training step time, VGGT layer-keeping memory.

    python bench/teacher.py --out bench_out/teacher.json [--work bench_out/teacher_data --repeats 10]

In one run, interleaved (A, B, A, B, ...) so machine load hits both sides alike:
  1. per-frame cost of the mini3d teacher online (64 px, 2 views, batch 32) vs a read of the on-disk cache;
  2. time of one training step (demo VLA, batch 32, SF on) with cached targets vs the online mini3d teacher;
  3. peak memory of a VGGT forward keeping only the last layer vs all 24, one subprocess per variant, on a
     reduced-width 24-layer config (embed_dim 256, 4 heads, 24 DINOv2 + 24 frame/global blocks) at 224 px.
Writes the JSON and a PNG next to it, and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spatial_forcing.utils.atomic import save_figure, write_json
from spatial_forcing.utils.log import setup_logging

log = logging.getLogger("bench.teacher")

VGGT_CFG = dict(img_size=224, patch_size=14, embed_dim=256, depth=24, num_heads=4, patch_embed_depth=24,
                patch_embed_heads=4)

VGGT_CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
from spatial_forcing.teachers.vggt.config import AggregatorConfig
from spatial_forcing.teachers.vggt.teacher import build
cfg, size, views, keep = AggregatorConfig(**json.loads(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
teacher = build(config=cfg, image_size=size)
images = torch.rand(1, views, 3, size, size, generator=torch.Generator().manual_seed(0))
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
rss0 = status("VmRSS:")
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS counter (VmHWM) to the current RSS
    reset = True
except OSError:
    reset = False
t0 = time.perf_counter()
indices = [teacher.num_layers - 1] if keep == "last" else list(range(teacher.num_layers))
feats = teacher.forward_intermediates(images, indices)
seconds = time.perf_counter() - t0
peak = status("VmHWM:")
print(json.dumps({"rss_before": rss0, "peak": peak, "forward_peak": peak - rss0, "peak_reset": reset,
                  "seconds": seconds, "kept_bytes": sum(f.numel() * f.element_size() for f in feats),
                  "params": sum(p.numel() for p in teacher.parameters())}))
"""


def write_dataset(root: Path, episodes: int = 8, frames: int = 24, size: int = 64) -> Path:
    """A LeRobot v3 dataset with smooth coloured scenes and a moving block (2 views)."""
    from spatial_forcing.data import lerobot_format as fmt
    from spatial_forcing.data.writer import LeRobotWriter

    if (root / "meta" / "info.json").is_file():
        return root
    rng = np.random.default_rng(0)
    features = {"observation.images.agentview": fmt.image_feature(size, size),
                "observation.images.wrist": fmt.image_feature(size, size),
                "observation.state": fmt.vector_feature(8), "action": fmt.vector_feature(7)}
    with LeRobotWriter(root, fps=20, features=features) as writer:
        for ep in range(episodes):
            field = F.interpolate(torch.from_numpy(rng.random((1, 3, 6, 6), dtype=np.float32)), size=(size, size),
                                  mode="bicubic", align_corners=False).clamp(0, 1)[0].permute(1, 2, 0).numpy()
            for t in range(frames):
                img = (field * 255).astype(np.uint8)
                x = 4 + (t * 2) % (size - 16)
                img[20:32, x:x + 12] = (255, 60 * (ep % 4), 0)
                action = rng.uniform(-1, 1, 7).astype(np.float32)
                writer.add_frame({"observation.images.agentview": img, "observation.images.wrist": img[::-1].copy(),
                                  "observation.state": rng.normal(size=8).astype(np.float32), "action": action})
            writer.save_episode(f"move the block {ep % 2}")
        writer.finalize()
    return root


def mini_teacher():
    """mini3d with the shipped weights when present, else seeded random weights (same cost either way)."""
    from spatial_forcing.teachers.mini import shipped_weights
    from spatial_forcing.teachers.registry import build_teacher

    if shipped_weights("mini3d").is_file():
        return build_teacher("mini3d"), "shipped"
    torch.manual_seed(0)
    return build_teacher("mini3d", weights="random"), "random (no shipped weights in assets/)"


def median_ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


def bench_features(data, teacher, cache, repeats: int, batch: int) -> dict:
    """Per-frame seconds: teacher forward on uint8 frames vs a cache read, interleaved."""
    from spatial_forcing.teachers.cache_build import teacher_features

    gen = torch.Generator().manual_seed(0)
    online, cached = [], []
    for r in range(repeats + 1):
        pos = torch.randint(len(data), (batch,), generator=gen)
        t0 = time.perf_counter()
        teacher_features(teacher, data.images[pos], -1, batch_size=batch)
        t1 = time.perf_counter()
        cache[data.index[pos]].float()
        t2 = time.perf_counter()
        if r:  # the first round is warm-up
            online.append((t1 - t0) / batch)
            cached.append((t2 - t1) / batch)
    return {"online_ms_per_frame": median_ms(online), "cached_ms_per_frame": median_ms(cached),
            "speedup": statistics.median(online) / statistics.median(cached), "batch": batch}


def bench_train_steps(data, teacher, repeats: int, batch: int) -> dict:
    """Seconds per training step (demo VLA + SF) with cached vs online targets, interleaved."""
    from torch.utils.data import default_collate

    from spatial_forcing.core.config import AlignConfig
    from spatial_forcing.core.spatial_forcing import SpatialForcing
    from spatial_forcing.train.model import TrainModule
    from spatial_forcing.train.targets import TargetProvider
    from spatial_forcing.vla.config import preset
    from spatial_forcing.vla.registry import build_policy
    from spatial_forcing.vla.tokenizer import WordTokenizer

    torch.manual_seed(0)
    policy = build_policy(preset("demo"), WordTokenizer.build(data.instructions))
    align = AlignConfig(enabled=True, teacher="mini3d")
    model = TrainModule(policy, SpatialForcing(align, policy.config.llm_dim, teacher.dim,
                                               align.resolve_layers(policy.num_layers))).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    providers = {"cache": TargetProvider.for_dataset(teacher, -1, "cache", data),
                 "online": TargetProvider.for_dataset(teacher, -1, "online", data)}
    times: dict[str, list[float]] = {k: [] for k in providers}
    gen = torch.Generator().manual_seed(1)
    for r in range(repeats + 1):
        for name, targets in providers.items():
            pos = torch.randperm(len(data), generator=gen)[:batch]
            t0 = time.perf_counter()
            b = default_collate([data[int(i)] for i in pos])
            b["teacher_feats"] = targets(pos, b["images"])
            action_loss, align_loss, _ = model(b)
            opt.zero_grad(set_to_none=True)
            (action_loss + 0.5 * align_loss).backward()
            opt.step()
            if r:
                times[name].append(time.perf_counter() - t0)
    return {"cache_ms_per_step": median_ms(times["cache"]), "online_ms_per_step": median_ms(times["online"]),
            "online_over_cache": statistics.median(times["online"]) / statistics.median(times["cache"]),
            "batch": batch, "vla_preset": "demo"}


def bench_vggt_memory(size: int, views: int) -> dict:
    """Peak RSS of one VGGT forward keeping the last layer vs all layers, one fresh process each."""
    out = {}
    for keep in ("last", "all", "last", "all"):  # interleaved, two runs each; keep the smaller peak
        proc = subprocess.run([sys.executable, "-c", VGGT_CHILD, json.dumps(VGGT_CFG), str(size), str(views), keep],
                              capture_output=True, text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        if keep not in out or res["forward_peak"] < out[keep]["forward_peak"]:
            out[keep] = res
    mib = 2.0 ** 20
    return {"config": VGGT_CFG, "image_size": size, "views": views, "batch": 1,
            "params_M": out["last"]["params"] / 1e6,
            **{f"{k}_forward_peak_MiB": out[k]["forward_peak"] / mib for k in out},
            **{f"{k}_total_peak_MiB": out[k]["peak"] / mib for k in out},
            **{f"{k}_kept_MiB": out[k]["kept_bytes"] / mib for k in out},
            **{f"{k}_seconds": out[k]["seconds"] for k in out},
            "all_over_last_forward_peak": out["all"]["forward_peak"] / max(1, out["last"]["forward_peak"]),
            # Layer outputs kept by the real VGGT-1B (2C = 2048 channels, 37 x 37 + 5 tokens at 518 px): formula.
            "vggt1b_518px_kept_MiB": {k: n * views * (37 * 37 + 5) * 2048 * 4 / mib for k, n in (("last", 1), ("all", 24))},
            "peak_reset": out["last"]["peak_reset"]}


def plot(path: Path, res: dict) -> None:
    """Three bar panels: per-frame cost, step time, VGGT forward peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    panels = [
        ("mini3d per frame (ms, log)", ["online", "cached"],
         [res["features"]["online_ms_per_frame"], res["features"]["cached_ms_per_frame"]], True),
        ("train step, demo VLA (ms)", ["cached", "online"],
         [res["train_step"]["cache_ms_per_step"], res["train_step"]["online_ms_per_step"]], False),
        ("VGGT forward peak (MiB)", ["last layer", "all 24"],
         [res["vggt_memory"]["last_forward_peak_MiB"], res["vggt_memory"]["all_forward_peak_MiB"]], False),
    ]
    for ax, (title, labels, values, log_scale) in zip(axes, panels):
        ax.bar(labels, values, color=["tab:blue", "tab:orange"])
        ax.set_title(title, fontsize=10)
        if log_scale:
            ax.set_yscale("log")
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON output (a .png plot is written next to it)")
    p.add_argument("--work", default=None, help="dataset directory (default: OUT's dir/teacher_data)")
    p.add_argument("--repeats", type=int, default=10, help="timed rounds per measurement (after 1 warm-up)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--vggt-size", type=int, default=224, help="VGGT input side (multiple of 14)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    setup_logging(False)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    work = Path(args.work) if args.work else out.parent / "teacher_data"
    from spatial_forcing.data.chunk_dataset import ChunkDataset
    from spatial_forcing.teachers.cache import FeatureCache
    from spatial_forcing.teachers.cache_build import build_cache

    data = ChunkDataset(write_dataset(work / "ds"), image_size=64)
    teacher, weights = mini_teacher()
    t0 = time.perf_counter()
    cache = FeatureCache(build_cache(data.reader, teacher, -1, data.cameras, 64, progress=False))
    build_s = time.perf_counter() - t0  # 0 when the cache already existed
    res = {"dataset_frames": len(data), "teacher": "mini3d", "teacher_weights": weights, "image_size": 64,
           "views": 2, "threads": args.threads, "cache_build_seconds": build_s,
           "features": bench_features(data, teacher, cache, args.repeats, args.batch),
           "train_step": bench_train_steps(data, teacher, args.repeats, args.batch),
           "vggt_memory": bench_vggt_memory(args.vggt_size, 2)}
    write_json(out, res)
    plot(out.with_suffix(".png"), res)
    f, s, m = res["features"], res["train_step"], res["vggt_memory"]
    print(f"mini3d {weights}, 64 px, 2 views, {len(data)} frames, {args.threads} thread(s)")
    print(f"per frame: online {f['online_ms_per_frame']:.2f} ms, cached read {f['cached_ms_per_frame']:.4f} ms "
          f"({f['speedup']:.0f}x)")
    print(f"train step (demo VLA, batch {s['batch']}): cached {s['cache_ms_per_step']:.0f} ms, online "
          f"{s['online_ms_per_step']:.0f} ms (online/cached {s['online_over_cache']:.2f})")
    print(f"VGGT 24-layer, dim 256, {m['image_size']} px, 2 views: forward peak last-only "
          f"{m['last_forward_peak_MiB']:.0f} MiB vs all-24 {m['all_forward_peak_MiB']:.0f} MiB "
          f"(ratio {m['all_over_last_forward_peak']:.2f}); total peak {m['last_total_peak_MiB']:.0f} vs "
          f"{m['all_total_peak_MiB']:.0f} MiB; kept outputs {m['last_kept_MiB']:.1f} vs {m['all_kept_MiB']:.1f} MiB")
    print(f"-> {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
