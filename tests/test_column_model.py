import keras
import numpy as np
import pytest

from idl_utils.benchmark import make_recipe, train_and_score
from idl_utils.column_model import ColumnDigits, build_column_model, column_recipe
from idl_utils.queries import make_queries, queries_from_strings, split_queries


def test_inputs_line_the_columns_up_ones_first():
    qs = queries_from_strings(["81+24", "7-95"], 2)
    x = ColumnDigits().encode_inputs(qs)
    assert x.shape == (2, 3, 23) and x.dtype == np.float32
    assert np.allclose(x[0, :, 0] * 9, [1, 8, 0]) and np.allclose(x[0, :, 1] * 9, [4, 2, 0])
    assert np.allclose(x[1, :, 0] * 9, [7, 0, 0]) and np.allclose(x[1, :, 1] * 9, [5, 9, 0])
    assert np.allclose(x[:, :, 2], [[1, 1, 1], [-1, -1, -1]])  # the operator, every column
    assert x[1, 1, 3:13].argmax() == 0 and x[1, 1, 13:23].argmax() == 9  # one-hot digits
    # not aligned: the digits as written, so 7 sits under the 9 of 95
    x_text = ColumnDigits(aligned=False).encode_inputs(qs)
    assert np.allclose(x_text[1, :, 0] * 9, [7, 0, 0]) and np.allclose(x_text[1, :, 1] * 9, [9, 5, 0])
    assert ColumnDigits(aligned=False).name != ColumnDigits().name


@pytest.mark.parametrize("digits", [2, 3])
def test_true_answers_decode_to_the_answer_strings(digits):
    qs = make_queries(2) if digits == 2 else queries_from_strings(
        ["999+999", "0-999", "100-1", "5+5", "0+0", "500-500"], 3)
    rep = ColumnDigits()
    assert np.array_equal(rep.decode(rep.encode_targets(qs), digits), qs.answers)


@pytest.mark.parametrize("kwargs", [{}, {"codes": "onehot"}, {"shared": False},
                                    {"sign_pass": False}, {"readout": "mlp"}])
def test_model_shapes_and_probabilities(kwargs):
    qs = queries_from_strings(["81+24", "41-89", "0-0"], 3)
    model = build_column_model(3, **kwargs)
    out = np.asarray(model(ColumnDigits().encode_inputs(qs)))
    assert out.shape == (3, 5, 13)
    assert np.allclose(out.sum(axis=-1), 1.0, atol=1e-5)
    assert np.allclose(out[:, :4, 10:], 0.0)  # digit steps only ever say a digit
    assert np.allclose(out[:, 4, :11], 0.0)  # the sign step says '-' or ' '
    assert out[0, 4, 11] == 0.0  # an addition is never negative


def test_shared_cell_has_the_same_weights_whatever_the_width():
    # one cell for every column: 3-digit operands need no more weights than 2-digit ones
    assert build_column_model(2).count_params() == build_column_model(3).count_params()
    assert build_column_model(2, shared=False).count_params() > build_column_model(2).count_params()


