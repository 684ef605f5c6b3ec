"""Measure SmallVLA training-step time and batch-1 inference latency for the presets.

    python -m spatial_forcing.vla.timing --presets tiny demo small --threads 1 --batch 32

Random inputs; AdamW; train time = median wall (step_s) and process CPU (step_cpu_s) time of `--steps` steps
after 2 warm-up steps; inference = median of `--infer` batch-1 `predict_action` calls in eval mode.
On a shared machine wall time is inflated by neighbours; CPU time much less so (at 1 thread).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from spatial_forcing.vla.config import preset
from spatial_forcing.vla.model import SmallVLA
from spatial_forcing.vla.tokenizer import WordTokenizer

_TASKS = ["pick up the black bowl and place it on the plate", "open the top drawer of the cabinet"]


def _batch(config, b: int) -> dict:
    s = config.image_size
    return {"images": torch.rand(b, config.views, 3, s, s), "state": torch.randn(b, config.proprio_dim),
            "actions": torch.rand(b, config.chunk, config.action_dim) * 2 - 1,
            "action_is_pad": torch.zeros(b, config.chunk, dtype=torch.bool),
            "instruction": [_TASKS[i % 2] for i in range(b)]}


def measure(name: str, head: str, batch: int, steps: int, infer: int) -> dict:
    """Timings of one preset/head at the current torch thread count."""
    config = preset(name, head=head)
    model = SmallVLA(config, WordTokenizer.build(_TASKS))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    data = _batch(config, batch)
    times, cpu = [], []
    for i in range(steps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model(data)["action_loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    model.eval()
    one = _batch(config, 1)
    lat = []
    for i in range(infer + 2):
        t0 = time.perf_counter()
        model.predict_action(one)
        if i >= 2:
            lat.append(time.perf_counter() - t0)
    return {"preset": name, "head": head, "threads": torch.get_num_threads(), "batch": batch,
            "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 3),
            "seq_len": SmallVLA.sequence_length(config), "step_s": round(statistics.median(times), 4),
            "step_cpu_s": round(statistics.median(cpu), 4),
            "infer_b1_ms": round(1000 * statistics.median(lat), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "demo", "small"])
    parser.add_argument("--heads", nargs="+", default=["l1"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--infer", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.presets:
        for head in args.heads:
            print(json.dumps(measure(name, head, args.batch, args.steps, args.infer)), flush=True)


if __name__ == "__main__":
    main()
