"""Student training throughput against the fp32 matmul peak of the same cores, and where the time goes.

    python bench/throughput.py --out bench_out/throughput [--preset demo] [--vla '{"patch_size": 8}']
                               [--threads 1] [--batch 32] [--steps 5] [--compile]

In one process, on random frames written as a small LeRobot dataset with the tabletop instructions:
  1. peak: fp32 GEMM GFLOP/s for square sizes and for the GEMM shapes the student runs;
  2. the student: FLOPs of one training step (matmul, conv and attention FLOPs of forward + backward, from
     FlopCounterMode), median time of `--steps` steps after 2 warm-up steps of the loop of train/loop.py
     (per-sample dicts + default_collate, AdamW, grad clip, LR schedule), GFLOP/s and fraction of peak;
  3. where the time goes: each part of the model timed forward + backward in isolation on the inputs it got
     in the step (with its FLOPs), the rest of forward + backward (embedding, concat, residual adds, RoPE
     tables, loss, autograd) as "glue", clip / optimizer / collation from the step itself; and one profiled
     step: top operators by self CPU time, time in GEMMs vs attention kernels vs everything else;
  4. speed-ups, A/B in this process: collation by tensor indexing, pre-tokenised text, AdamW foreach / fused
     (checked for bit-identical results), torch.compile (--compile); and what-ifs that change the model
     (flagged): one action slot per chunk step instead of action_dim per step, no text padding.
Rates use process CPU time (at one thread this discounts a neighbour time-slicing the core; wall times are
in the JSON). The figures come from one run on a shared machine: read them as ratios.
Writes DIR/throughput.json and DIR/throughput.png and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from spatial_forcing.data.chunk_dataset import ChunkDataset
from spatial_forcing.sim.tabletop.tasks import TASKS
from spatial_forcing.train.config import TrainConfig
from spatial_forcing.train.loop import batch_positions, lr_factor
from spatial_forcing.train.model import TrainModule
from spatial_forcing.utils.atomic import save_figure, write_json
from spatial_forcing.vla.config import preset
from spatial_forcing.vla.model import SmallVLA
from spatial_forcing.vla.registry import build_policy
from spatial_forcing.vla.tokenizer import WordTokenizer

median = statistics.median


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(t0: tuple[float, float]) -> tuple[float, float]:
    """(wall, cpu) seconds since `t0 = clock()`."""
    t1 = clock()
    return t1[0] - t0[0], t1[1] - t0[1]


def cpu_seconds(fn) -> float:
    t0 = time.process_time()
    fn()
    return max(time.process_time() - t0, 1e-9)


# 1. Peak --------------------------------------------------------------------------------------------------
def gemm_gflops(m: int, k: int, n: int, transposed_a: bool = False, min_cpu: float = 0.15) -> float:
    """Best GFLOP/s of [m, k] x [k, n] over >= min_cpu s; transposed_a: A is a transposed view (as in dW)."""
    a = torch.randn(k, m).t() if transposed_a else torch.randn(m, k)
    b = torch.randn(k, n)
    torch.mm(a, b)
    times = [cpu_seconds(lambda: torch.mm(a, b))]
    while sum(times) < min_cpu:
        times.append(cpu_seconds(lambda: torch.mm(a, b)))
    return 2 * m * k * n / min(times) / 1e9


def student_shapes(cfg, batch: int) -> list[tuple[str, int, int, int, bool]]:
    """(label, m, k, n, A transposed) of the student's main GEMMs (forward Linear shapes unless marked)."""
    bt, d, f, v = batch * SmallVLA.sequence_length(cfg), cfg.llm_dim, cfg.mlp_dim, cfg.vit_dim
    patches, vf = batch * cfg.views * cfg.grid[0] * cfg.grid[1], int(cfg.vit_dim * cfg.vit_mlp_ratio)
    rows, din, hidden = batch * cfg.chunk, cfg.action_dim * d, cfg.head_hidden or d
    return [(f"decoder q/k/v/o [{bt},{d}]x[{d},{d}]", bt, d, d, False),
            (f"decoder MLP up [{bt},{d}]x[{d},{f}]", bt, d, f, False),
            (f"decoder MLP down [{bt},{f}]x[{f},{d}]", bt, f, d, False),
            (f"decoder MLP dW [{f},{bt}]x[{bt},{d}]", f, bt, d, True),
            (f"ViT qkv [{patches},{v}]x[{v},{3 * v}]", patches, v, 3 * v, False),
            (f"ViT MLP [{patches},{v}]x[{v},{vf}]", patches, v, vf, False),
            (f"action head in [{rows},{din}]x[{din},{hidden}]", rows, din, hidden, False)]


