"""LIBERO on CPU: step and render throughput, render speed-ups, demo / evaluation cost estimates.

    python bench/libero.py --out bench_out/libero.json [--suite libero_spatial --task 0 --steps 30 --size 128]

Interleaved in one run, on the same simulator states: a physics step (no cameras), the two cameras
rendered with the speed-up (MSAA off), without it (exactly robosuite's images) and with collision geoms
also drawn (to show robosuite already hides them). Prints figures, writes JSON and a PNG bar plot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

# this file is called libero.py: keep its folder off sys.path so `import libero` finds the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from spatial_forcing.sim.libero.render import CameraRenderer  # noqa: E402
from spatial_forcing.sim.registry import get_suite  # noqa: E402
from spatial_forcing.utils.atomic import save_figure, write_json  # noqa: E402
from spatial_forcing.utils.log import setup_logging  # noqa: E402

log = logging.getLogger("bench.libero")


def timed(fn):
    """(result, seconds) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def measure_steps(env, steps: int, size: int) -> dict:
    """Interleaved physics / render timings and image differences over `steps` expert steps."""
    model, data = env.sim.model._model, env.sim.data._data
    renderers = {"fast": CameraRenderer(model, size, fast=True),
                 "faithful": CameraRenderer(model, size, fast=False),
                 "with_collision": CameraRenderer(model, size, fast=False)}
    renderers["with_collision"].option.geomgroup[0] = 1
    times = {k: [] for k in ["physics", *renderers]}
    diffs = {"fast_vs_faithful": [], "collision_vs_faithful": []}
    obs, _ = env.reset(options={"init_state": 0})
    expert = env.suite_expert
    try:
        for r in renderers.values():  # warm-up (first GL frame is slow)
            r.render(data)
        for _ in range(steps):
            action = expert(obs)
            raw, dt = timed(lambda: env.libero.step(action))
            times["physics"].append(dt)
            imgs = {}
            for name, r in renderers.items():
                imgs[name], dt = timed(lambda r=r: r.render(data))
                times[name].append(dt)
            key = "observation.images.agentview"
            diffs["fast_vs_faithful"].append(
                np.abs(imgs["fast"][key].astype(int) - imgs["faithful"][key]).mean())
            diffs["collision_vs_faithful"].append(
                np.abs(imgs["with_collision"][key].astype(int) - imgs["faithful"][key]).mean())
            env._raw = raw[0]
            obs = env._obs()
    finally:
        for r in renderers.values():
            r.close()
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"median_seconds": med, "mean_abs_pixel_diff": {k: float(np.mean(v)) for k, v in diffs.items()},
            "steps_per_s": {"no_cameras": 1 / med["physics"],
                            "cameras_fast": 1 / (med["physics"] + med["fast"]),
                            "cameras_faithful": 1 / (med["physics"] + med["faithful"]),
                            "cameras_with_collision": 1 / (med["physics"] + med["with_collision"])}}


def expert_episode(suite, task: int, init_state: int) -> dict:
    """One scripted-expert episode without cameras: wall time, steps, success."""
    env = suite.make_env(task, cameras=False)
    try:
        t0 = time.perf_counter()
        obs, _ = env.reset(options={"init_state": init_state})
        expert = suite.expert(env)
        success, steps = False, 0
        while steps < suite.tasks[task].max_steps and not success:
            obs, _, success, _, _ = env.step(expert(obs))
            steps += 1
        return {"seconds": time.perf_counter() - t0, "steps": steps, "success": bool(success)}
    finally:
        env.close()


def plot(path: Path, sps: dict) -> None:
    """Bar plot of env steps/s per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    labels = [k.replace("cameras_", "cams ").replace("_", " ") for k in sps]
    ax.bar(labels, list(sps.values()), color=["tab:gray", "tab:green", "tab:blue", "tab:red"])
    ax.set_ylabel("env steps / s")
    ax.set_yscale("log")
    ax.set_title("LIBERO on CPU (2 cameras)")
    save_figure(fig, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON output (a .png plot is written next to it)")
    p.add_argument("--suite", default="libero_spatial")
    p.add_argument("--task", type=int, default=0)
    p.add_argument("--steps", type=int, default=30, help="interleaved timing steps")
    p.add_argument("--size", type=int, default=128)
    a = p.parse_args()
    setup_logging()
    import torch

    torch.set_num_threads(1)
    suite = get_suite(a.suite)
    env, t_create = timed(lambda: suite.make_env(a.task, image_size=a.size, cameras=False))
    env.suite_expert = suite.expert(env)
    try:
        steps = measure_steps(env, a.steps, a.size)
    finally:
        env.close()
    episode = expert_episode(suite, a.task, 0)
    med, max_steps = steps["median_seconds"], suite.tasks[a.task].max_steps
    render = med["fast"]
    demo_s = episode["seconds"] + episode["steps"] * render
    eval_steps = {"expert_length": episode["steps"], "max_steps_plus_wait": max_steps + 10}
    report = {
        "suite": a.suite, "task": a.task, "image_size": a.size, "env_create_s": t_create, **steps,
        "speedup_msaa_off": (med["physics"] + med["faithful"]) / (med["physics"] + med["fast"]),
        "expert_episode_no_cameras": episode,
        "replay_render_s_per_frame": render,
        "demo_estimate": {"seconds_per_demo": demo_s, "demos_per_hour": 3600 / demo_s},
        "eval_episodes_per_hour_excl_policy": {k: 3600 / (n * (med["physics"] + render))
                                               for k, n in eval_steps.items()},
        "note": "single process; 2 shared CPU cores (timings depend on other load); policy time excluded",
    }
    out = Path(a.out)
    write_json(out, report)
    plot(out.with_suffix(".png"), steps["steps_per_s"])
    for k, v in steps["steps_per_s"].items():
        print(f"steps/s {k:24s} {v:7.2f}")
    print(f"speed-up MSAA off x{report['speedup_msaa_off']:.2f}; mean |pixel diff| fast vs faithful "
          f"{steps['mean_abs_pixel_diff']['fast_vs_faithful']:.2f}, collision vs faithful "
          f"{steps['mean_abs_pixel_diff']['collision_vs_faithful']:.2f}")
    print(f"expert episode (no cameras) {episode['seconds']:.1f} s / {episode['steps']} steps "
          f"(success={episode['success']}); replay render {render * 1000:.0f} ms/frame; "
          f"~{report['demo_estimate']['demos_per_hour']:.0f} demos/h")
    for k, v in report["eval_episodes_per_hour_excl_policy"].items():
        print(f"eval episodes/h at {a.size}px ({k}): {v:.0f}")
    print(f"-> {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
