"""Load VGGT aggregator weights from a local `.pt` or `.safetensors` file, checked key by key.

The official `model.pt` holds `aggregator.*` plus head entries; the heads are dropped explicitly and
everything else must match the aggregator exactly (no silent `strict=False`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import torch

from spatial_forcing.teachers.vggt.aggregator import Aggregator
from spatial_forcing.utils.errors import SFError

log = logging.getLogger(__name__)

PREFIX = "aggregator."
HEAD_PREFIXES = ("camera_head.", "depth_head.", "point_head.", "track_head.")
_MAX_LISTED = 8


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a `.pt` (state_dict, or one nested under "model"/"state_dict") or `.safetensors`."""
    path = Path(path)
    if not path.is_file():
        raise SFError(f"vggt weights {path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # safetensors raises several types for a bad header
            raise SFError(f"vggt weights {path}: not a readable safetensors file ({err})") from err
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise SFError(f"vggt weights {path}: torch.load(weights_only=True) failed ({err})") from err
    if isinstance(obj, Mapping):
        for nested in ("model", "state_dict"):
            if isinstance(obj.get(nested), Mapping):
                obj = obj[nested]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SFError(f"vggt weights {path}: expected a state_dict of tensors")
    return dict(obj)


def select_aggregator(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
    """Strip `aggregator.` and drop the heads. Returns (aggregator state, number of head tensors dropped).
    A file without any `aggregator.` key is taken as an aggregator state_dict already."""
    dropped = sum(1 for k in state if k.startswith(HEAD_PREFIXES))
    if not any(k.startswith(PREFIX) for k in state):
        return {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}, dropped
    out = {}
    for key, value in state.items():
        if key.startswith(HEAD_PREFIXES):
            continue
        out[key[len(PREFIX):] if key.startswith(PREFIX) else key] = value
    return out, dropped


def _listing(kind: str, items: list[str]) -> str:
    """'kind (n): a, b, ... (+k more)'."""
    shown = ", ".join(items[:_MAX_LISTED])
    more = f", ... (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return f"{kind} ({len(items)}): {shown}{more}"


def check_state(model: Aggregator, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise one SFError listing missing, unexpected and mis-shaped keys (each list truncated)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(k for k in expected if k not in state)
    unexpected = sorted(k for k in state if k not in expected)
    shaped = sorted(
        f"{k} {tuple(state[k].shape)} != {expected[k]}"
        for k in expected
        if k in state and tuple(state[k].shape) != expected[k]
    )
    problems = [_listing(kind, items) for kind, items in
                (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped)) if items]
    if problems:
        raise SFError(f"vggt weights {source} do not match the aggregator: " + "; ".join(problems))


def load_aggregator_weights(model: Aggregator, path: str | Path) -> None:
    """Load `path` into `model` (which may live on the meta device: tensors are then assigned).
    Weights are cast to float32."""
    state, dropped = select_aggregator(read_state_dict(path))
    check_state(model, state, str(path))
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    on_meta = any(p.is_meta for p in model.parameters())
    model.load_state_dict(state, strict=True, assign=on_meta)
    if on_meta:
        model.reset_buffers()
    log.info("loaded %d aggregator tensors from %s (%d head tensors dropped)", len(state), path, dropped)