def attention_gflops(cfg, batch: int, reps: int = 5) -> float:
    """GFLOP/s of the decoder's attention scores as one bmm: [T, hd] x [hd, T] per sample and head."""
    t, hd = SmallVLA.sequence_length(cfg), cfg.llm_dim // cfg.llm_heads
    q, k = torch.randn(batch * cfg.llm_heads, t, hd), torch.randn(batch * cfg.llm_heads, hd, t)
    torch.bmm(q, k)
    best = min(cpu_seconds(lambda: torch.bmm(q, k)) for _ in range(reps))
    return 2 * batch * cfg.llm_heads * t * t * hd / best / 1e9


# 2. The student and the training step of train/loop.py ----------------------------------------------------
def write_dataset(root: Path, size: int, frames: int) -> Path:
    """One episode of random frames per tabletop task (so the instructions and their lengths are real)."""
    from spatial_forcing.data import lerobot_format as fmt
    from spatial_forcing.data.writer import LeRobotWriter

    rng = np.random.default_rng(0)
    cams = ("observation.images.agentview", "observation.images.wrist")
    features = {**{c: fmt.image_feature(size, size) for c in cams},
                "observation.state": fmt.vector_feature(8), "action": fmt.vector_feature(7)}
    with LeRobotWriter(root, fps=20, features=features) as writer:
        for task in TASKS:
            for _ in range(frames):
                writer.add_frame({**{c: rng.integers(0, 256, (size, size, 3), np.uint8) for c in cams},
                                  "observation.state": rng.normal(size=8).astype(np.float32),
                                  "action": rng.uniform(-1, 1, 7).astype(np.float32)})
            writer.save_episode(task.spec.instruction)
        writer.finalize()
    return root


class Student:
    """Model, optimizer and LR schedule as train/loop.py builds them (baseline: no SF branch)."""

    def __init__(self, cfg, data: ChunkDataset, batch: int, pretokenize: bool = False) -> None:
        self.cfg, self.data, self.batch, self.train_cfg = cfg, data, batch, TrainConfig()
        torch.manual_seed(0)
        self.policy = build_policy(cfg, WordTokenizer.build(data.instructions))
        self.model = self.forward = TrainModule(self.policy, None).train()
        tc = self.train_cfg
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, tc))
        # each task's ids and mask, for batches that carry them instead of instruction strings
        tok = self.policy.tokenizer
        self.text = tok.encode(data.instructions, cfg.max_text_tokens) if pretokenize else None
        self.losses: list[float] = []

    def collate(self, step: int) -> dict:
        positions = batch_positions(step, len(self.data), self.batch, self.train_cfg.seed)
        batch = default_collate([self.data[int(i)] for i in positions])
        if self.text is not None:
            batch["input_ids"], batch["text_mask"] = (t[batch["task_index"]] for t in self.text)
        return batch

    def step(self, step: int) -> dict[str, tuple[float, float]]:
        """One step of the training loop; (wall, cpu) seconds of each phase."""
        times, t = {}, clock()
        batch = self.collate(step)
        times["collate"], t = since(t), clock()
        action_loss, align_loss, _ = self.forward(batch)
        loss = action_loss + self.train_cfg.align.alpha * align_loss
        times["forward"], t = since(t), clock()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        times["backward"], t = since(t), clock()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train_cfg.grad_clip)
        times["clip"], t = since(t), clock()
        self.optimizer.step()
        self.scheduler.step()
        times["optimizer"] = since(t)
        self.losses.append(loss.item())
        return times


