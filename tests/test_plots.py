import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from idl_utils.plots import plot_bars  # noqa: E402

ROWS = [{"split": "10/90", "model": "kit", "mean": 0.98, "std": 0.01},
        {"split": "10/90", "model": "course", "mean": 0.05, "std": 0.0},
        {"split": "5/95", "model": "kit", "mean": 0.70, "std": 0.04}]


def _bars(fig):
    return [c for c in fig.axes[0].containers if isinstance(c, matplotlib.container.BarContainer)]


def test_bars_get_error_bars_of_plus_minus_the_spread_column():
    fig = plot_bars(ROWS, x="split", y="mean", hue="model", title="t", err="std")
    kit, course = _bars(fig)
    assert [b.get_height() for b in kit] == [0.98, 0.70]
    segments = kit.errorbar.lines[2][0].get_segments()
    lengths = sorted(round(float(seg[1][1] - seg[0][1]), 6) for seg in segments)
    assert lengths == [0.02, 0.08]  # +-0.01 and +-0.04 around the means
    # the course has no 5/95 row: an empty (NaN) bar, not a crash or a made-up value
    assert np.isnan(course[1].get_height())


def test_lengths_draw_the_mean_over_seeds_with_a_bar_from_lowest_to_highest():
    from idl_utils.plots import plot_lengths

    rows = [{"split": "5/95", "digits": d, "exact_match": v}
            for d, vs in ((3, (1.0, 0.98)), (100, (0.9, 0.8, 0.7))) for v in vs]
    line = plot_lengths(rows, title="t").axes[0].lines[0]
    assert line.get_ydata().tolist() == pytest.approx([0.99, 0.8])
    assert line.get_xdata().tolist() == [0, 1]


def test_without_a_spread_column_there_are_no_error_bars():
    fig = plot_bars(ROWS, x="split", y="mean", hue="model", title="t")
    assert all(c.errorbar is None for c in _bars(fig))


# ----------------------------------------------------------------- layout: every figure function
def _reports_and_split():
    from idl_utils.error_analysis import error_report
    from idl_utils.queries import make_queries, split_queries

    rng = np.random.default_rng(0)
    split = split_queries(make_queries(2), 0.05, 0, val_fraction=0.1)
    noisy = split.test.answers.copy()
    wrong = rng.random(len(noisy)) < 0.3
    noisy[wrong] = rng.choice(split.test.answers, int(wrong.sum()))
    reports = {"course 50/50": error_report(split.test, noisy),
               "kit 50/50": error_report(split.test, split.test.answers),
               "kit 5/95": error_report(split.test, noisy)}
    return reports, split, noisy


def _history(epochs):
    return {"loss": list(np.exp(-np.arange(epochs) / 10) + 0.01),
            "val_exact": list(1 - np.exp(-np.arange(epochs) / 8))}


def _gan_history(epochs):
    t = np.arange(epochs)
    return {"d_loss": list(1.2 - 0.02 * t), "g_loss": list(0.8 + 0.05 * t),
            "d_real_prob": list(0.6 + 0.01 * t), "d_fake_prob": list(0.4 - 0.01 * t)}


def _image_files():
    """Two small PNGs in a temporary folder, as the ablation's grids and GANMonitor write them."""
    import tempfile
    from pathlib import Path

    import matplotlib.pyplot as plt

    folder = Path(tempfile.mkdtemp())
    paths = []
    for i in range(2):
        paths.append(folder / f"grid_{i}.png")
        plt.imsave(paths[-1], np.full((20, 60, 3), 0.3 * i, "float32"))
    return paths


