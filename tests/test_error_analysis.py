import numpy as np
import pytest

from idl_utils.error_analysis import (
    CATEGORIES,
    SUBTASKS,
    categorise,
    column_mistakes,
    error_grid,
    error_report,
    needs_carry_or_borrow,
)
from idl_utils.queries import make_queries, queries_from_strings

CASES = {  # query: (prediction, expected category)
    "81+24": ("105", ""),
    "41-89": ("48", "sign"),
    "1+19": ("10", "carry/borrow"),  # dropped carry
    "2+26": ("38", "carry/borrow"),  # invented carry
    "99+99": ("98", "length"),
    "5-3": ("1-", "malformed"),
    "12+3": ("16", "off by one"),
    "12+30": ("45", "one digit"),
    "50-7": ("17", "several digits"),
    "45-45": ("0", ""),
}


def test_each_mistake_gets_its_category():
    qs = queries_from_strings(list(CASES), digits=2)
    predicted = np.array([p for p, _ in CASES.values()])
    assert categorise(qs, predicted).tolist() == [c for _, c in CASES.values()]


def test_carry_and_borrow_detection():
    qs = queries_from_strings(["15+5", "11+11", "99+1", "20-5", "5-20", "55-11", "0-0"], 2)
    assert needs_carry_or_borrow(qs).tolist() == [True, False, True, True, True, False, False]
    # about half of all two-digit additions need a carry: a sanity check against a loop
    qs = make_queries(2)
    loop = [(a % 10 + b % 10 >= 10) or (a + b >= 100) if op == "+" else
            (max(a, b) % 10 < min(a, b) % 10)
            for a, op, b in zip(qs.a.tolist(), qs.op.tolist(), qs.b.tolist(), strict=True)]
    assert needs_carry_or_borrow(qs).tolist() == loop


def test_report_counts_and_positions():
    qs = queries_from_strings(list(CASES), digits=2)
    predicted = np.array([p for p, _ in CASES.values()])
    report = error_report(qs, predicted)
    assert report.n == 10 and report.n_wrong == 8 and report.accuracy == pytest.approx(0.2)
    assert sum(report.categories.values()) == 8 and set(report.categories) == set(CATEGORIES)
    assert sum(g["queries"] for g in report.by_group) == 10
    assert report.per_position.shape == (3,) and 0 < report.per_position.max() <= 1


def test_perfect_predictions_have_no_errors():
    qs = make_queries(2)
    report = error_report(qs, qs.answers)
    assert report.n_wrong == 0 and not report.per_position.any()


def test_error_grid():
    qs = queries_from_strings(["1+19", "81+24", "5-3"], 2)
    grid = error_grid(qs, np.array(["10", "105", "2"]), "+")
    assert grid.shape == (100, 100) and grid[1, 19] == 1 and grid[81, 24] == 0
    assert np.isnan(grid[0, 0])
    coarse = error_grid(qs, np.array(["10", "105", "2"]), "+", bins=10)
    assert coarse.shape == (10, 10) and coarse[0, 1] == 1
    with pytest.raises(ValueError, match="op must be"):
        error_grid(qs, np.array(["10", "105", "2"]), "*")


def test_column_mistakes_on_hand_made_examples():
    cases = [("81+24", "105", -1, ""),
             ("12+34", "47", 0, "plain sum"),
             ("18+24", "32", 1, "carry"),            # 8+4 carries; the tens forgot it
             ("95+5", "0", 2, "cascading carry"),    # the carry passes on through 9+0
             ("94+5", "89", 1, "plain sum"),         # tens 9 written as 8
             ("87-23", "63", 0, "plain difference"),
             ("52-17", "45", 1, "borrow"),           # 12-7=5 right, the tens forgot the borrow
             ("17-52", "-45", 1, "borrow"),          # the same, computed as 52-17
             ("41-89", "48", -1, "sign"),
             ("89-41", "-48", -1, "sign"),
             ("5-3", "1-", -1, "malformed"),
             ("45-45", "0", -1, "")]
    qs = queries_from_strings([c[0] for c in cases], digits=2)
    got = column_mistakes(qs, np.array([c[1] for c in cases]))
    assert got.column.tolist() == [c[2] for c in cases]
    assert got.subtask.tolist() == [c[3] for c in cases]


def test_cascading_borrow_through_a_zero_needs_three_digits():
    # 100-1: 0-1 borrows, 0-0 borrows again (through the 0), 1-0-1 = 0
    # 305-7: 5-7 borrows, 0-0 borrows through the 0, 3-0-1 = 2
    qs = queries_from_strings(["100-1", "100-1", "305-7", "305-7", "999+1"], digits=3)
    got = column_mistakes(qs, np.array(["109", "199", "288", "398", "900"]))
    assert got.subtask.tolist() == ["borrow", "cascading borrow", "borrow", "cascading borrow",
                                    "cascading carry"]
    assert got.column.tolist() == [1, 2, 1, 2, 2]


def test_column_mistakes_counts_and_agrees_with_categories():
    qs = make_queries(2)
    rng = np.random.default_rng(0)
    predicted = qs.answers.copy()
    bad = rng.choice(len(qs), 500, replace=False)
    predicted[bad] = np.asarray(qs.results[bad] + rng.choice([-10, 1, 100], 500)).astype("<U3")
    got = column_mistakes(qs, predicted)
    wrong = categorise(qs, predicted) != ""
    assert np.array_equal(got.subtask != "", wrong)
    assert set(got.subtask[wrong]) <= set(SUBTASKS)
    rows = got.counts()
    assert sum(r["errors"] for r in rows) == wrong.sum()
    assert all(r["errors"] > 0 for r in rows)