def flop_counter() -> FlopCounterMode:
    """FlopCounterMode that also counts the CPU flash-attention kernels of SDPA (torch leaves them out)."""
    aten = torch.ops.aten
    return FlopCounterMode(display=False, custom_mapping={
        aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, **kw: sdpa_flop_count(q, k, v),
        aten._scaled_dot_product_flash_attention_for_cpu_backward:
            lambda g, q, k, v, *a, **kw: sdpa_backward_flop_count(g, q, k, v)})


def step_flops(student: Student) -> dict[str, int]:
    """FLOPs of one forward + backward, by operator."""
    with flop_counter() as counter:
        student.model(student.collate(0))[0].backward()
    student.optimizer.zero_grad(set_to_none=True)
    return {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}


# 3. Where the time goes -----------------------------------------------------------------------------------
GLUE = "glue: rest of fwd+bwd (whole - parts, +-5%)"


def parts(cfg) -> list[tuple[str, list[str], int]]:
    """(label, modules whose forward + backward is timed, how many times they run per step)."""
    depth, layers = cfg.vit_depth, cfg.llm_layers
    return [("ViT patch conv", ["vit.patch"], 1),
            ("ViT attention", ["vit.blocks.0.attn"], depth),
            ("ViT MLP", ["vit.blocks.0.mlp"], depth),
            ("ViT LayerNorms", ["vit.blocks.0.norm1"], 2 * depth + 1),
            ("projector + proprio MLP", ["projector", "proprio"], 1),
            ("decoder attention (q/k/v/o, RoPE, SDPA)", ["llm.layers.0.self_attn"], layers),
            ("decoder MLP (SwiGLU)", ["llm.layers.0.mlp"], layers),
            ("decoder RMSNorms", ["llm.layers.0.input_layernorm"], 2 * layers + 1),
            ("action head (L1 MLPResNet)", ["head.mlp"], 1)]


def capture_inputs(policy, batch: dict, paths: list[str]) -> dict[str, tuple]:
    """(args, kwargs) each module in `paths` got in one forward (autograd on: requires_grad tells which
    inputs the real backward differentiates)."""
    seen = {}
    handles = [policy.get_submodule(p).register_forward_pre_hook(
        lambda m, a, kw, p=p: seen.setdefault(p, (a, kw)), with_kwargs=True) for p in paths]
    policy(batch)
    for h in handles:
        h.remove()
    return seen


def _leaf(x):
    if isinstance(x, tuple):
        return tuple(_leaf(y) for y in x)
    return x.detach().requires_grad_(x.requires_grad) if isinstance(x, torch.Tensor) else x


def _call(module, args, kwargs) -> torch.Tensor:
    out = module(*_leaf(tuple(args)), **{k: _leaf(v) for k, v in kwargs.items()})
    return out[0] if isinstance(out, tuple) else out


def timer(module, args, kwargs):
    """A function running one forward + backward of `module` on the inputs -> (forward, backward) CPU s."""
    def run() -> tuple[float, float]:
        t0 = time.process_time()
        out = _call(module, args, kwargs)
        t1 = time.process_time()
        out.backward(torch.ones_like(out))
        module.zero_grad(set_to_none=True)
        return t1 - t0, time.process_time() - t1
    return run


