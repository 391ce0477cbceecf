import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

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


def test_without_a_spread_column_there_are_no_error_bars():
    fig = plot_bars(ROWS, x="split", y="mean", hue="model", title="t")
    assert all(c.errorbar is None for c in _bars(fig))
