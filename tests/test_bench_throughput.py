"""bench/throughput.py runs end to end on the tiny preset and writes the JSON (and PNG) it documents."""

import importlib.util
import json
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[1] / "bench" / "throughput.py"


def test_throughput_bench_on_tiny_preset_writes_its_figures(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_throughput", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        bench.main(["--out", str(tmp_path), "--preset", "tiny", "--batch", "4", "--steps", "1", "--reps", "1",
                    "--sizes", "64"])
    finally:
        torch.set_num_threads(threads)
    res = json.loads((tmp_path / "throughput.json").read_text())
    assert (tmp_path / "throughput.png").stat().st_size > 0
    assert {"note", "config", "peak", "step", "tokens", "parts", "action_slot_whatif", "profile",
            "speedups"} <= set(res)
    assert res["peak"]["peak_gflops"] > 0 and res["peak"]["student_shapes"]
    step = res["step"]
    assert step["flops"] > 0 and step["cpu_s"] > 0 and 0 < step["fraction_of_peak"]
    assert any("scaled_dot_product" in op for op in step["flops_by_op"])  # CPU flash attention is counted
    assert set(step["phases_cpu_s"]) == {"collate", "forward", "backward", "clip", "optimizer"}
    parts = {r["part"]: r for r in res["parts"]}
    assert {"ViT MLP", "decoder RMSNorms", "collate (per-sample dicts)", "AdamW + LR schedule"} <= set(parts)
    assert parts["decoder MLP (SwiGLU)"]["flops"] > 0
    speedups = {s["name"]: s for s in res["speedups"]}
    assert speedups["collate by tensor indexing"]["identical"]
    assert speedups["AdamW foreach"]["identical"]
    assert res["tokens"]["total"] == res["action_slot_whatif"]["tokens"]
