"""probe.png: for a few held-out frames, the camera image, the true and the predicted depth of each view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spatial_forcing.utils.atomic import save_figure


def plot_examples(images: dict[str, np.ndarray], depth: torch.Tensor, pred: torch.Tensor, valid: torch.Tensor,
                  title: str, path: str | Path) -> None:
    """images: camera -> uint8 [n, H, W, 3]; depth, pred, valid: [n, V, S, S] (same frames, same cameras)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cams = list(images)
    n = depth.shape[0]
    fig, axes = plt.subplots(max(1, n), 3 * len(cams), figsize=(2.2 * 3 * len(cams), 2.2 * max(1, n) + 0.6),
                             squeeze=False)
    for i in range(n):
        for v, cam in enumerate(cams):
            ok = valid[i, v]
            lo, hi = (float(depth[i, v][ok].min()), float(depth[i, v][ok].max())) if ok.any() else (0.0, 1.0)
            true = torch.where(ok, depth[i, v], torch.nan).numpy()
            panels = [(images[cam][i], f"{cam}", {}), (true, "true depth", dict(vmin=lo, vmax=hi)),
                      (pred[i, v].numpy(), "predicted", dict(vmin=lo, vmax=hi))]
            for j, (img, label, kw) in enumerate(panels):
                ax = axes[i, 3 * v + j]
                ax.imshow(img, cmap=None if j == 0 else "viridis", **kw)
                ax.set_xticks([]), ax.set_yticks([])
                if i == 0:
                    ax.set_title(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
