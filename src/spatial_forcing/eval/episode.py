"""One evaluation episode: seeded, rolled out chunk by chunk, recorded as one line of the episodes log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from spatial_forcing.data.video import VideoEncoder
from spatial_forcing.eval.config import EvalConfig

# act(observations, instructions) -> [B, chunk, action_dim] executable actions
ActFn = Callable[[Sequence[dict], Sequence[str]], np.ndarray]

VIDEO_FPS = 20


def run_episode(env, act: ActFn, instruction: str, init_state: int, max_steps: int, cfg: EvalConfig,
                frames: list | None = None) -> tuple[bool, int, dict]:
    """One episode; returns (success, steps taken after the wait, final info)."""
    obs, info = env.reset(options={"init_state": init_state})
    for _ in range(cfg.num_steps_wait):
        obs, _, _, _, info = env.step(np.asarray(cfg.wait_action, dtype=np.float32))
    steps = 0
    ensemble = TemporalEnsemble(cfg.temporal_ensemble) if cfg.temporal_ensemble > 0 else None
    while steps < max_steps:
        chunk = act([obs], [instruction])[0]
        if ensemble is not None:  # one action per query
            actions = ensemble.add(chunk)[None]
        else:
            actions = chunk[:cfg.open_loop_steps or len(chunk)]
        for action in actions:
            obs, _, terminated, truncated, info = env.step(np.clip(action, -1.0, 1.0).astype(np.float32))
            steps += 1
            if frames is not None:
                frames.append(np.concatenate([obs["observation.images.agentview"],
                                              obs["observation.images.wrist"]], axis=1))
            if info.get("success") or terminated or truncated or steps >= max_steps:
                return bool(info.get("success")), steps, info
    return bool(info.get("success")), steps, info


class TemporalEnsemble:
    """ACT's temporal ensembling: `add(chunk)` once per step with the chunk predicted at that step; returns the
    action to execute, the mean of every stored chunk's prediction for this step weighted exp(-m * i), i = 0 for
    the oldest."""

    def __init__(self, m: float) -> None:
        self.m = m
        self.chunks: list[np.ndarray] = []  # chunks still covering the current step, oldest first

    def add(self, chunk: np.ndarray) -> np.ndarray:
        self.chunks = [c[1:] for c in self.chunks if len(c) > 1] + [np.asarray(chunk)]
        weights = np.exp(-self.m * np.arange(len(self.chunks)))
        actions = np.stack([c[0] for c in self.chunks])
        return (weights[:, None] * actions).sum(0) / weights.sum()


def play_episode(env, act: ActFn, spec, task_id: int, init_state: int, cfg: EvalConfig) -> dict:
    """Seed, run and record one (task, init state) episode: the JSON line of the episodes log."""
    t0 = time.perf_counter()
    seed = cfg.seed * 1_000_003 + task_id * 1009 + init_state
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    want_video = bool(cfg.video_dir) and cfg.init_states.index(init_state) < cfg.videos_per_task
    frames = [] if want_video else None
    success, steps, info = run_episode(env, act, spec.instruction, init_state, cfg.max_steps or spec.max_steps,
                                       cfg, frames)
    if frames:
        write_video(Path(cfg.video_dir) / f"{spec.name}_init{init_state}.mp4", frames)
    subgoals = {k: bool(v) for k, v in info.items() if k != "success" and isinstance(v, (bool, np.bool_))}
    return {"task_id": task_id, "task": spec.name, "init_state": init_state, "success": success, "steps": steps,
            "subgoals": subgoals, "seconds": round(time.perf_counter() - t0, 2)}


def write_video(path: Path, frames: list) -> None:
    """H.264 MP4 of uint8 [H, W, 3] frames with the project's one video encoder (PyAV), written under a
    temporary name first so that a killed run leaves no half video under the final name."""
    h, w = np.asarray(frames[0]).shape[:2]
    # yuv420p halves the chroma resolution, so H.264 needs even sides: odd ones get one more edge pixel
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    tmp = path.with_suffix(".tmp.mp4")  # the suffix tells the muxer the container
    encoder = VideoEncoder(tmp, VIDEO_FPS, h + h % 2, w + w % 2)
    try:
        for frame in frames:
            encoder.add(np.pad(frame, pad, mode="edge"))
    finally:
        encoder.close()
    tmp.replace(path)