def flops_of(module, args, kwargs) -> int:
    with flop_counter() as counter:
        _call(module, args, kwargs).sum().backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def breakdown(student: Student, reps: int) -> tuple[list[dict], dict]:
    """Per part: CPU seconds and FLOPs per step, with the rest of forward + backward as "glue" (the whole
    model timed in the same rounds, minus the parts); and the decoder with one action slot per chunk step
    instead of action_dim (the same layer on the first T - slots + chunk tokens: a what-if, not the model)."""
    policy, cfg, table, batch = student.policy, student.cfg, parts(student.cfg), student.collate(0)
    seen = capture_inputs(policy, batch, [p for _, ps, _ in table for p in ps] + ["llm.layers.0"])
    args, kwargs = seen["llm.layers.0"]
    short = (args[0] if args else kwargs["hidden_states"]).shape[1] - cfg.num_action_slots + cfg.chunk

    def cut(x):  # the first `short` tokens of hidden [B, T, D], RoPE tables [1, T, hd], mask [B, 1, T, T]
        if isinstance(x, tuple):
            return tuple(cut(y) for y in x)
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return x
        return x[:, :, :short, :short] if x.dim() == 4 else x[:, :short]

    layer = policy.get_submodule("llm.layers.0")
    runs = {p: timer(policy.get_submodule(p), *seen[p]) for _, ps, _ in table for p in ps}
    runs["layer"] = timer(layer, args, kwargs)
    runs["layer, one slot per step"] = timer(layer, cut(tuple(args)), {k: cut(v) for k, v in kwargs.items()})

    def whole() -> tuple[float, float]:
        t = cpu_seconds(lambda: student.model(batch)[0].backward())
        student.model.zero_grad(set_to_none=True)
        return t, 0.0

    runs["whole"] = whole
    times = {p: [] for p in runs}
    for r in range(reps + 1):  # rounds, so that a change of the machine's load hits every part alike
        for p, run in runs.items():
            fwd_bwd = run()
            if r:  # the first round warms up
                times[p].append(fwd_bwd)
    fwd, bwd = ({p: median(x[i] for x in t) for p, t in times.items()} for i in (0, 1))
    rows = []
    for label, paths, count in table:
        f, b = count * sum(fwd[p] for p in paths), count * sum(bwd[p] for p in paths)
        flops = count * sum(flops_of(policy.get_submodule(p), *seen[p]) for p in paths)
        rows.append({"part": label, "modules": paths, "count": count, "forward_s": f, "backward_s": b,
                     "seconds": f + b, "flops": flops})
    rows.append({"part": GLUE, "count": 1, "flops": None,
                 "seconds": fwd["whole"] - sum(r["seconds"] for r in rows)})
    n = cfg.llm_layers
    whatif = {"tokens": SmallVLA.sequence_length(cfg), "tokens_with_one_slot_per_step": short,
              "decoder_layers_s": n * (fwd["layer"] + bwd["layer"]),
              "decoder_layers_one_slot_per_step_s": n * (fwd["layer, one slot per step"]
                                                         + bwd["layer, one slot per step"]),
              "decoder_flops": n * flops_of(layer, args, kwargs),
              "decoder_flops_one_slot_per_step": n * flops_of(layer, cut(tuple(args)),
                                                              {k: cut(v) for k, v in kwargs.items()})}
    return rows, whatif


OP_CLASSES = {"GEMM (mm, addmm, bmm, conv)": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm",
                                              "aten::mkldnn_convolution", "aten::convolution_backward"),
              "attention kernels (SDPA flash, CPU)": ("aten::_scaled_dot_product",)}
OTHER = "everything else (elementwise, norms, copies, optimizer)"