@pytest.mark.parametrize("kwargs, message", [
    ({"digits": 0}, "digits must be a positive integer"),
    ({"digits": True}, "digits must be a positive integer"),
    ({"codes": "thermometer"}, "codes must be one of"),
    ({"readout": "lookup"}, "readout must be one of"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_column_model(**kwargs)


def test_recipe_scales_epochs_with_the_data():
    small, large = column_recipe(2, 180), column_recipe(2, 1800)
    assert small.train.batch_size == 8 and large.train.batch_size == 32
    assert small.train.epochs > large.train.epochs
    assert make_recipe("column", 2, 900).name == "column"


def test_recipe_records_its_restarts_and_model_settings():
    config = column_recipe(2, 180).config()
    assert config["restarts"] == 3 and config["restart_fraction"] == 0.2
    assert config["readout"] == "bins" and config["sign_pass"] is True
    single = column_recipe(2, 180, restarts=1, readout="mlp").config()
    assert "restarts" not in single and single["readout"] == "mlp"
    assert single != config  # a different cache key
    with pytest.raises(ValueError, match="restarts must be a positive integer"):
        column_recipe(2, 180, restarts=0)
    with pytest.raises(ValueError, match="unknown column model setting"):
        column_recipe(2, 180, readuot="bins")


def test_bins_give_every_whole_number_sum_its_own_table_rows():
    """The default read-out is a soft one-hot of the sum's half-unit interval: two different
    whole-number sums share (almost) no table rows, so learning the digit or carry of one
    does not move the other's -- unlike the soft steps, where sums 3 and 15 share every step
    below 3."""
    layer = build_column_model(2).get_layer("column_arithmetic")
    s = np.array([[3.0], [15.0]], dtype=np.float32)
    bins = np.asarray(layer._read(0, s))
    assert np.allclose(bins.sum(axis=1), 1.0, atol=1e-5)
    assert bins[0] @ bins[1] < 1e-3
    steps_layer = build_column_model(2, readout="steps").get_layer("column_arithmetic")
    steps = np.asarray(steps_layer._read(0, s))
    assert steps[0] @ steps[1] > 10


def test_equal_digits_never_decide_the_comparison():
    """The sign pass compares one learned score per digit: whatever the weights, ``a-a`` gets
    the same sign probability as with an undecided comparison (all zeros)."""
    qs = queries_from_strings(["37-37", "90-90", "5-5"], 2)
    x = ColumnDigits().encode_inputs(qs)
    model = build_column_model(2)
    compare = model.get_layer("column_arithmetic").compare
    undecided = np.asarray(model(x))[:, -1]
    compare.set_weights([np.array([[0.8]], dtype=np.float32)])
    np.testing.assert_allclose(np.asarray(model(x))[:, -1], undecided, atol=1e-6)
    # while unequal digits do decide
    y = ColumnDigits().encode_inputs(queries_from_strings(["30-70"], 2))
    assert np.asarray(model(y))[0, -1, 11] != pytest.approx(undecided[0, 11])


def test_a_column_model_clones_with_fresh_weights():
    # restarts copy the model with keras.models.clone_model, which rebuilds the custom layer
    model = build_column_model(2)
    clone = keras.models.clone_model(model)
    assert clone.count_params() == model.count_params()
    digit_weights = [w for w in model.weights if "digit_0" in w.path and "kernel" in w.path][0]
    clone_digit_weights = [w for w in clone.weights if "digit_0" in w.path and "kernel" in w.path][0]
    assert not np.array_equal(np.asarray(digit_weights), np.asarray(clone_digit_weights))


def test_a_short_real_run_beats_chance_on_a_tiny_split():
    # 200 training queries (1/99), 8 epochs (a fraction of the recipe's): always answering the
    # most common answer ('0') would be right on 0.5% of the queries
    split = split_queries(make_queries(2), 0.01, seed=3, val_fraction=0.1)
    # one start: the restarts have their own tests (test_seq_models), this one is about learning
    recipe = make_recipe("column", 2, len(split.train)).with_train(epochs=8, restarts=1, verbose=0)
    run = train_and_score(recipe, split, seed=3)
    assert run.row["model"] == "column" and run.row["split"] == "1/99"
    assert run.row["exact_match"] > 0.05
    assert set(np.strings.str_len(run.predicted)) == {3}


def test_long_queries_encode_like_query_sets_and_answers_decode_at_any_length():
    from idl_utils.long_queries import answers_match, long_queries_from_query_set, random_long_queries

    qs = queries_from_strings(["81+24", "7-95", "0-0", "99+99"], 2)
    rep = ColumnDigits()
    assert np.array_equal(rep.encode_long(long_queries_from_query_set(qs)), rep.encode_inputs(qs))
    long = random_long_queries(300, 100, seed=1)
    x = rep.encode_long(long)
    assert x.shape == (300, 101, 23) and np.all(x[:, -1, :2] == 0)  # room for the last carry
    truth = long.answers()
    # the targets of the true answers, in the model's output layout, decode back to them
    targets = np.eye(13)[np.concatenate([truth.digits, np.where(truth.negative, 11, 12)[:, None]], axis=1)]
    decoded = rep.decode_long(targets)
    assert answers_match(decoded, truth).all()
    assert decoded.strings().tolist() == truth.strings().tolist()
    assert max(len(s) for s in decoded.strings()) >= 100  # nothing cut
    with pytest.raises(ValueError, match="aligned only"):
        ColumnDigits(aligned=False).encode_long(long)


def test_a_widened_model_keeps_every_weight_and_answers_short_queries_alike():
    from idl_utils.column_model import widen_column_model

    model = build_column_model(2)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    wide = widen_column_model(model, 30)
    assert wide.input_shape == (None, 31, 23) and wide.output_shape == (None, 32, 13)
    for w, v in zip(model.get_weights(), wide.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)
    # 2-digit queries written as 30-digit ones (leading zeros) get the same digits and sign
    qs = make_queries(2).subset(np.arange(0, 20_000, 13))
    short = np.asarray(model(ColumnDigits().encode_inputs(qs)))
    x = ColumnDigits().encode_inputs(qs)
    padded = np.concatenate([x[:, :2], np.repeat(x[:, 2:3], 29, axis=1)], axis=1)
    long = np.asarray(wide(padded))
    np.testing.assert_allclose(long[:, :3], short[:, :3], atol=1e-5)
    np.testing.assert_allclose(long[:, -1], short[:, -1], atol=1e-5)
    assert widen_column_model(model, 2) is model
    with pytest.raises(ValueError, match="cannot be widened"):
        widen_column_model(build_column_model(2, shared=False), 5)
    with pytest.raises(ValueError, match="not a column model"):
        widen_column_model(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]), 5)


def test_hard_inference_rounds_only_outside_training_and_mod10_shares_digit_rows():
    model = build_column_model(2)  # hard_inference=True by default
    rng = np.random.default_rng(1)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    x = ColumnDigits().encode_inputs(make_queries(2).subset(np.arange(0, 20_000, 97)))
    soft = build_column_model(2, hard_inference=False)
    soft.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(model(x, training=True)), np.asarray(soft(x)), atol=1e-6)
    assert not np.allclose(np.asarray(model(x)), np.asarray(soft(x)), atol=1e-3)
    layer = build_column_model(2, digit_table="mod10").get_layer("column_arithmetic")
    # sums ten apart read the same digit row, whatever the weights
    s = np.array([[-10.0], [0.0], [10.0], [3.0]], dtype=np.float32)
    ones = np.ones((4, 1), dtype=np.float32)
    probs = []
    for value in s[:, 0]:
        digit, _ = layer.cell(0, np.array([[value]], dtype=np.float32), np.zeros((1, 1), np.float32),
                              ones[:1], np.zeros((1, 1), np.float32))
        probs.append(np.asarray(digit)[0])
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-5)
    np.testing.assert_allclose(probs[1], probs[2], atol=1e-5)
    assert not np.allclose(probs[1], probs[3], atol=1e-3)
    with pytest.raises(ValueError, match="use readout='bins'"):
        build_column_model(2, readout="steps", digit_table="mod10")


