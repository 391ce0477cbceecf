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


def test_a_short_real_run_beats_chance_on_a_tiny_split():
    # 200 training queries (1/99), 8 epochs (a fraction of the recipe's): always answering the
    # most common answer ('0') would be right on 0.5% of the queries
    split = split_queries(make_queries(2), 0.01, seed=3, val_fraction=0.1)
    recipe = make_recipe("column", 2, len(split.train)).with_train(epochs=8, verbose=0)
    run = train_and_score(recipe, split, seed=3)
    assert run.row["model"] == "column" and run.row["split"] == "1/99"
    assert run.row["exact_match"] > 0.05
    assert set(np.strings.str_len(run.predicted)) == {3}
