"""Figures for the notebooks: learning curves, mistake categories, error maps, bar charts; and
:func:`layout_problems`, the check every figure function is tested with (no overlapping or
clipped text, a label on every axis, legends off the data)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .error_analysis import CATEGORIES, ErrorReport


def _legend_beside(ax) -> None:
    """The legend to the right of the axes, never on the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)


def _humane(name: str) -> str:
    """A column name as an axis label: ``'encoder_layers'`` -> ``'encoder layers'``."""
    return name.replace("_", " ")


def plot_learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], *,
                         loss: str = "loss", loss_label: str = "training loss (cross-entropy)",
                         score: str = "val_exact", score_label: str = "validation exact match",
                         relative_loss: bool = False):
    """Two panels, one line per model and epoch: the training ``loss`` (log scale; divided by
    its first epoch's value when ``relative_loss``) and the validation ``score`` (a fraction,
    drawn in %). ``histories``: model name -> per-epoch history (e.g. a training record's)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, hist in histories.items():
        values = np.asarray(hist[loss], dtype=float)
        if relative_loss:
            values = values / values[0]
        axes[0].plot(np.arange(1, len(values) + 1), values, label=name)
        axes[1].plot(np.arange(1, len(hist[score]) + 1), hist[score], label=name)
    ylabel = f"{loss_label}, relative to epoch 1" if relative_loss else loss_label
    axes[0].set(title="Training loss", xlabel="epoch", ylabel=ylabel, yscale="log")
    axes[1].set(title="Validation", xlabel="epoch", ylabel=score_label, ylim=(0, 1.01))
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    _legend_beside(axes[1])
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
        bars = ax.bar(x + i * width, counts, width, label=f"{name} ({report.n_wrong:,} wrong)")
        ax.bar_label(bars, fontsize=7, rotation=90, padding=2)
    ax.set_xticks(x + width * (len(reports) - 1) / 2, CATEGORIES)
    ax.set(xlabel="mistake category", ylabel="wrong test answers", title="What kind of mistakes?")
    ax.margins(y=0.25)  # room above the tallest bar for its label
    _legend_beside(ax)
    fig.tight_layout()
    return fig


def plot_error_heatmaps(grids: Mapping[str, np.ndarray], *, digits: int = 2):
    """Every test query of the operand grid, one panel per (model, operator): right, wrong, or
    white where the query was a training query (not tested). Aggregated grids (``bins`` in
    :func:`~idl_utils.error_analysis.error_grid`) hold error *rates* and get a colour bar."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, len(grids), figsize=(3.3 * len(grids) + 1.2, 3.6), squeeze=False,
                             sharey=True, layout="constrained")
    size = 10**digits
    values = np.concatenate([np.ravel(g) for g in grids.values()])
    binary = bool(np.isin(values[np.isfinite(values)], (0.0, 1.0)).all())
    cmap = (ListedColormap(["#2b2d6e", "#f5d000"]) if binary else plt.get_cmap("viridis"))
    cmap = cmap.with_extremes(bad="white")
    for i, (ax, (name, grid)) in enumerate(zip(axes[0], grids.items(), strict=True)):
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, origin="upper",
                          extent=(0, size, size, 0), interpolation="nearest")
        ax.set(title=name, xlabel="second operand b")
        if i == 0:
            ax.set_ylabel("first operand a")
    if binary:
        keys = [Patch(color=cmap(0.0), label="right"), Patch(color=cmap(1.0), label="wrong"),
                Patch(facecolor="white", edgecolor="grey", label="training query (not tested)")]
        fig.legend(handles=keys, loc="outside right center", frameon=False, fontsize=8)
    else:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="error rate")
    return fig


