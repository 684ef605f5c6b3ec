"""The frozen student's visual tokens at chosen decoder layers, for chosen dataset frames.

Tokens are the residual stream after decoder layer k, read with the same hooks as Spatial Forcing itself
(`core.capture.TokenCapture` on `model.layer_path(k)`, sliced by `model.token_layout()`), not from
`encode(..., output_hidden_states=True)`: transformers returns the last layer's state after the final norm.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from spatial_forcing.core.capture import TokenCapture
from spatial_forcing.core.config import AlignConfig
from spatial_forcing.data.reader import LeRobotDatasetReader
from spatial_forcing.eval.policy import STATE_KEY, LoadedPolicy
from spatial_forcing.utils.layer_index import decoder_layer


def aligned_layer(layer: int, train_config: dict | None, num_layers: int) -> int:
    """`layer` if given, else the layer the run aligned (its train_config.json; the deepest of several),
    else SF's default (~3/4 depth): the same layer for SF students and their baselines."""
    if layer:
        return decoder_layer(layer, num_layers, "--layer")
    align = (train_config or {}).get("align") or {}
    layers = AlignConfig(layers=list(align.get("layers") or []), mode="multi").resolve_layers(num_layers)
    return max(layers)


def probe_layers(k: int) -> list[int]:
    """The aligned layer and the 3 before it, shallowest first, clipped at layer 1 (repeats when k < 4)."""
    return [max(1, k - 3 + i) for i in range(4)]


def frame_images(reader: LeRobotDatasetReader, cameras: list[str], frames: np.ndarray) -> dict[str, np.ndarray]:
    """camera -> uint8 [n, H, W, 3] of the given global frame indices (decoded one episode at a time)."""
    episodes = reader.columns["episode_index"].ravel()[frames].astype(int)
    out: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    order = []
    for ep in sorted(set(episodes.tolist())):
        lo, _ = reader.episode_range(ep)
        mine = np.flatnonzero(episodes == ep)
        order.append(mine)
        for c in cameras:
            out[c].append(reader.images(f"observation.images.{c}", [ep])[frames[mine] - lo])
    back = np.argsort(np.concatenate(order))  # episode-major -> the order of `frames`
    return {c: np.concatenate(parts)[back] for c, parts in out.items()}


@torch.no_grad()
def visual_tokens(policy: LoadedPolicy, reader: LeRobotDatasetReader, frames: np.ndarray, layers: list[int],
                  batch_size: int = 64, progress: bool = True) -> dict[int, torch.Tensor]:
    """layer -> visual tokens [n, V, h*w, D] of `frames` (global indices), the policy's cameras in order."""
    model = policy.model
    layout = model.token_layout()
    images = frame_images(reader, policy.cameras, frames)
    state = reader.columns[STATE_KEY][frames]
    tasks = reader.columns["task_index"].ravel()[frames].astype(int)
    wanted = sorted(set(layers))
    out: dict[int, list[torch.Tensor]] = {k: [] for k in wanted}
    with TokenCapture(model, {k: model.layer_path(k) for k in wanted}) as capture:
        for lo in tqdm(range(0, len(frames), batch_size), desc="student tokens", disable=not progress,
                       leave=False):
            rows = range(lo, min(lo + batch_size, len(frames)))
            obs = [{**{f"observation.images.{c}": images[c][i] for c in policy.cameras}, STATE_KEY: state[i]}
                   for i in rows]
            model.encode(policy.batch_from_obs(obs, [reader.tasks[tasks[i]] for i in rows]))
            captured = capture.pop()
            for k in wanted:
                tokens = layout.select(captured[k]).float().cpu()
                out[k].append(tokens.reshape(len(rows), layout.views, layout.tokens_per_view, -1))
    return {k: torch.cat(v) for k, v in out.items()}
