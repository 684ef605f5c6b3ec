"""`sf probe`: freeze a student, probe its visual tokens for depth (DPT head) and object positions (ridge).

Writes OUT/probe.json (held-out AbsRel and delta<1.25 of the depth probe, with the train set's mean depth map
as a floor; held-out R^2 of the object-position probe per layer) and OUT/probe.png (true vs predicted depth).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from pathlib import Path

import numpy as np
import torch

from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.eval.policy_spec import load_policy, run_config
from spatial_forcing.probe.config import ProbeConfig
from spatial_forcing.probe.data import check_depth, object_positions, read_depth, select_frames
from spatial_forcing.probe.fit import DepthFit, fit_depth_probe
from spatial_forcing.probe.metrics import valid_depth
from spatial_forcing.probe.plot import plot_examples
from spatial_forcing.probe.ridge import ridge_r2
from spatial_forcing.probe.tokens import aligned_layer, frame_images, probe_layers, visual_tokens
from spatial_forcing.utils.atomic import write_json
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)
RUN_PATH = re.compile(r"([^/]+)/seed(\d+)/policy/?$")  # an `sf experiment` run: OUT/runs/<variant>/seed<k>/policy


def run_probe(cfg: ProbeConfig) -> dict:
    """Both probes of one policy on one dataset; returns what probe.json holds."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise SFError(f"--out {out} is a file; expected a directory")
    torch.set_num_threads(cfg.threads)
    reader = LeRobotDatasetReader(cfg.dataset)
    policy = load_policy(cfg.policy)
    check_depth(reader, policy.cameras)
    train_cfg = run_config(cfg.policy)
    k = aligned_layer(cfg.layer, train_cfg, policy.model.num_layers)
    layers = probe_layers(k)
    frames, train = select_frames(reader, cfg.stride, cfg.max_frames, cfg.heldout_every)
    log.info("probing layers %s of %s on %d frames (%d held out)", layers, cfg.policy, len(frames),
             int((~train).sum()))
    tokens = visual_tokens(policy, reader, frames, layers)
    depth = read_depth(reader, policy.cameras, frames, cfg.size)
    valid = valid_depth(depth, cfg.max_depth)
    fit = DepthFit(cfg.steps, cfg.batch_size, cfg.lr, cfg.width, cfg.seed)
    _, pred, depth_metrics = fit_depth_probe([tokens[i] for i in layers], depth, valid, torch.from_numpy(train),
                                             policy.model.token_layout().grid, fit)
    match = RUN_PATH.search(cfg.policy)
    result = {
        "policy": cfg.policy, "dataset": cfg.dataset, "command": " ".join(["sf", *sys.argv[1:]]),
        "variant": match.group(1) if match else None, "seed": int(match.group(2)) if match else None,
        "spatial_forcing": bool(train_cfg["align"]["enabled"]) if train_cfg else None,
        "layer": k, "layers": layers, "grid": list(policy.model.token_layout().grid),
        "frames": {"train": int(train.sum()), "test": int((~train).sum())},
        "episodes": {"train": len(set(_episodes(reader, frames[train]))),
                     "test": len(set(_episodes(reader, frames[~train])))},
        "abs_rel": depth_metrics["test"]["abs_rel"], "delta1": depth_metrics["test"]["delta1"],
        "depth": depth_metrics, "objects": _object_probe(reader, frames, train, tokens, layers, k, cfg),
        "config": dataclasses.asdict(cfg),
        "notes": {"abs_rel": "mean |pred - gt| / gt over valid held-out pixels (gt finite, > 0, < max_depth)",
                  "delta1": "fraction of valid held-out pixels with max(pred/gt, gt/pred) < 1.25",
                  "test_mean_depth": "the same metrics for the training frames' mean depth map (a floor)",
                  "objects": "ridge from the flattened visual tokens of a layer (all views) to the object "
                             "xyz columns present; R^2 on the held-out episodes"},
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "probe.json", result)
    test = np.flatnonzero(~train)
    shown = np.linspace(0, len(test) - 1, min(cfg.examples, len(test))).round().astype(int)
    images = frame_images(reader, policy.cameras, frames[test[shown]])
    title = (f"{cfg.policy}: depth probe on layers {layers}, held-out AbsRel {result['abs_rel']:.3f}, "
             f"delta<1.25 {result['delta1']:.3f} (mean depth map: "
             f"{depth_metrics['test_mean_depth']['abs_rel']:.3f})")
    plot_examples(images, depth[test[shown]], pred[shown], valid[test[shown]], title, out / "probe.png")
    log.info("wrote %s/probe.json and probe.png", out)
    return result


def _episodes(reader: LeRobotDatasetReader, frames: np.ndarray) -> list[int]:
    return reader.columns["episode_index"].ravel()[frames].astype(int).tolist()


def _object_probe(reader: LeRobotDatasetReader, frames: np.ndarray, train: np.ndarray,
                  tokens: dict[int, torch.Tensor], layers: list[int], k: int, cfg: ProbeConfig) -> dict:
    objects = object_positions(reader, frames)
    if objects is None:
        return {"r2": None, "note": f"{cfg.dataset}: no object positions (observation.environment_state)"}
    values, names = objects
    by_layer = {}
    for i in sorted(set(layers)):
        score = ridge_r2(tokens[i].flatten(1).numpy(), values, train, cfg.ridge_alpha)
        by_layer[str(i)] = None if np.isnan(score) else score  # NaN: no column varies in the held-out frames
    log.info("object-position probe: held-out R^2 %s", by_layer)
    return {"r2": by_layer[str(k)], "r2_by_layer": by_layer, "columns": names}