def profile_step(student: Student, step: int, flops: dict[str, int], rows: int = 15) -> dict:
    """One training step under torch.profiler: top operators by self CPU time, and the shares (and FLOP rates)
    of GEMMs, attention kernels and everything else. The profiler's overhead inflates the many small ops."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        student.step(step)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    top = [{"op": e.key, "self_cpu_ms": e.self_cpu_time_total / 1e3, "share": e.self_cpu_time_total / total,
            "calls": e.count} for e in ranked]
    attn = sum(n for op, n in flops.items() if "scaled_dot_product" in op)
    classes = {}
    for (name, prefixes), f in zip(OP_CLASSES.items(), (sum(flops.values()) - attn, attn)):
        us = sum(e.self_cpu_time_total for e in events if e.key.startswith(prefixes))
        classes[name] = {"share": us / total, "flops": f, "gflops": f / us / 1e3 if us else None}
    classes[OTHER] = {"share": 1 - sum(c["share"] for c in classes.values()), "flops": 0, "gflops": None}
    return {"top_ops": top, "op_classes": classes, "profiled_cpu_ms": total / 1e3}


def token_budget(cfg, data: ChunkDataset, tokenizer: WordTokenizer) -> dict:
    """Decoder tokens by kind; text tokens as words vs padding, over the dataset's instructions."""
    words = [min(len(tokenizer.tokenize(s)), cfg.max_text_tokens) for s in data.instructions]
    pad, total = cfg.max_text_tokens - statistics.mean(words), SmallVLA.sequence_length(cfg)
    return {"total": total, "bos": int(cfg.use_bos), "visual": cfg.views * cfg.grid[0] * cfg.grid[1],
            "proprio": 1, "text": cfg.max_text_tokens, "text_words_min": min(words),
            "text_words_max": max(words), "text_padding_mean": pad, "action_slots": cfg.num_action_slots,
            "action_slot_share": cfg.num_action_slots / total, "text_padding_share": pad / total}


# 4. Speed-ups ---------------------------------------------------------------------------------------------
def index_collate(data: ChunkDataset, positions: torch.Tensor) -> dict:
    """What default_collate makes of data[i] for i in positions, built by indexing the dataset's tensors."""
    steps = positions[:, None] + torch.arange(data.chunk)
    end = data._ep_end[positions][:, None]
    task = data.task_index[positions]
    return {"images": data.images[positions].float().div_(255.0), "state": data.state[positions],
            "actions": data.actions[torch.minimum(steps, end - 1)], "action_is_pad": steps >= end,
            "task_index": task, "instruction": [data.reader.tasks[int(t)] for t in task],
            "episode_index": data.episode_index[positions], "frame_index": data.frame_index[positions],
            "index": data.index[positions]}


def same_batch(a: dict, b: dict) -> bool:
    def same(x, y):
        return torch.equal(x, y) and x.dtype == y.dtype if isinstance(x, torch.Tensor) else x == y
    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


def ab_collate(student: Student, reps: int) -> dict:
    data, ref, new, identical = student.data, [], [], True
    for r in range(reps + 1):
        pos = batch_positions(r, len(data), student.batch, student.train_cfg.seed)
        t0 = time.process_time()
        a = default_collate([data[int(i)] for i in pos])
        t1 = time.process_time()
        b = index_collate(data, pos)
        t2 = time.process_time()
        identical &= same_batch(a, b)
        if r:
            ref.append(t1 - t0)
            new.append(t2 - t1)
    return {"name": "collate by tensor indexing", "baseline_s": median(ref), "new_s": median(new),
            "identical": identical, "changes_maths": False}


def ab_tokenize(student: Student, reps: int) -> dict:
    """Tokenising the instructions in every forward vs looking up per-task ids ('input_ids'/'text_mask')."""
    batch, tok, n = student.collate(0), student.policy.tokenizer, student.cfg.max_text_tokens
    by_task = tok.encode(student.data.instructions, n)
    t = [cpu_seconds(lambda: tok.encode(batch["instruction"], n)) for _ in range(reps)]
    lookup = [cpu_seconds(lambda: [x[batch["task_index"]] for x in by_task]) for _ in range(reps)]
    ids = tok.encode(batch["instruction"], n)
    same = all(torch.equal(x, y[batch["task_index"]]) for x, y in zip(ids, by_task))
    return {"name": "pre-tokenised text (ids by task_index)", "baseline_s": median(t),
            "new_s": median(lookup), "identical": same, "changes_maths": False}