def _figures():
    from idl_utils.error_analysis import error_grid
    from idl_utils.image_data import OPENMOJI_LABELS, plot_image_rows
    from idl_utils.plots import (
        plot_answer_examples,
        plot_autoencoder_losses,
        plot_bars,
        plot_error_categories,
        plot_error_heatmaps,
        plot_gan_training,
        plot_glyph_rows,
        plot_image_files,
        plot_learning_curves,
        plot_lengths,
        plot_per_position,
    )

    reports, split, noisy = _reports_and_split()
    five_splits = [{"split": s, "model": m, "exact_match_mean": v, "exact_match_std": 0.004}
                   for s in ("50/50", "25/75", "10/90", "5/95", "1/99")
                   for m, v in (("course", 0.991), ("kit", 1.0), ("column", 0.997))]
    return {
        "learning curves": plot_learning_curves({"course baseline": _history(76), "kit": _history(20)}),
        "relative loss": plot_learning_curves({"mse, 1 layer": _history(40)}, relative_loss=True,
                                              loss="loss", loss_label="pixel loss"),
        "error categories": plot_error_categories(reports),
        "error heatmaps": plot_error_heatmaps({f"{m} '{o}'": error_grid(split.test, noisy, o)
                                               for m in ("course 50/50", "kit 5/95") for o in "+-"}),
        "per position": plot_per_position(reports),
        "splits": plot_bars(five_splits, x="split", y="exact_match_mean", hue="model",
                            err="exact_match_std", title="Held-out exact match", ylabel="exact match",
                            ylim=(0, 1), percent=True),
        "lengths": plot_lengths([{"split": s, "seed": seed, "digits": d, "exact_match": 1 - d / 1e4 * seed}
                                 for s in ("5/95", "1/99") for seed in (1, 2, 3)
                                 for d in (2, 3, 5, 10, 20, 50, 100)],
                                title="Exact match by length"),
        "depth": plot_bars([{"encoder_layers": n, "model": m, "exact_match": 0.98}
                            for n in (1, 2) for m in ("course", "kit")],
                           x="encoder_layers", y="exact_match", hue="model", title="Depth", ylim=(0, 1)),
        "autoencoder losses": plot_autoencoder_losses(
            {"loss": [300.0, 250.0, 240.0]},
            {"reconstruction_loss": [2100.0, 1900.0, 1850.0], "kl_loss": [12.0, 25.0, 24.0]}, beta=1.0),
        "gan training": plot_gan_training(_gan_history(20)),
        "gan training, one epoch": plot_gan_training(_gan_history(1)),
        "answer examples": plot_answer_examples(
            {"true answer (MNIST test digits)": np.random.default_rng(0).random((4, 3, 28, 28)),
             "generated, binary_crossentropy": np.random.default_rng(1).random((4, 3, 28, 28))},
            ["81+24", "41-89", "0+0", "99-99"]),
        "glyph rows": plot_glyph_rows(np.random.default_rng(2).random((3, 5, 28, 28)),
                                      ["81+24 = 105, read '104'", "'41-89'", "'7+7'"]),
        "image files": plot_image_files([list(zip(("base: all emoji", "base: faces"), _image_files(),
                                                  strict=True))] * 2),
        # notebook 01's conditional GAN by group: the longest group names as row labels
        "image rows": plot_image_rows({name: np.random.default_rng(3).random((12, 32, 32, 3))
                                       for name in OPENMOJI_LABELS},
                                      title="Conditional GAN: one row per Unicode group, the same noise "
                                      "down each column"),
    }


@pytest.mark.parametrize("name", list(_figures()))
def test_every_figure_function_passes_the_layout_check(name):
    from idl_utils.plots import layout_problems

    assert layout_problems(_figures()[name]) == []


def test_the_layout_check_finds_overlaps_missing_labels_variable_names_and_covered_data():
    import matplotlib.pyplot as plt

    from idl_utils.plots import layout_problems

    fig, (left, right) = plt.subplots(1, 2, figsize=(4, 2))
    left.plot([0, 1], [0, 1], label="a line")
    left.legend(loc="center")                       # on the data
    left.set_xlabel("exact_match")                  # a variable name
    left.text(0.5, 0.5, "value 0.990")
    left.text(0.52, 0.5, "value 1.000")             # on top of the other value
    right.set_ylabel("a long label that runs into the left panel " * 2)
    problems = "\n".join(layout_problems(fig))
    for expected in ("overlaps axes 0 text", "has no y label", "is a variable name",
                     "the legend covers the line 'a line'", "is drawn over axes 0"):
        assert expected in problems, problems


def test_image_files_are_drawn_in_their_rows_with_their_titles():
    from idl_utils.plots import plot_image_files

    first, second = _image_files()
    fig = plot_image_files([[("a", first), ("b", second)], [("c", second)]])
    titles = [[ax.get_title() for ax in fig.axes[i * 2: i * 2 + 2]] for i in range(2)]
    assert titles == [["a", "b"], ["c", ""]]                 # a short row leaves an empty panel
    assert fig.axes[1].images[0].get_array().mean() > fig.axes[0].images[0].get_array().mean()


def test_the_gan_and_autoencoder_panels_say_what_their_y_axes_measure():
    from idl_utils.plots import plot_autoencoder_losses, plot_gan_training

    gan = plot_gan_training(_gan_history(5))
    assert [ax.get_ylabel() for ax in gan.axes] == ["loss (batch mean)", "probability"]
    assert gan.axes[1].get_ylim() == (0, 1)
    vae = {"reconstruction_loss": [9.0, 8.0], "kl_loss": [1.0, 2.0]}
    ae = plot_autoencoder_losses({"loss": [3.0, 2.0]}, vae, beta=0.5)
    assert len(ae.axes) == 3 and "beta=0.5" in ae.axes[2].get_title()
    assert ae.axes[2].lines[0].get_ydata().tolist() == [1.0, 2.0]
    assert [t.get_text() for t in plot_gan_training(_gan_history(1)).axes[0].get_xticklabels()] == ["1"]


def test_answer_examples_put_each_source_in_its_column_and_refuse_mismatched_rows():
    from idl_utils.plots import plot_answer_examples

    real, fake = np.zeros((2, 3, 28, 28)), np.ones((2, 3, 28, 28))
    fig = plot_answer_examples({"real": real, "generated": fake}, ["1+1", "9-3"])
    assert [ax.get_title() for ax in fig.axes[:4:2]] == ["real", ""]  # titles on the top row only
    assert [ax.get_title() for ax in fig.axes[:2]] == ["real", "generated"]
    assert np.nanmax(fig.axes[1].images[0].get_array()) == 1.0  # the generated column's ink
    assert [t.get_text() for t in fig.axes[0].texts] == ["1+1"]
    with pytest.raises(ValueError, match="has 2 examples for 3 labels"):
        plot_answer_examples({"real": real}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="at least one example"):
        plot_answer_examples({}, [])
