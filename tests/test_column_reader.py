"""The column reader: glyph probabilities parsed into columns, one set of weights for 2 and 3
digits, recipes and their cache, and errors that say what to do."""

import numpy as np
import pytest

from idl_utils.cache import config_key
from idl_utils.column_model import SUM_STEPS, ColumnDigits, column_layer
from idl_utils.column_reader import (
    GLYPH_CNNS,
    ColumnQueryImages,
    GlyphColumns,
    build_column_reader,
    glyph_classifier,
    pretrain_glyph_classifier,
    widen_column_reader,
)
from idl_utils.glyphs import GlyphBank
from idl_utils.judge import glyph_dataset
from idl_utils.queries import (
    VOCAB,
    format_queries,
    make_queries,
    queries_from_strings,
    split_queries,
    text_to_indices,
)
from idl_utils.reading import (
    ColumnReaderRecipe,
    column_reader_key,
    column_reader_row,
    trained_column_reader,
)
from idl_utils.seq_models import TrainConfig, predict_answers

# fixed images (redraw=False) spare the end-to-end stage a streamed dataset: the test stays fast
TINY = ColumnReaderRecipe(features=8, augment=False, pretrain_epochs=1, restarts=1, column_epochs=1,
                          redraw=False,
                          finetune=TrainConfig(epochs=1, batch_size=32, verbose=0))


def _three_digit_queries(n, seed):
    """``n`` random 3-digit queries, operands of 1, 2 and 3 digits alike (every layout), without
    building all 2,000,000."""
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(0, 10 ** rng.integers(1, 4, n)) for _ in range(2))
    return format_queries(a, rng.choice(["+", "-"], n), b, 3)


def _one_hot_glyphs(qs):
    return np.eye(len(VOCAB), dtype=np.float32)[text_to_indices(qs.queries, qs.query_length)]


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_sure_glyphs_give_exactly_the_column_models_inputs(digits):
    # left-aligned queries of every shape: '5+7  ', '99-0 ', '0-99 ', '123+4  ', ...
    qs = make_queries(digits) if digits < 3 else _three_digit_queries(1000, 0)
    want = ColumnDigits().encode_inputs(qs)
    for hard, training in ((True, False), (False, False), (True, True)):
        got = np.asarray(GlyphColumns(digits, hard_inference=hard)(_one_hot_glyphs(qs),
                                                                  training=training))
        assert got.shape == want.shape == (len(qs), digits + 1, 23)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_unsure_glyphs_are_expected_values_in_training_and_most_likely_symbols_when_answering():
    qs = queries_from_strings(["48-7"], 2)  # a 4 that might be a 9, a '-' that might be a '+'
    probs = _one_hot_glyphs(qs)
    probs[0, 0, [4, 9]] = 0.6, 0.4
    probs[0, 2, [VOCAB.index("-"), VOCAB.index("+")]] = 0.7, 0.3
    soft = np.asarray(GlyphColumns(2, hard_inference=False)(probs))
    assert soft[0, 1, 0] == pytest.approx((0.6 * 4 + 0.4 * 9) / 9, abs=1e-5)  # tens of a
    assert np.allclose(soft[0, 1, 3:13][[4, 9]], [0.6, 0.4], atol=1e-5)  # its soft one-hot
    assert np.allclose(soft[0, :, 2], -0.4, atol=1e-5)  # p('+') - p('-') over their sum
    hard = np.asarray(GlyphColumns(2)(probs))
    np.testing.assert_allclose(hard, ColumnDigits().encode_inputs(qs), atol=1e-6)