def plot_per_position(reports: Mapping[str, ErrorReport]):
    """Character error rate at each answer position (left to right, padding included)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3))
    for name, report in reports.items():
        pos = np.arange(1, len(report.per_position) + 1)
        ax.plot(pos, report.per_position, marker="o", label=name)
    ax.set(xlabel="answer character position", ylabel="error rate", title="Where in the answer?",
           xticks=np.arange(1, len(next(iter(reports.values())).per_position) + 1))
    _legend_beside(ax)
    fig.tight_layout()
    return fig


def plot_bars(rows: Sequence[Mapping[str, Any]], *, x: str, y: str, hue: str, title: str,
              ylabel: str | None = None, xlabel: str | None = None,
              ylim: tuple[float, float] | None = None, err: str | None = None,
              percent: bool = False):
    """Grouped bar chart from table rows (e.g. accuracy per split, per model), each bar labelled
    with its value (in % when ``percent``: the values are fractions). ``err``: the column
    holding each bar's spread (e.g. a standard deviation over seeds), drawn as an error bar of
    +- that much; rows without it, or with 0, get none. Axis labels default to the column
    names in words."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    xs = list(dict.fromkeys(r[x] for r in rows))
    hues = list(dict.fromkeys(r[hue] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(hues)
    for i, h in enumerate(hues):
        found = [next((r for r in rows if r[x] == xv and r[hue] == h), None) for xv in xs]
        vals = [np.nan if r is None else r[y] for r in found]
        spread = None
        if err is not None:
            spread = [0.0 if r is None else float(r.get(err) or 0.0) for r in found]
        bars = ax.bar(np.arange(len(xs)) + i * width, vals, width, label=str(h), yerr=spread,
                      capsize=3 if spread else 0)
        labels = ["" if not np.isfinite(v) else (f"{v:.1%}" if percent else f"{v:.3g}") for v in vals]
        ax.bar_label(bars, labels=labels, fontsize=7, rotation=90, padding=3)
    ax.set_xticks(np.arange(len(xs)) + width * (len(hues) - 1) / 2, [str(v) for v in xs])
    ax.set(title=title, ylabel=ylabel or _humane(y), xlabel=xlabel or _humane(x))
    if ylim:
        ax.set_ylim(ylim[0], ylim[1] * 1.18)  # headroom for the value labels above the bars
        ax.set_yticks([t for t in ax.get_yticks() if ylim[0] <= t <= ylim[1]])
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _legend_beside(ax)
    fig.tight_layout()
    return fig


def plot_lengths(rows: Sequence[Mapping[str, Any]], *, title: str,
                 hue: str = "split", ylabel: str = "exact match"):
    """Exact match against the number of digits per operand, one line per ``hue`` (e.g. the
    training split): the mean over the rows of each length (e.g. seeds) with a bar from the
    lowest to the highest. ``rows``: ``{"digits", "exact_match", hue}`` (e.g.
    :func:`~idl_utils.long_arithmetic.score_length` rows with a split). The lengths are
    spaced evenly (2, 3, 5, ... 100 are labelled, not drawn to scale)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    lengths = sorted({int(r["digits"]) for r in rows})
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for name in dict.fromkeys(r[hue] for r in rows):
        xs, means, low, high = [], [], [], []
        for i, d in enumerate(lengths):
            values = [r["exact_match"] for r in rows if r[hue] == name and int(r["digits"]) == d]
            if values:
                xs.append(i)
                means.append(float(np.mean(values)))
                low.append(means[-1] - min(values))
                high.append(max(values) - means[-1])
        ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=3, label=str(name))
    ax.set_xticks(range(len(lengths)), [str(d) for d in lengths])
    ax.set(title=title, xlabel="digits per operand", ylabel=ylabel)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _legend_beside(ax)
    fig.tight_layout()
    return fig


def _drawn_tick_labels(axis) -> list[Any]:
    """The tick labels Matplotlib actually draws: visible, inside the axis' view interval."""
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    return [tick.label1 for tick in axis.get_major_ticks()
            if tick.label1.get_visible() and low - span <= tick.get_loc() <= high + span]


def _along(points: np.ndarray, step: float = 2.0) -> np.ndarray:
    """Display-space points every ``step`` pixels along a polyline (its gaps, NaN, skipped)."""
    out = []
    for p, q in zip(points[:-1], points[1:], strict=True):
        if np.isfinite(p).all() and np.isfinite(q).all():
            n = max(2, int(np.hypot(*(q - p)) / step) + 1)
            out.append(p + np.linspace(0, 1, n)[:, None] * (q - p))
    finite = points[np.isfinite(points).all(axis=1)]
    return np.concatenate(out + [finite]) if out else finite


def _text_boxes(fig, renderer) -> list[tuple[str, Any]]:
    """(description, display-space bounding box) of every visible, non-empty text of ``fig``:
    titles, axis labels, tick labels, annotations and value labels; a legend counts as one box."""
    boxes = []

    def add(kind: str, artist) -> None:
        if artist.get_visible() and artist.get_text().strip():
            boxes.append((f"{kind} {artist.get_text().strip()!r}", artist.get_window_extent(renderer)))

    for text in fig.texts:
        if text is not fig._suptitle:  # a suptitle is one of the figure's texts too: count it once
            add("figure text", text)
    if fig._suptitle is not None:
        add("suptitle", fig._suptitle)
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"axes {i}"
        for t in (ax.title, ax._left_title, ax._right_title):
            add(f"{where} title", t)
        if ax.axison:
            add(f"{where} x label", ax.xaxis.label)
            add(f"{where} y label", ax.yaxis.label)
            for tick in _drawn_tick_labels(ax.xaxis):
                add(f"{where} x tick", tick)
            for tick in _drawn_tick_labels(ax.yaxis):
                add(f"{where} y tick", tick)
        for t in ax.texts:
            add(f"{where} text", t)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            boxes.append((f"{where} legend", legend.get_window_extent(renderer)))
    for legend in fig.legends:
        boxes.append(("figure legend", legend.get_window_extent(renderer)))
    return boxes


def layout_problems(fig, *, tolerance: float = 1.0) -> list[str]:
    """Everything that makes ``fig`` hard to read in a report, as sentences (empty: fine):

    * two texts (titles, axis and tick labels, value labels, legends) that overlap;
    * a text that sticks out of the figure;
    * an axes with visible ticks but no label on that axis (images drawn with the axis off and
      colour bars are exempt; an axis without tick labels, e.g. a shared one, needs none);
    * a legend drawn over the data (a line's points or a bar inside the legend's box).

    ``tolerance`` (pixels) forgives boxes that only touch."""
    import matplotlib.lines
    import matplotlib.patches

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    boxes = _text_boxes(fig, renderer)
    frame = fig.bbox
    for name, box in boxes:
        if (box.x0 < frame.x0 - tolerance or box.y0 < frame.y0 - tolerance
                or box.x1 > frame.x1 + tolerance or box.y1 > frame.y1 + tolerance):
            problems.append(f"{name} sticks out of the figure")
    for i, (name_a, a) in enumerate(boxes):
        for name_b, b in boxes[i + 1:]:
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            if overlap_x > tolerance and overlap_y > tolerance:
                problems.append(f"{name_a} overlaps {name_b}")
    for j, other in enumerate(fig.axes):  # a text of one panel drawn over another panel
        if not other.get_visible() or hasattr(other, "_colorbar"):
            continue
        for name, box in boxes:
            if name.startswith(f"axes {j} ") or not name.startswith("axes "):
                continue
            overlap_x = min(box.x1, other.bbox.x1) - max(box.x0, other.bbox.x0)
            overlap_y = min(box.y1, other.bbox.y1) - max(box.y0, other.bbox.y0)
            if overlap_x > tolerance and overlap_y > tolerance:
                problems.append(f"{name} is drawn over axes {j} ({other.get_title()!r})")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison or hasattr(ax, "_colorbar"):
            continue
        for axis, label in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            has_ticks = any(t.get_text().strip() for t in _drawn_tick_labels(axis))
            text = axis.label.get_text().strip()
            if has_ticks and not text:
                problems.append(f"axes {i} ({ax.get_title()!r}) has no {label} label")
            elif re.fullmatch(r"\w+_\w+", text):
                problems.append(f"axes {i}: the {label} label {text!r} is a variable name, not words")
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        inside = legend.get_window_extent(renderer).contains
        for artist in ax.get_children():
            if isinstance(artist, matplotlib.lines.Line2D) and artist.get_visible():
                points = _along(artist.get_transform().transform(artist.get_xydata()))
                if any(inside(float(px), float(py)) for px, py in points):
                    problems.append(f"axes {i}: the legend covers the line {artist.get_label()!r}")
            elif isinstance(artist, matplotlib.patches.Rectangle) and artist is not ax.patch:
                corners = artist.get_window_extent(renderer)
                if corners.height > 0 and legend.get_window_extent(renderer).overlaps(corners):
                    problems.append(f"axes {i}: the legend covers a bar")
    return sorted(set(problems))


def _whole_epochs(ax, n_epochs: int) -> None:
    """Ticks on whole epochs only (every epoch when there are few)."""
    from matplotlib.ticker import MaxNLocator

    if n_epochs <= 12:
        ax.set_xticks(np.arange(1, n_epochs + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_autoencoder_losses(cae_history: Mapping[str, Sequence[float]],
                            vae_history: Mapping[str, Sequence[float]], *, beta: float = 1.0):
    """Notebook 01's autoencoder curves, one panel per term and epoch: the CAE's reconstruction
    loss, then the VAE's reconstruction and KL terms (separate panels: their scales differ by
    orders of magnitude). Histories as :func:`idl_utils.generative.train_generative` records them."""
    import matplotlib.pyplot as plt

    panels = ((cae_history["loss"], "CAE: reconstruction", "cross-entropy per image", "C0"),
              (vae_history["reconstruction_loss"], "VAE: reconstruction term", "loss per image", "C0"),
              (vae_history["kl_loss"], f"VAE: KL term (weighted by beta={beta:g})", "KL (nats per image)",
               "C1"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.2))
    for ax, (values, title, ylabel, color) in zip(axes, panels, strict=True):
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", color=color)
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        _whole_epochs(ax, len(values))
    fig.tight_layout()
    return fig


def plot_gan_training(history: Mapping[str, Sequence[float]]):
    """A GAN's training, per epoch: both players' losses (left), and the discriminator's mean
    "real" probability on real and on generated images (right, 0 to 1)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
    epochs = np.arange(1, len(history["d_loss"]) + 1)
    axes[0].plot(epochs, history["d_loss"], marker="o", label="discriminator")
    axes[0].plot(epochs, history["g_loss"], marker="o", label="generator")
    axes[0].set(title="GAN losses", xlabel="epoch", ylabel="loss (batch mean)")
    axes[1].plot(epochs, history["d_real_prob"], marker="o", label="D(real)")
    axes[1].plot(epochs, history["d_fake_prob"], marker="o", label="D(generated)")
    axes[1].set(title="Discriminator's mean 'real' probability", xlabel="epoch",
                ylabel="probability", ylim=(0, 1))
    for ax in axes:
        _legend_beside(ax)
        _whole_epochs(ax, len(epochs))
    fig.tight_layout()
    return fig


def plot_image_files(rows: Sequence[Sequence[tuple[str, Any]]], *, width: float = 12.0,
                     row_height: float = 2.2):
    """Saved images (PNG paths) as a grid of panels, each with its title: ``rows`` is a list of
    rows, each a list of ``(title, path)``; axes off, as befits pictures."""
    import matplotlib.pyplot as plt

    ncols = max((len(row) for row in rows), default=1)
    fig, axes = plt.subplots(max(len(rows), 1), ncols, figsize=(width, row_height * max(len(rows), 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax_row, row in zip(axes, rows, strict=False):
        for ax, (title, path) in zip(ax_row, row, strict=False):
            ax.imshow(plt.imread(path))
            ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_answer_examples(columns: Mapping[str, np.ndarray], labels: Sequence[str], *,
                         panel_width: float = 3.0, row_height: float = 1.05):
    """Answer glyphs side by side: one row per example (labelled with ``labels``, e.g. its
    query), one column per source in ``columns`` (title -> ``(n, L, 28, 28)`` glyphs for the
    same ``n`` examples, e.g. real handwriting and each generator's)."""
    import matplotlib.pyplot as plt

    from .glyphs import glyph_grid

    n = len(labels)
    if n == 0 or not columns:
        raise ValueError("need at least one example and one column of answer glyphs")
    for title, images in columns.items():
        if len(images) != n:
            raise ValueError(f"column {title!r} has {len(images)} examples for {n} labels")
    fig, axes = plt.subplots(n, len(columns), figsize=(panel_width * len(columns) + 0.8, row_height * n),
                             squeeze=False)
    for c, (title, images) in enumerate(columns.items()):
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(glyph_grid(images[r]), vmin=0, vmax=1, cmap="gray_r")
            ax.axis("off")
            if r == 0:
                ax.set_title(title, fontsize=9)
            if c == 0:
                ax.text(-0.06, 0.5, labels[r], transform=ax.transAxes, ha="right", va="center",
                        fontsize=10, family="monospace")
    fig.tight_layout()
    return fig


def plot_glyph_rows(images: np.ndarray, titles: Sequence[str], *, ncols: int = 2,
                    panel_width: float = 4.5, row_height: float = 1.15):
    """Glyph sequences (e.g. query images ``(n, L, 28, 28)``) in a grid of ``ncols`` columns,
    each panel titled (its query, or what a model read), axes off as befits pictures."""
    import matplotlib.pyplot as plt

    from .glyphs import glyph_grid

    if len(images) != len(titles) or len(images) == 0:
        raise ValueError(f"need one title per glyph sequence, got {len(titles)} titles for "
                         f"{len(images)} sequences")
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_width * ncols, row_height * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles, strict=False):
        ax.imshow(glyph_grid(img), vmin=0, vmax=1, cmap="gray_r")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
