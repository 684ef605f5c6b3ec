"""Linear (ridge) probes: standardised features -> targets, fit on some samples, R^2 on the others.

The penalty is `alpha * n_train` (scaled with the sample count, so one alpha suits datasets of any size); the
solve uses the primal (features x features) or dual (samples x samples) system, whichever is smaller: the
same weights either way.
"""

from __future__ import annotations

import numpy as np


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    """Coefficient of determination, averaged over the target columns that vary (NaN if none does)."""
    pred, true = np.asarray(pred, np.float64).reshape(len(pred), -1), np.asarray(true, np.float64)
    true = true.reshape(len(true), -1)
    total = ((true - true.mean(0)) ** 2).sum(0)
    varies = total > 1e-12
    if not varies.any():
        return float("nan")
    return float(np.mean(1 - ((pred - true) ** 2).sum(0)[varies] / total[varies]))


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float = 10.0):
    """Fit on x [n, p], y [n, k]; returns predict(x_new) -> [m, k]."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64).reshape(len(y), -1)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    a = (x - mu) / sd
    y_mu = y.mean(0)
    lam = alpha * len(a)
    if a.shape[1] <= a.shape[0]:
        w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y - y_mu))
    else:
        w = a.T @ np.linalg.solve(a @ a.T + lam * np.eye(a.shape[0]), y - y_mu)
    return lambda x_new: ((np.asarray(x_new, np.float64) - mu) / sd) @ w + y_mu


def ridge_r2(x: np.ndarray, y: np.ndarray, train: np.ndarray, alpha: float = 10.0) -> float:
    """Held-out R^2 of a ridge probe fit on the rows where `train` is True, scored on the others."""
    train = np.asarray(train, bool)
    predict = ridge_fit(x[train], y[train], alpha)
    return r2(predict(x[~train]), np.asarray(y)[~train])