def _exact_cell(reader):
    """Write the column algorithm into the reader's cell by hand: the sum a + carry +/- b, its
    last digit, a carry of +1 from 10 up and -1 below 0, and "a < b" from the first column
    from the top whose digits differ."""
    centres = (np.arange(len(SUM_STEPS) + 1) - 60) / 2  # the sum each interval of the table holds
    rows = np.arange(20)
    digit = np.zeros((20, 10), np.float32)
    digit[rows[::2], (rows[::2] // 2) % 10] = 20.0
    carry = np.where(centres >= 9.75, 3.0, np.where(centres <= -0.75, -3.0, 0.0))[:, None]
    values = {"column_sum_0/kernel": np.ones((2, 1)), "column_sum_0/bias": np.zeros(1),
              "digit_0/kernel": digit, "digit_0/bias": np.zeros(10),
              "carry_0/kernel": carry, "carry_0/bias": np.zeros(1), "compare/kernel": np.ones((1, 1)),
              "sign/kernel": np.full((1, 1), -5.0), "sign/bias": np.full(1, -1.0)}
    for weight in column_layer(reader).weights:
        weight.assign(values["/".join(weight.path.split("/")[-2:])].astype(np.float32))


def _easy_bank():
    """Digits a CNN learns in seconds: a bright square at one of ten places, a little jitter."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20).astype(np.uint8)
    images = np.zeros((len(labels), 28, 28), np.uint8)
    for i, d in enumerate(labels):
        y, x = 3 + 14 * (d // 5) + rng.integers(0, 3), 2 + 5 * (d % 5) + rng.integers(0, 2)
        images[i, y:y + 8, x:x + 4] = 255
    return GlyphBank(images, labels, "squares")


@pytest.mark.parametrize("cnn", GLYPH_CNNS)
def test_one_set_of_weights_reads_2_and_3_digit_queries(cnn):
    bank = _easy_bank()
    reader = build_column_reader(2, features=16, augment=False, seed=0, cnn=cnn)
    glyphs, labels = glyph_dataset(bank, n_per_symbol=60, seed=0)
    classifier = glyph_classifier(reader)
    pretrain_glyph_classifier(classifier, glyphs, labels, epochs=6, batch_size=32, verbose=0)
    _exact_cell(reader)
    rep = ColumnQueryImages(bank, seed=0)
    two = make_queries(2).sample(300, 1)
    assert reader.output_shape == (None, 4, 13)
    assert np.mean(predict_answers(reader, rep, two) == two.answers) > 0.97
    wide = widen_column_reader(reader, 3)
    assert wide.input_shape == (None, 7, 28, 28) and wide.output_shape == (None, 5, 13)
    assert glyph_classifier(wide) is classifier  # the very same glyph weights, not a copy
    for old, new in zip(column_layer(reader).weights, column_layer(wide).weights, strict=True):
        assert np.array_equal(old.numpy(), new.numpy())
    three = _three_digit_queries(300, 1)
    assert np.mean(predict_answers(wide, rep, three) == three.answers) > 0.95
    with pytest.raises(ValueError, match="expects inputs"):  # a 2-digit reader shown 3-digit images
        predict_answers(reader, rep, three)


def test_a_trained_reader_is_cached_under_its_recipe_and_scores_a_split(bank, tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    split = split_queries(make_queries(2).sample(120, 0), 0.5, 0, val_fraction=0.2)
    reader, info = trained_column_reader(TINY, split, bank, mode="honest", mnist_source="random")
    assert info["cached"] is False and info["pretrain_seconds"] > 0 and info["column_seconds"] > 0
    assert info["column_stage"]["epochs_run"] == 1 and 0 <= info["column_val_exact"] <= 1
    again, info2 = trained_column_reader(TINY, split, bank, mode="honest", mnist_source="random")
    assert info2["cached"] is True and info2["seconds"] == info["seconds"]
    for a, b in zip(reader.get_weights(), again.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["column_reader_2digit",
                                                                      "glyph_classifier"]
    row = column_reader_row(again, split, bank, record=info2)
    assert row["split"] == "50/50" and row["train_queries"] == len(split.train)
    assert 0 <= row["exact_match"] <= 1 and row["stopped"].startswith("fixed 1 epochs")


def test_every_setting_of_a_column_reader_is_in_its_cache_key(bank):
    split = split_queries(make_queries(2).sample(200, 0), 0.5, 0)
    key = column_reader_key(TINY, split, bank, mode="honest", mnist_source="random", seed=0)
    for change in ({"features": 16}, {"augment": True}, {"pretrain_epochs": 2}, {"restarts": 2},
                   {"column_epochs": 3}, {"redraw": True}, {"digits": 3}, {"cnn": "bn"},
                   {"finetune": TrainConfig(epochs=2, streaming=True)}):
        other = column_reader_key(TINY.with_(**change), split, bank, mode="honest",
                                  mnist_source="random", seed=0)
        assert config_key(other) != config_key(key), change
    for change in ({"mode": "course_mixed"}, {"mnist_source": "keras"}, {"seed": 1}):
        other = column_reader_key(TINY, split, bank, **{"mode": "honest", "mnist_source": "random",
                                                        "seed": 0, **change})
        assert config_key(other) != config_key(key), change


def test_bad_inputs_are_refused_with_what_to_do(bank):
    split = split_queries(make_queries(2).sample(100, 0), 0.5, 0)
    with pytest.raises(ValueError, match="streaming=True"):
        trained_column_reader(TINY.with_(redraw=True), split, bank, mode="honest", mnist_source="random")
    with pytest.raises(ValueError, match="digits must be one of"):
        build_column_reader(4)
    with pytest.raises(ValueError, match="unknown glyph classifier cnn='resnet'; accepted: course, bn"):
        build_column_reader(2, cnn="resnet")
    with pytest.raises(ValueError, match="unknown column model setting"):
        build_column_reader(2, width=3)
    with pytest.raises(ValueError, match=r"reads glyph probabilities \(n, 5, 13\)"):
        GlyphColumns(2)(np.zeros((1, 7, 13), np.float32))
    with pytest.raises(ValueError, match="cannot be widened"):
        widen_column_reader(build_column_reader(2, features=4, shared=False), 3)
    from idl_utils.column_model import build_column_model

    with pytest.raises(ValueError, match="not a column reader"):
        widen_column_reader(build_column_model(2), 3)
