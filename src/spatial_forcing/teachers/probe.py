"""Linear probes on held-out episodes: ridge regression in its dual (kernel) form, for features much wider
than the number of frames.

Features are standardised with the training rows' mean and std; the ridge strength is picked per target
column on validation episodes from a small log grid (relative to the mean eigenvalue of the training
kernel, so the grid does not depend on the feature scale), then the probe is refitted on training +
validation episodes and scored by R^2 on the test episodes.
"""

from __future__ import annotations

import numpy as np
import torch

LAMBDAS = tuple(10.0 ** k for k in range(-4, 3))  # ridge strengths, times the kernel's mean eigenvalue


def split_episodes(episodes: np.ndarray, seed: int = 0, test_fraction: float = 0.25,
                   val_fraction: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row episode ids [n] -> boolean row masks (fit, val, test) of whole episodes, seeded.

    test: `test_fraction` of the episodes; val: `val_fraction` of the rest; at least one episode each.
    """
    ids = np.unique(episodes)
    if len(ids) < 3:
        raise ValueError(f"a probe on held-out episodes needs at least 3 episodes, got {len(ids)}")
    ids = np.random.default_rng(seed).permutation(ids)
    n_test = min(len(ids) - 2, max(1, round(test_fraction * len(ids))))
    n_val = min(len(ids) - n_test - 1, max(1, round(val_fraction * (len(ids) - n_test))))
    test, val = ids[:n_test], ids[n_test:n_test + n_val]
    is_test, is_val = np.isin(episodes, test), np.isin(episodes, val)
    return ~(is_test | is_val), is_val, is_test


def ridge_predictions(x_train: torch.Tensor, y_train: torch.Tensor, x_eval: torch.Tensor,
                      lambdas: tuple[float, ...] = LAMBDAS) -> torch.Tensor:
    """Dual ridge: x_train [n, d], y_train [n, k], x_eval [m, d] -> predictions [L, m, k] (float64), one per
    lambda.

    With standardised X and centred y, the weights are X^T (X X^T + lambda I)^-1 y; one eigendecomposition of
    the n x n kernel serves every lambda and every column.
    """
    x_train, x_eval = x_train.float(), x_eval.float()
    mean, std = x_train.mean(dim=0), x_train.std(dim=0, correction=0)
    std = torch.where(std > 1e-6 * std.max().clamp(min=1e-30), std, torch.ones_like(std))  # constant: zeroed
    a, b = (x_train - mean) / std, (x_eval - mean) / std
    kernel, cross = (a @ a.T).double(), (b @ a.T).double()
    s, u = torch.linalg.eigh(kernel)
    s = s.clamp(min=0.0)
    scale = float(s.mean()) or 1.0
    y = y_train.double()
    y_mean = y.mean(dim=0)
    uty = u.T @ (y - y_mean)
    return torch.stack([cross @ (u @ (uty / (s + lam * scale)[:, None])) + y_mean for lam in lambdas])


def r2_score(y: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """Per-column R^2 = 1 - SSE / SST of y [m, k] around its own mean; NaN where y has no variance."""
    y, pred = y.double(), pred.double()
    sse = (y - pred).square().sum(dim=0)
    sst = (y - y.mean(dim=0)).square().sum(dim=0)
    defined = sst > 1e-12 * y.square().sum(dim=0).clamp(min=1e-30)
    return torch.where(defined, 1.0 - sse / sst.clamp(min=1e-300), torch.full_like(sst, float("nan")))


def ridge_r2(x: torch.Tensor, y: torch.Tensor, fit: np.ndarray, val: np.ndarray, test: np.ndarray,
             lambdas: tuple[float, ...] = LAMBDAS) -> np.ndarray:
    """Test R^2 [k] of each column of y [n, k] read out of x [n, d]: lambda per column by validation MSE,
    then refit on fit + val rows."""
    fit_t, val_t, test_t = (torch.from_numpy(m) for m in (fit, val, test))
    val_pred = ridge_predictions(x[fit_t], y[fit_t], x[val_t], lambdas)
    best = (val_pred - y[val_t].double()).square().mean(dim=1).argmin(dim=0)  # [k]
    train_t = fit_t | val_t
    test_pred = ridge_predictions(x[train_t], y[train_t], x[test_t], lambdas)
    chosen = test_pred[best, :, torch.arange(y.shape[1])].T  # [m, k]
    return r2_score(y[test_t], chosen).numpy()


def probe_r2(x: torch.Tensor, y: np.ndarray, episodes: np.ndarray, seed: int = 0,
             lambdas: tuple[float, ...] = LAMBDAS) -> np.ndarray:
    """Held-out-episode R^2 [k] of each column of y [n, k] (may hold NaN) read linearly out of x [n, d].

    A column's NaN rows are left out of its probe (columns with the same NaN rows are fitted together); the
    result is NaN for a column that cannot be probed (a split without rows, or no variance on the test rows).
    """
    fit, val, test = split_episodes(episodes, seed)
    finite = np.isfinite(y)
    out = np.full(y.shape[1], np.nan)
    groups: dict[bytes, list[int]] = {}
    for j in range(y.shape[1]):
        groups.setdefault(finite[:, j].tobytes(), []).append(j)
    for cols in groups.values():
        rows = finite[:, cols[0]]
        f, v, t = fit & rows, val & rows, test & rows
        if f.sum() < 2 or v.sum() < 1 or t.sum() < 2:
            continue
        out[cols] = ridge_r2(x, torch.from_numpy(np.nan_to_num(y[:, cols])), f, v, t, lambdas)
    return out
