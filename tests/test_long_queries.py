import numpy as np
import pytest

from idl_utils.long_queries import (
    CHUNK,
    LongAnswers,
    LongQueries,
    a_is_smaller,
    answers_match,
    iter_long_queries,
    long_queries_from_query_set,
    long_queries_from_strings,
    random_long_queries,
    written_columns,
)
from idl_utils.queries import make_queries


def python_answers(qs: LongQueries) -> list[str]:
    """The oracle: Python's own integers of any size, from the queries' written form."""
    out = []
    for text in qs.strings():
        op = "+" if "+" in text else "-"
        a, b = (int(part) for part in text.split(op))
        out.append(str(a + b if op == "+" else a - b))
    return out


@pytest.mark.parametrize("digits", [1, 7, 19, 64, 100])
def test_answers_match_python_integers_on_random_queries(digits):
    qs = random_long_queries(600, digits, seed=digits)
    assert set(qs.op) == {"+", "-"}
    answers = qs.answers()
    assert answers.digits.shape == (600, digits + 1) and answers.digits.dtype == np.uint8
    assert answers.strings().tolist() == python_answers(qs)
    assert answers.negative.any() and answers_match(answers, answers).all()


def test_answers_in_the_hard_places_match_python_integers():
    nines, zeros = "9" * 60, "1" + "0" * 59
    cases = [nines + "+1", "1+" + nines, nines + "+" + nines, zeros + "-1", "1-" + zeros,
             zeros + "-" + zeros, nines + "-" + nines, "0-0", "0+0",
             "5" * 40 + "4-" + "5" * 40 + "5",  # differ only in the last digit: negative
             "5" * 40 + "6-" + "5" * 40 + "5", "1" + "0" * 30 + "-" + "9" * 30,
             "3" + "0" * 50 + "-" + "2" + "9" * 50]
    qs = long_queries_from_strings(cases)
    assert qs.digits == 60
    assert qs.answers().strings().tolist() == python_answers(qs)


def test_random_queries_are_uniform_digits_seeded_and_a_longer_request_extends_a_shorter():
    qs = random_long_queries(2 * CHUNK + 17, 30, seed=5)
    short = random_long_queries(CHUNK + 3, 30, seed=5)
    assert np.array_equal(qs.a[:len(short)], short.a) and np.array_equal(qs.op[:len(short)], short.op)
    assert not np.array_equal(random_long_queries(50, 30, seed=6).a, qs.a[:50])
    counts = np.bincount(qs.a.ravel(), minlength=10) / qs.a.size
    assert np.allclose(counts, 0.1, atol=0.01)  # every digit equally likely, leading zeros too
    assert [len(part) for part in iter_long_queries(2 * CHUNK + 17, 30, seed=5)] == [CHUNK, CHUNK, 17]
    assert set(random_long_queries(100, 4, seed=1, ops="-").op) == {"-"}


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0, "digits": 3}, "n must be a positive integer"),
    ({"n": 5, "digits": 0}, "digits must be a positive integer"),
    ({"n": 5, "digits": 3, "ops": "*"}, "ops="),
])
def test_bad_requests_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_long_queries(seed=0, **kwargs)


def test_query_sets_become_digit_arrays_with_the_same_answers():
    qs = make_queries(2)
    long = long_queries_from_query_set(qs)
    assert long.digits == 2 and long.a[qs.queries.tolist().index("81+24")].tolist() == [1, 8]
    assert np.array_equal(long.strings(), np.strings.strip(qs.queries))
    assert np.array_equal(long.answers().strings(), np.strings.strip(qs.answers))


def test_written_columns_carry_and_borrow_chains():
    qs = long_queries_from_strings(["999+1", "1000-1", "1-1000", "55+55"])
    columns = written_columns(qs)
    assert columns.carry_in.tolist() == [[0, 1, 1, 1, 0], [0, -1, -1, -1, 0], [0, -1, -1, -1, 0],
                                         [0, 1, 1, 0, 0]]
    assert columns.chain.tolist() == [[0, 1, 2, 3, 0], [0, 1, 2, 3, 0], [0, 1, 2, 3, 0],
                                      [0, 1, 1, 0, 0]]
    assert columns.sum[1].tolist() == [-1, -1, -1, 0, 0]  # 1000-1: borrows through the zeros
    assert columns.top[2].tolist() == [0, 0, 0, 1, 0]  # 1-1000: the larger operand on top
    assert a_is_smaller(qs.a, qs.b).tolist() == [False, False, True, False]


def test_answers_match_needs_every_digit_the_sign_and_a_number():
    truth = long_queries_from_strings(["12-34", "34-12"]).answers()
    assert answers_match(truth, truth).tolist() == [True, True]
    flipped = LongAnswers(truth.digits, ~truth.negative, truth.valid)
    assert answers_match(flipped, truth).tolist() == [False, False]
    junk = LongAnswers(truth.digits, truth.negative, np.array([False, True]))
    assert answers_match(junk, truth).tolist() == [False, True] and junk.strings()[0] == "?"
    off = truth.digits.copy()
    off[1, 2] = 1
    assert answers_match(LongAnswers(off, truth.negative, truth.valid), truth).tolist() == [True, False]
    with pytest.raises(ValueError, match="same queries"):
        answers_match(truth, long_queries_from_strings(["1-2"]).answers())


def test_malformed_input_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="Malformed query"):
        long_queries_from_strings(["12*3"])
    with pytest.raises(ValueError, match="more than digits"):
        long_queries_from_strings(["123+4"], digits=2)
    with pytest.raises(ValueError, match="decimal digits"):
        LongQueries(np.array([[10]]), np.array([[1]]), np.array(["+"]))
    with pytest.raises(ValueError, match="operators"):
        LongQueries(np.array([[1]]), np.array([[1]]), np.array(["*"]))
