"""Query image sequences: shapes, classes, reproducibility, honest banks, bad input."""

import numpy as np
import pytest

from idl_utils.glyphs import (
    BLANK,
    MINUS,
    PLUS,
    GlyphBank,
    MnistQueryImages,
    draw_operators,
    glyph_banks,
    glyph_grid,
    hash_keys,
    query_ids,
    render_answers,
    render_queries,
    render_text,
)
from idl_utils.mnist import MnistData
from idl_utils.queries import make_queries, queries_from_strings


def _fake_mnist(per_class=3, offset=0):
    """Digit images whose pixel value encodes (source, label, copy) so picks can be traced."""
    labels = np.repeat(np.arange(10), per_class).astype(np.uint8)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    images[:, 0, 0] = labels * 10 + offset + 1
    images[:, 0, 1] = np.tile(np.arange(per_class), 10) + 1
    return labels, images


@pytest.fixture(scope="module")
def mnist():
    y_tr, x_tr = _fake_mnist(4, offset=0)
    y_te, x_te = _fake_mnist(2, offset=5)
    return MnistData(x_tr, y_tr, x_te, y_te, "fake")


def test_shapes_for_both_variants(mnist):
    bank = glyph_banks(mnist)["train"]
    qs2 = make_queries(2).subset(np.arange(0, 20000, 997))
    qs3 = make_queries(3).subset(np.arange(0, 2_000_000, 99_991))
    assert render_queries(qs2, bank, seed=0).shape == (len(qs2), 5, 28, 28)
    assert render_queries(qs3, bank, seed=0).shape == (len(qs3), 7, 28, 28)
    ans = render_answers(qs2, bank, seed=0)
    assert ans.shape == (len(qs2), 3, 28, 28) and ans.dtype == np.float32
    assert 0 <= ans.min() and ans.max() <= 1


def test_each_character_gets_its_class(mnist):
    bank = glyph_banks(mnist)["train"]
    qs = queries_from_strings(["81+24", "7-9"], digits=2)
    x = render_queries(qs, bank, seed=3)
    # digit glyphs carry their label in pixel (0, 0): value label*10+1 (0..255 scaled)
    labels = np.rint(x[..., 0, 0] * 255 - 1) // 10
    assert labels[0, [0, 1, 3, 4]].tolist() == [8, 1, 2, 4]
    assert labels[1, [0, 2]].tolist() == [7, 9]
    assert x[1, 3:].max() == 0, "padding is blank"
    assert x[0, 2].max() > 0.9 and x[1, 1].max() > 0.9, "operators are drawn"


def test_same_query_same_images_in_any_batch_or_order(mnist):
    bank = glyph_banks(mnist)["train"]
    qs = make_queries(2).subset(np.arange(100, 140))
    full = render_queries(qs, bank, seed=1)
    part = render_queries(qs.subset(np.arange(39, 9, -3)), bank, seed=1)
    np.testing.assert_array_equal(full[39:9:-3], part)
    assert not np.array_equal(render_queries(qs, bank, seed=2), full), "the seed matters"
    assert not np.array_equal(render_answers(qs, bank, seed=1)[:, 0], full[:, 0]), "answers get other images"


def test_handwriting_varies_between_queries(mnist):
    bank = glyph_banks(mnist)["train"]
    qs = queries_from_strings(["1+1"] * 1 + [f"1+{b}" for b in range(40)], digits=2)
    first = render_queries(qs, bank, seed=0)[:, 0, 0, 1]  # which copy of '1' each query got
    assert len(np.unique(first)) == 4, "all four training copies of '1' get used"


