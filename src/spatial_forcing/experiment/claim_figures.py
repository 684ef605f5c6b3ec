"""The report's PNG figures, one kind per function: per-variant bars, success vs steps, success vs data
fraction, the adaptive mix's layer weights over steps."""

from __future__ import annotations

from pathlib import Path

from spatial_forcing.utils.atomic import save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bars(rows: list[dict], ylabel: str, title: str, path: str | Path) -> None:
    """Mean +- std per row, one dot per seed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.6))
    for i, row in enumerate(rows):
        if row["mean"] is not None:
            ax.bar(i, row["mean"], yerr=row["std"] or 0.0, color=plt.get_cmap("tab10")(i % 10), alpha=0.7,
                   capsize=4)
            dots = list(row["per_seed"].values())
            ax.scatter([i + (j - (len(dots) - 1) / 2) * 0.08 for j in range(len(dots))], dots, color="k", s=12,
                       zorder=3)
    ax.set_xticks(range(len(rows)), [r["label"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def curves(bands: dict[str, dict | None], target: float | None, title: str, path: str | Path) -> None:
    """Seed-mean success vs training steps with the min-max band; the reference's final success dotted."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (name, band) in enumerate(bands.items()):
        if band:
            color = plt.get_cmap("tab10")(i % 10)
            ax.plot(band["steps"], band["mean"], marker="o", ms=3, color=color, label=f"{name} ({band['seeds']})")
            ax.fill_between(band["steps"], band["min"], band["max"], color=color, alpha=0.2)
    if target is not None:
        ax.axhline(target, color="gray", ls=":", lw=1, label="reference's final")
    ax.set(xlabel="training step", ylabel="success (in-training evaluation)", title=title, ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def fractions(success: dict[str, list[dict]], fractions_: list[float], title: str, path: str | Path) -> None:
    """Final success (mean +- std over seeds) vs the fraction of demonstrations, one line per variant."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, rows in success.items():
        xs = [f for f, r in zip(fractions_, rows) if r["mean"] is not None]
        ax.errorbar(xs, [r["mean"] for r in rows if r["mean"] is not None],
                    yerr=[r["std"] or 0.0 for r in rows if r["mean"] is not None], marker="o", capsize=3,
                    label=name)
    ax.set_xscale("log")
    ax.set_xticks(fractions_, [f"{f:g}" for f in fractions_])
    ax.set(xlabel="fraction of the demonstrations", ylabel="final success", title=title, ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def layer_weights(weights: dict[str, dict[str, dict | None]], title: str, path: str | Path) -> None:
    """The adaptive mix's softmax weight of each layer over steps (seed mean, min-max band)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for variant, layers in weights.items():
        for layer, band in layers.items():
            if band:
                line, = ax.plot(band["steps"], band["mean"], label=f"{variant} layer {layer}")
                ax.fill_between(band["steps"], band["min"], band["max"], color=line.get_color(), alpha=0.2)
    ax.set(xlabel="training step", ylabel="softmax weight", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure(fig, path)
