"""Map state/action vectors to a normalised space and back.

Modes:
  - "q99" (OpenVLA's BOUNDS_Q99): x -> clip(2 (x - q01) / (q99 - q01) - 1, -1, 1); dimensions whose range
    is (nearly) empty map to 0 and come back as q01.
  - "mean_std": x -> (x - mean) / std (std floored at `eps`), no clipping.
Works on numpy arrays and torch tensors alike (the bounds follow the input's type, dtype and device).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spatial_forcing.utils.errors import SFError

MODES = ("q99", "mean_std")
EPS = 1e-6  # smallest range / std treated as non-degenerate


class Normalizer:
    """Per-key affine normalisation built from stats.json-style stats.

    `state_dict()` gives plain dicts of lists (for a checkpoint); `Normalizer.from_state_dict` rebuilds it.
    """

    def __init__(self, stats: dict[str, dict[str, Any]], mode: str = "q99",
                 keys: tuple[str, ...] = ("observation.state", "action"),
                 source: str = "normalisation stats") -> None:
        """source: where `stats` came from (a file name), named by every error."""
        if mode not in MODES:
            raise SFError(f"unknown normalization {mode!r}; expected one of {list(MODES)}")
        self.mode = mode
        self.keys = tuple(keys)
        self._bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        need = ("q01", "q99") if mode == "q99" else ("mean", "std")
        for key in self.keys:
            self._bounds[key] = _bounds(stats, key, need, source, mode)

    def dim(self, key: str) -> int:
        """Length of the vectors normalised under `key`."""
        return len(self._bounds[key][0])

    def _affine(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(offset, scale, degenerate mask) with normalised = (x - offset) / scale."""
        a, b = self._bounds[key]
        if self.mode == "q99":
            rng = b - a
            degenerate = rng < EPS
            return (a + b) / 2.0, np.where(degenerate, 1.0, rng / 2.0), degenerate
        degenerate = b < EPS
        return a, np.where(degenerate, 1.0, b), np.zeros_like(degenerate)

    @staticmethod
    def _like(x: Any, v: np.ndarray) -> Any:
        if isinstance(x, np.ndarray):
            return v.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
        import torch

        return torch.as_tensor(v, dtype=x.dtype if x.is_floating_point() else torch.float32, device=x.device)

    def normalize(self, key: str, x: Any) -> Any:
        """Raw -> normalised, broadcasting over leading dims."""
        offset, scale, degenerate = self._affine(key)
        y = (x - self._like(x, offset)) / self._like(x, scale)
        if self.mode == "q99":
            y = y.clip(-1.0, 1.0) if isinstance(y, np.ndarray) else y.clamp(-1.0, 1.0)
            y = y * self._like(y, (~degenerate).astype(np.float64))
        return y

    def unnormalize(self, key: str, y: Any) -> Any:
        """Normalised -> raw (the inverse of `normalize` inside the clipping range)."""
        offset, scale, _ = self._affine(key)
        return y * self._like(y, scale) + self._like(y, offset)

    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable description: mode, keys and the bounds used."""
        names = ("q01", "q99") if self.mode == "q99" else ("mean", "std")
        stats = {k: {names[0]: a.tolist(), names[1]: b.tolist()} for k, (a, b) in self._bounds.items()}
        return {"mode": self.mode, "keys": list(self.keys), "stats": stats}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], source: str = "normaliser state") -> "Normalizer":
        """Rebuild from `state_dict()` output (source: the file it was read from, for errors)."""
        if not isinstance(state, dict) or not {"stats", "mode", "keys"} <= set(state):
            raise SFError(f"{source}: expected a JSON object with stats, mode and keys")
        return cls(state["stats"], mode=state["mode"], keys=tuple(state["keys"]), source=source)


def _bounds(stats: Any, key: str, need: tuple[str, str], source: str,
            mode: str) -> tuple[np.ndarray, np.ndarray]:
    """The two stat vectors of `key`, checked: numbers, one length, finite. Broken stats would otherwise
    normalise every sample to NaN and train a NaN policy without any error."""
    feat = stats.get(key) if isinstance(stats, dict) else None
    names = "/".join(need)
    if not isinstance(feat, dict) or any(n not in feat for n in need):
        raise SFError(f"{source}: lacks {key!r} {names} (normalisation mode {mode!r})")
    try:
        a, b = (np.asarray(feat[n], dtype=np.float64) for n in need)
    except (TypeError, ValueError):
        raise SFError(f"{source}: {key!r} {names} are not lists of numbers") from None
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise SFError(f"{source}: {key!r} {names} must be two vectors of one length, got shapes "
                      f"{list(a.shape)} and {list(b.shape)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise SFError(f"{source}: {key!r} {names} hold NaN, inf or null")
    return a, b