def test_column_mistakes_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="2 predictions for 1 queries"):
        column_mistakes(queries_from_strings(["1+1"], 2), np.array(["2", "2"]))


def test_format_mistakes_are_wrong_and_counted_as_format():
    """Exact match counts '05' for 5 wrong, so the taxonomy must too: the right number written
    wrongly is 'format'; padding at the ends is no mistake."""
    qs = queries_from_strings(["2+3", "2+3", "2+3", "2+3", "3-3", "2+3", "1-6"], digits=2)
    predicted = np.array(["05", "+5", " 5", "5 ", "-0", "005", "-5"])
    assert categorise(qs, predicted).tolist() == ["format", "format", "", "", "format", "format", ""]
    assert column_mistakes(qs, predicted).subtask.tolist() == ["format", "format", "", "", "format",
                                                               "format", ""]


def test_the_categories_add_up_to_exact_matchs_wrong_answers_on_real_predictions():
    """A barely trained course model writes every kind of odd answer; every one exact match
    counts wrong lands in exactly one category, and so in the column labels."""
    from idl_utils.config import set_seed
    from idl_utils.queries import exact_match, split_queries
    from idl_utils.seq_models import course_recipe, predict_answers, train_seq_model

    split = split_queries(make_queries(2), 0.1, 0, val_fraction=0.1)
    recipe = course_recipe(2, epochs=1, units=32).with_train(verbose=0)
    set_seed(0)
    model = recipe.build()
    train_seq_model(model, recipe.representation, split.train, split.val, recipe.train)
    predicted = predict_answers(model, recipe.representation, split.test)
    # and the odd strings a model can write that parse as the right number
    predicted[:4] = ["0" + a.strip() for a in split.test.answers[:4]]
    n_wrong = round((1 - exact_match(predicted, split.test.answers)) * len(split.test))
    report = error_report(split.test, predicted)
    assert report.n_wrong == n_wrong == sum(report.categories.values()) > 0
    assert report.categories["format"] >= 4
    assert int((column_mistakes(split.test, predicted).subtask != "").sum()) == n_wrong


def test_examples_and_the_summary_line_say_what_is_wrong():
    from idl_utils.error_analysis import examples

    qs = queries_from_strings(["81+24", "41-89", "2+3"], digits=2)
    text = examples(qs, np.array(["105", "48 ", "5"]), n_right=1, n_wrong=3)
    assert text == "right: 81+24='105' (true 105)\nwrong: 41-89='48' (true -48, sign)"
    assert "wrong" not in examples(qs, qs.answers)
    report = error_report(qs, np.array(["105", "48", "6"]))
    assert report.summary("m") == "m: 2 of 3 answers wrong, most often 'sign' (1)"
    assert error_report(qs, qs.answers).summary("m") == "m: no wrong answer in 3"


def test_doctests():
    import doctest

    from idl_utils import error_analysis

    failures, tried = doctest.testmod(error_analysis)
    assert tried > 0 and failures == 0


def test_long_mistakes_find_the_first_wrong_column_its_carry_chain_and_a_wrong_sign():
    from idl_utils.error_analysis import long_mistakes
    from idl_utils.long_queries import LongAnswers, long_queries_from_strings

    qs = long_queries_from_strings(["1000-1", "999+1", "34-12", "12-34", "55+55", "0-0"], digits=5)
    truth = qs.answers()
    digits, negative, valid = truth.digits.copy(), truth.negative.copy(), truth.valid.copy()
    digits[0, 3] = 1  # 1000-1: the borrow chain through the zeros ends at the thousands (3 long)
    digits[1, 1] = 9  # 999+1: a carry from the ones dropped at the tens (chain 1)
    negative[2] = True  # 34-12 = -22: the sign alone
    digits[3, 0], negative[3] = 1, False  # 12-34 = 21: a digit and the sign
    valid[4] = False  # not a number
    found = long_mistakes(qs, LongAnswers(digits, negative, valid))
    assert found.kind.tolist() == ["digit", "digit", "sign", "digit and sign", "malformed", ""]
    assert found.column.tolist() == [3, 1, -1, 0, -1, -1]
    assert found.chain.tolist() == [3, 1, 0, 0, 0, 0]
    assert found.column_sum.tolist() == [0, 10, 0, 2, 0, 0]  # 1000-1 at the thousands: 1 - 0 - 1
    assert found.deciding_column.tolist() == [3, 2, 1, 1, -1, -1]  # 55 and 55: equal
    assert found.op.tolist() == ["-", "+", "-", "-", "+", "-"]
    assert found.counts(("kind",))[0] == {"kind": "digit", "errors": 2}
    rows = found.counts(("op", "kind", "chain"))
    assert sum(r["errors"] for r in rows) == 5
    assert {"op": "-", "kind": "digit", "chain": 3, "errors": 1} in rows
    with pytest.raises(ValueError, match="count by"):
        found.counts(("colour",))
    with pytest.raises(ValueError, match="answers to these queries"):
        long_mistakes(qs.subset(np.arange(3)), truth)
