"""summary.png: success vs steps (seed mean, min-max band), final success bars with per-seed dots, and for
SF variants the position-only vs residual cosine over steps."""

from __future__ import annotations

from pathlib import Path

from spatial_forcing.utils.atomic import save_figure


def plot_summary(summary: dict, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["variants"])
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    fig, (curves, bars, cos) = plt.subplots(1, 3, figsize=(16, 4.5))

    for name, band in summary["curves"]["success"].items():
        if band:
            curves.plot(band["steps"], band["mean"], marker="o", ms=3, color=colors[name],
                        label=f"{name} ({band['seeds']} seeds)")
            curves.fill_between(band["steps"], band["min"], band["max"], color=colors[name], alpha=0.2)
    target = summary["convergence"].get("target")
    if target is not None:
        curves.axhline(target, color="gray", ls=":", lw=1, label=f"{summary['reference']} final")
    curves.set(title="success during training (eval/success)", xlabel="step", ylabel="success",
               ylim=(-0.02, 1.02))

    for i, name in enumerate(names):
        stat = summary["variants"][name]["success"]
        if stat["mean"] is not None:
            bars.bar(i, stat["mean"], yerr=stat["std"] or 0.0, color=colors[name], alpha=0.7, capsize=4)
            dots = list(stat["per_seed"].values())
            xs = [i + (j - (len(dots) - 1) / 2) * 0.08 for j in range(len(dots))]
            bars.scatter(xs, dots, color="k", s=12, zorder=3)
    bars.set_xticks(range(len(names)), names, rotation=20, ha="right")
    bars.set(title="final success (mean ± std, dots = seeds)", ylim=(-0.02, 1.02))

    for name, keys in summary["curves"]["align"].items():
        for key, style in (("position_only_cos", "--"), ("residual_cos", "-")):
            band = keys.get(key)
            if band:
                cos.plot(band["steps"], band["mean"], ls=style, color=colors[name], label=f"{name} {key}")
    if not summary["curves"]["align"]:
        cos.text(0.5, 0.5, "no Spatial Forcing variant", ha="center", va="center", transform=cos.transAxes)
    cos.set(title="SF targets: position-only (--) vs residual (-) cosine", xlabel="step")

    for ax in (curves, bars, cos):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(f"experiment {summary['name']}")
    save_figure(fig, path)