def ab_optimizer(student: Student, reps: int) -> list[dict]:
    """AdamW for-loop (the default on CPU) vs foreach vs fused, `reps` steps on the step's gradients."""
    model, tc = student.model, student.train_cfg
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.zero_grad(set_to_none=True)
    model(student.collate(0))[0].backward()
    grads = [p.grad.clone() for p in model.parameters()]
    times, finals = {}, {}
    variants = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    for name, kw in variants.items():
        model.load_state_dict(start)
        opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, **kw)
        t = []
        for _ in range(reps + 1):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            t.append(cpu_seconds(opt.step))
        times[name], finals[name] = median(t[1:]), [p.detach().clone() for p in model.parameters()]
    model.load_state_dict(start)
    model.zero_grad(set_to_none=True)
    ref = finals["for-loop"]
    return [{"name": f"AdamW {name}", "baseline_s": times["for-loop"], "new_s": times[name],
             "changes_maths": False,
             "identical": all(torch.equal(a, b) for a, b in zip(ref, finals[name])),
             "max_abs_diff": max((a - b).abs().max().item() for a, b in zip(ref, finals[name]))}
            for name in ("foreach", "fused")]


def ab_compile(cfg, data: ChunkDataset, batch: int, steps: int, eager: Student, eager_s: float) -> dict:
    """torch.compile of the TrainModule: cold compile time (the first 2 steps; compiled in this process, and
    gcc's CPU counted, so the CPU time is complete) and the steady step time. Text goes in pre-tokenised:
    dynamo guards on the instruction strings in the batch and would recompile for every new batch."""
    import torch._inductor.config

    torch._inductor.config.compile_threads = 1
    torch._inductor.config.force_disable_caches = True  # a cold compile, as the first run of a config
    student = Student(cfg, data, batch, pretokenize=True)
    student.forward = torch.compile(student.model)
    t0, c0 = clock(), os.times()
    for s in range(2):
        student.step(s)
    (wall, cpu), gcc = since(t0), os.times().children_user - c0.children_user
    times = [sum(c for _, c in student.step(2 + s).values()) for s in range(steps)]
    return {"name": "torch.compile (inductor) + pre-tokenised text", "baseline_s": eager_s,
            "new_s": median(times), "compile_cpu_s": cpu + gcc, "compile_wall_s": wall, "identical": None,
            "changes_maths": False,
            "first_loss_abs_diff": abs(student.losses[0] - eager.losses[0])}


