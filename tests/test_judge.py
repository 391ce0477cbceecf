"""The judge: its data, a short training run, reading glyphs, clear errors."""

import numpy as np
import pytest

from idl_utils.config import set_seed
from idl_utils.glyphs import BLANK, MINUS, PLUS, GlyphBank
from idl_utils.judge import build_judge, glyph_dataset, judge_accuracy, read_glyphs, read_text, train_judge


def _bank(n_per_class=20, seed=0):
    """Synthetic 'digits': a bar at a class-specific row, easy to learn in one epoch."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class).astype(np.uint8)
    images = (rng.uniform(0, 30, (len(labels), 28, 28))).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 + 2 * c:4 + 2 * c, 4:24] = 255
    return GlyphBank(images, labels, "synthetic")


def test_glyph_dataset_has_all_13_classes():
    x, y = glyph_dataset(_bank(), n_per_symbol=7, seed=0)
    assert x.shape == (200 + 21, 28, 28) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [20] * 10 + [7, 7, 7]
    assert x[y == BLANK].max() <= 0.15 and x[y == PLUS].max() > 0.9 and x[y == MINUS].max() > 0.9


def test_judge_learns_and_reads():
    set_seed(0)
    judge = build_judge(seed=0)
    assert judge.output_shape == (None, 13)
    info = train_judge(judge, _bank(), seed=0, epochs=4, n_per_symbol=40, verbose=0)
    assert info["history"]["accuracy"][-1] > info["history"]["accuracy"][0]
    assert info["epochs_run"] == 4 and info["n_train_glyphs"] == 200 + 3 * 40 and info["seconds"] > 0
    scores = judge_accuracy(judge, _bank(seed=1), seed=0, n_per_symbol=20)
    assert scores["all_glyphs"] > 0.5 and set(scores["per_class"]) >= {"0", "+", "-", "blank"}
    seq = np.zeros((2, 3, 28, 28), np.float32)
    assert read_glyphs(judge, seq).shape == (2, 3)
    assert read_text(judge, seq).shape == (2,)


def test_judge_refuses_wrong_shapes():
    judge = build_judge(seed=0)
    with pytest.raises(ValueError, match="28x28"):
        read_glyphs(judge, np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match=r"\(n, L, 28, 28\)"):
        read_text(judge, np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="no glyphs"):
        read_glyphs(judge, np.zeros((0, 28, 28)))
