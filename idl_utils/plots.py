"""Figures for the sequence notebooks: learning curves, mistake categories, error maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .error_analysis import CATEGORIES, ErrorReport


def plot_learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], *,
                         title: str = "validation exact match"):
    """One line per model: validation exact-match accuracy after every epoch."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, hist in histories.items():
        axes[0].plot(np.arange(1, len(hist["loss"]) + 1), hist["loss"], label=name)
        axes[1].plot(np.arange(1, len(hist["val_exact"]) + 1), hist["val_exact"], label=name)
    axes[0].set(title="training loss", xlabel="epoch", yscale="log")
    axes[1].set(title=title, xlabel="epoch", ylim=(0, 1.01))
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_error_categories(reports: Mapping[str, ErrorReport]):
    """Grouped bars: how many test queries fall in each mistake category, per model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.4))
    width = 0.8 / max(len(reports), 1)
    x = np.arange(len(CATEGORIES))
    for i, (name, report) in enumerate(reports.items()):
        counts = [report.categories[c] for c in CATEGORIES]
        bars = ax.bar(x + i * width, counts, width, label=f"{name} ({report.n_wrong} wrong)")
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x + width * (len(reports) - 1) / 2, CATEGORIES, rotation=15)
    ax.set(ylabel="wrong test answers", title="What kind of mistakes?")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_error_heatmaps(grids: Mapping[str, np.ndarray], *, digits: int = 2):
    """Error rate over the operand grid, one panel per (model, operator). White: training
    queries (not tested); dark: right; yellow: wrong."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids), 3.6), squeeze=False)
    size = 10**digits
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")
    for ax, (name, grid) in zip(axes[0], grids.items(), strict=True):
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, origin="upper",
                       extent=(0, size, size, 0), interpolation="nearest")
        ax.set(title=name, xlabel="second operand b", ylabel="first operand a")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="error rate")
    return fig


def plot_per_position(reports: Mapping[str, ErrorReport]):
    """Character error rate at each answer position (left to right, padding included)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    for name, report in reports.items():
        pos = np.arange(1, len(report.per_position) + 1)
        ax.plot(pos, report.per_position, marker="o", label=name)
    ax.set(xlabel="answer character position", ylabel="error rate", title="Where in the answer?",
           xticks=np.arange(1, len(next(iter(reports.values())).per_position) + 1))
    ax.legend()
    fig.tight_layout()
    return fig


def plot_bars(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, hue: str, title: str,
              ylabel: str | None = None, ylim: tuple[float, float] | None = None,
              err: str | None = None):
    """Grouped bar chart from table rows (e.g. accuracy per split, per model). ``err``: the
    column holding each bar's spread (e.g. a standard deviation over seeds), drawn as an
    error bar of +- that much; rows without it, or with 0, get none."""
    import matplotlib.pyplot as plt

    xs = list(dict.fromkeys(r[x] for r in rows))
    hues = list(dict.fromkeys(r[hue] for r in rows))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(hues)
    for i, h in enumerate(hues):
        found = [next((r for r in rows if r[x] == xv and r[hue] == h), None) for xv in xs]
        vals = [np.nan if r is None else r[y] for r in found]
        spread = None
        if err is not None:
            spread = [0.0 if r is None else float(r.get(err) or 0.0) for r in found]
        bars = ax.bar(np.arange(len(xs)) + i * width, vals, width, label=str(h), yerr=spread,
                      capsize=3 if spread else 0)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(np.arange(len(xs)) + width * (len(hues) - 1) / 2, [str(v) for v in xs])
    ax.set(title=title, ylabel=ylabel or y, xlabel=x)
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside, never on a bar
    fig.tight_layout()
    return fig