# ----------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace, work: Path) -> dict:
    torch.set_num_threads(args.threads)
    cfg, b = preset(args.preset, **json.loads(args.vla)), args.batch

    squares = {str(n): gemm_gflops(n, n, n) for n in args.sizes}
    shapes = [{"shape": name, "gflops": gemm_gflops(m, k, n, tr)}
              for name, m, k, n, tr in student_shapes(cfg, b)]
    shapes.append({"shape": "decoder attention scores (bmm)", "gflops": attention_gflops(cfg, b)})
    peak = max(squares.values())

    data = ChunkDataset(write_dataset(work / "ds", cfg.image_size, max(4, math.ceil(2 * b / len(TASKS)))),
                        chunk=cfg.chunk, image_size=cfg.image_size)
    student = Student(cfg, data, b)
    flops_by_op = step_flops(student)
    flops = sum(flops_by_op.values())
    phases = [student.step(s) for s in range(args.steps + 2)][2:]
    cpu = {k: median([p[k][1] for p in phases]) for k in phases[0]}
    step_cpu = median([sum(c for _, c in p.values()) for p in phases])

    rows, whatif = breakdown(student, args.reps)
    for phase, label in (("clip", "grad clip"), ("optimizer", "AdamW + LR schedule"),
                         ("collate", "collate (per-sample dicts)")):
        rows.append({"part": label, "count": 1, "seconds": cpu[phase], "flops": None})
    total = sum(r["seconds"] for r in rows)  # the step as the breakdown saw it (the load may have changed)
    for r in rows:
        r["share_of_step"] = r["seconds"] / total
        r["gflops"] = r["flops"] / r["seconds"] / 1e9 if r["flops"] else None
    prof = profile_step(student, args.steps + 2, flops_by_op)

    budget = token_budget(cfg, data, student.policy.tokenizer)
    decoder_s = sum(r["seconds"] for r in rows if r["part"].startswith("decoder"))
    slots_saved = whatif["decoder_layers_s"] - whatif["decoder_layers_one_slot_per_step_s"]
    speedups = [ab_collate(student, args.reps), ab_tokenize(student, args.reps),
                *ab_optimizer(student, args.reps),
                {"name": f"one action slot per chunk step ({budget['total']} -> "
                         f"{whatif['tokens_with_one_slot_per_step']} decoder tokens)", "baseline_s": total,
                 "new_s": total - slots_saved, "step_s": total, "identical": False, "changes_maths": True},
                {"name": f"no text padding (mean {budget['text_padding_mean']:.1f} of {cfg.max_text_tokens} "
                         "tokens; pro rata of the decoder)", "baseline_s": total, "step_s": total,
                 "new_s": total - decoder_s * budget["text_padding_share"], "identical": False,
                 "changes_maths": True}]
    if args.compile:
        speedups.append(ab_compile(cfg, data, b, args.steps, student, step_cpu))
    for s in speedups:
        s["saved_share_of_step"] = (s["baseline_s"] - s["new_s"]) / s.get("step_s", step_cpu)

    return {
        "note": "one run on a shared machine; rates use process CPU time; read the figures as ratios",
        "config": {"preset": args.preset, "vla": json.loads(args.vla), "threads": args.threads, "batch": b,
                   "steps": args.steps, "torch": torch.__version__,
                   "params": sum(p.numel() for p in student.model.parameters()),
                   **{k: getattr(cfg, k) for k in ("image_size", "patch_size", "vit_dim", "vit_depth",
                                                    "llm_dim", "llm_layers", "max_text_tokens")}},
        "peak": {"square_gflops": squares, "peak_gflops": peak, "student_shapes": shapes,
                 "gemm_1024_at_end_gflops": gemm_gflops(1024, 1024, 1024)},  # did the machine's load change?
        "step": {"flops": flops, "flops_by_op": flops_by_op, "cpu_s": step_cpu,
                 "wall_s": median([sum(w for w, _ in p.values()) for p in phases]),
                 "gflops": flops / step_cpu / 1e9, "fraction_of_peak": flops / step_cpu / 1e9 / peak,
                 "samples_per_s": b / step_cpu, "phases_cpu_s": cpu,
                 "phases_wall_s": {k: median([p[k][0] for p in phases]) for k in phases[0]}},
        "tokens": budget,
        "parts": rows,
        "action_slot_whatif": whatif,
        "profile": prof,
        "speedups": speedups,
    }


def report(res: dict) -> None:
    c, s, p = res["config"], res["step"], res["peak"]
    print(f"{c['preset']} {c['vla']} batch {c['batch']}, {c['threads']} thread(s), {c['params'] / 1e6:.2f} M "
          f"params, {res['tokens']['total']} decoder tokens ({res['note']})")
    print("peak GEMM GFLOP/s: " + ", ".join(f"{n}^3 {g:.1f}" for n, g in p["square_gflops"].items())
          + f" (1024^3 again at the end: {p['gemm_1024_at_end_gflops']:.1f})")
    for row in p["student_shapes"]:
        share = row["gflops"] / p["peak_gflops"]
        print(f"  {row['shape']:<48} {row['gflops']:6.1f} GFLOP/s ({share:.0%} of peak)")
    print(f"step: {s['flops'] / 1e9:.1f} GFLOP, {s['cpu_s']:.3f} s CPU ({s['wall_s']:.3f} s wall), "
          f"{s['gflops']:.1f} GFLOP/s = {s['fraction_of_peak']:.1%} of peak, "
          f"{s['samples_per_s']:.1f} samples/s")
    print(f"{'part':<54} {'ms/step':>8} {'share':>6} {'GFLOP':>6} {'GFLOP/s':>8}")
    for r in res["parts"]:
        gf, rate = (f"{r['flops'] / 1e9:6.2f}", f"{r['gflops']:8.1f}") if r["flops"] else ("-", "-")
        print(f"{r['part']:<54} {1e3 * r['seconds']:8.1f} {r['share_of_step']:6.1%} {gf:>6} {rate:>8}")
    print(f"one profiled step ({res['profile']['profiled_cpu_ms']:.0f} ms self CPU under the profiler):")
    for name, cl in res["profile"]["op_classes"].items():
        rate = f" at {cl['gflops']:.1f} GFLOP/s" if cl["gflops"] else ""
        print(f"  {name:<56} {cl['share']:6.1%}{rate}")
    print("top ops by self CPU time:")
    for o in res["profile"]["top_ops"][:10]:
        print(f"  {o['op']:<58} {o['self_cpu_ms']:8.1f} ms {o['share']:6.1%} x{o['calls']}")
    print("speed-ups (CPU ms of what changes; share of the step saved):")
    for x in res["speedups"]:
        flag = " [changes the model]" if x["changes_maths"] else " [bit-identical]" if x["identical"] else ""
        extra = f", compile {x['compile_cpu_s']:.0f} s CPU" if "compile_cpu_s" in x else ""
        print(f"  {x['name']:<72} {1e3 * x['baseline_s']:8.2f} -> {1e3 * x['new_s']:8.2f} "
              f"({x['saved_share_of_step']:+.1%}){extra}{flag}")