def test_honest_banks_keep_test_handwriting_out_of_training(mnist):
    honest = glyph_banks(mnist, "honest")
    qs = make_queries(2).subset(np.arange(0, 20000, 50))
    src_train = np.rint(render_queries(qs, honest["train"], seed=0)[..., 0, 0] * 255)
    src_test = np.rint(render_queries(qs, honest["test"], seed=0)[..., 0, 0] * 255)
    digit = np.char.isdigit(np.array([list(q) for q in qs.queries]))
    assert ((src_train[digit] - 1) % 10 == 0).all(), "training queries only use training digits"
    assert ((src_test[digit] - 6) % 10 == 0).all(), "test queries only use test digits"
    mixed = glyph_banks(mnist, "course_mixed")
    assert mixed["train"] is mixed["test"] and len(mixed["train"]) == 60
    with pytest.raises(ValueError, match="honest"):
        glyph_banks(mnist, "cheating")


def test_operators_vary_and_stay_in_frame():
    h = hash_keys(0, np.arange(200))
    plus = draw_operators(np.full(200, PLUS), h)
    minus = draw_operators(np.full(200, MINUS), h)
    assert plus.shape == (200, 28, 28) and 0 <= plus.min() and plus.max() <= 1
    assert (plus.sum(axis=(1, 2)) > minus.sum(axis=(1, 2))).all(), "'+' has a second stroke"
    assert len(np.unique(minus.sum(axis=(1, 2)).round(2))) > 150, "random length/thickness"
    assert plus[:, [0, -1]].max() == 0 and plus[:, :, [0, -1]].max() == 0, "a margin like MNIST"
    with pytest.raises(ValueError, match="only draws"):
        draw_operators(np.array([BLANK]), h[:1])


def test_bad_input_is_refused(mnist):
    bank = glyph_banks(mnist)["train"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        render_text(["81*24"], 5, bank, seed=0)
    with pytest.raises(ValueError, match="every digit"):
        GlyphBank(mnist.x_train[:5], mnist.y_train[:5], "too-few")
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        GlyphBank(np.zeros((10, 32, 32), np.uint8), np.arange(10), "wrong-size")
    with pytest.raises(ValueError, match="L, 28, 28"):
        glyph_grid(np.zeros((28, 28)))


def test_representation_matches_the_protocol(mnist):
    rep = MnistQueryImages(glyph_banks(mnist)["train"], seed=0)
    qs = make_queries(2).subset(np.arange(5))
    assert rep.encode_inputs(qs).shape == (5, *rep.input_shape(2))
    y = rep.encode_targets(qs)
    assert y.shape == (5, *rep.output_shape(2))
    assert list(rep.decode(y, 2)) == list(qs.answers)
    assert len(np.unique(query_ids(make_queries(2)))) == 20000


def test_redraw_gives_each_epoch_new_handwriting(mnist):
    from idl_utils.seq_models import QueryBatches

    qs = make_queries(2).subset(np.arange(0, 20000, 50))
    fixed = MnistQueryImages(glyph_banks(mnist)["train"], seed=0)
    redraw = MnistQueryImages(glyph_banks(mnist)["train"], seed=0, redraw=True)
    assert fixed.for_epoch(3) is fixed, "without redraw every epoch sees the same images"
    np.testing.assert_array_equal(redraw.for_epoch(0).encode_inputs(qs), fixed.encode_inputs(qs))
    copies = [redraw.for_epoch(e).encode_inputs(qs)[:, 0, 0, 1] for e in range(4)]
    assert all(not np.array_equal(copies[0], c) for c in copies[1:]), "later epochs draw other copies"
    again = redraw.for_epoch(2).encode_inputs(qs)
    np.testing.assert_array_equal(redraw.for_epoch(2).encode_inputs(qs), again)
    # the training stream asks for the epoch's images; targets (the answers) never change
    batches = QueryBatches(qs, redraw, batch_size=len(qs), shuffle=False)
    x0, y0 = batches[0]
    batches.on_epoch_end()
    x1, y1 = batches[0]
    np.testing.assert_array_equal(x1, redraw.for_epoch(1).encode_inputs(qs))
    assert not np.array_equal(x0, x1)
    np.testing.assert_array_equal(y0, y1)