def test_a_monotone_carry_table_is_penalised_for_every_fall_and_only_then():
    from idl_utils.column_model import CARRY_RAMP, MONOTONE_STRENGTH, NonDecreasing

    model = build_column_model(2)
    head = model.get_layer("column_arithmetic").carry_heads[0]
    assert isinstance(head.kernel_regularizer, NonDecreasing)
    # it starts as a rising ramp: the lowest sums borrow, the highest carry
    np.testing.assert_array_equal(head.get_weights()[0][:, 0], CARRY_RAMP)
    assert np.all(np.diff(CARRY_RAMP) > 0)
    assert np.tanh(CARRY_RAMP[40]) < -0.99 and np.tanh(CARRY_RAMP[98]) > 0.99  # sums -10 and 19
    rising = np.linspace(-3, 3, 121, dtype=np.float32)[:, None]
    assert float(head.kernel_regularizer(rising)) == 0.0
    falls = rising.copy()
    falls[40] = 5.0  # one row far above its neighbours: it falls by 5 + 1 to the next
    expected = MONOTONE_STRENGTH * (5.0 - (falls[41, 0]))
    assert float(head.kernel_regularizer(falls)) == pytest.approx(expected, rel=1e-5)
    head.set_weights([falls, np.zeros(1, np.float32)])
    model(ColumnDigits().encode_inputs(queries_from_strings(["1+1"], 2)))
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)  # trained against
    assert build_column_model(2, carry_table="per_sum").get_layer(
        "column_arithmetic").carry_heads[0].kernel_regularizer is None
    with pytest.raises(ValueError, match="use readout='bins'"):
        build_column_model(2, readout="steps", carry_table="monotone")