def plot(path: Path, res: dict) -> None:
    """Left: CPU ms per step by part. Right: GFLOP/s of the peak, of the student's GEMMs, step and parts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(15, 6))
    rows, p, c = res["parts"], res["peak"], res["config"]
    ax0.barh([r["part"] for r in rows][::-1], [1e3 * r["seconds"] for r in rows][::-1], color="tab:blue")
    ax0.set(xlabel="CPU ms per training step",
            title=f"where the time goes ({1e3 * res['step']['cpu_s']:.0f} ms step)")
    colors = {"square GEMM": "tab:gray", "student's GEMM shape alone": "tab:green",
              "training step": "tab:red", "part of the step": "tab:orange"}
    bars = [(f"GEMM {n}^3", g, "square GEMM") for n, g in p["square_gflops"].items()]
    bars += [("shape: " + row["shape"].split(" [")[0], row["gflops"], "student's GEMM shape alone")
             for row in p["student_shapes"]]
    bars += [("student step", res["step"]["gflops"], "training step")]
    bars += [(r["part"], r["gflops"], "part of the step") for r in rows if r["gflops"]]
    ax1.barh([x[0] for x in bars][::-1], [x[1] for x in bars][::-1], color=[colors[x[2]] for x in bars][::-1])
    ax1.axvline(p["peak_gflops"], color="k", ls="--", lw=1)
    ax1.legend(handles=[Patch(color=c, label=k) for k, c in colors.items()], fontsize=8, loc="lower right")
    ax1.set(xlabel="GFLOP/s (CPU time)",
            title=f"achieved vs peak: step at {res['step']['fraction_of_peak']:.0%} of peak")
    fig.suptitle(f"{c['preset']} {c['vla']} batch {c['batch']}, {c['threads']} thread(s); "
                 "one run on a shared machine (ratios)", fontsize=10)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory (throughput.json, throughput.png)")
    parser.add_argument("--preset", default="demo", help="student preset: tiny | demo | small")
    parser.add_argument("--vla", default="{}", help='preset overrides as JSON, e.g. {"patch_size": 8}')
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--batch", type=int, default=32, help="samples per training step")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps (after 2 warm-up steps)")
    parser.add_argument("--reps", type=int, default=3, help="repeats of each isolated part and A/B timing")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048],
                        help="square GEMM sizes for the peak")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (a minute of CPU)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(args, Path(tmp))
    out = Path(args.out)
    write_json(out / "throughput.json", res)
    plot(out / "throughput.png", res)
    report(res)
    print(f"-> {out / 'throughput.json'} and {out / 'throughput.png'}")
    return res


if __name__ == "__main__":
    main()
