import numpy as np
import pytest

from idl_utils.queries import (
    VOCAB,
    answer_length,
    decode_text,
    digits_to_text,
    encode_text,
    evaluate_query,
    exact_match,
    make_queries,
    parse_query,
    per_char_accuracy,
    queries_from_strings,
    query_length,
    split_indices,
    split_queries,
    text_to_indices,
)


def test_vocabulary_is_the_courses():
    assert VOCAB == "0123456789+- " and len(VOCAB) == 13


def test_all_two_digit_queries_are_right():
    qs = make_queries(2)
    assert len(qs) == 20_000
    assert len(set(qs.queries.tolist())) == 20_000
    # evaluate every query independently of the vectorised code
    for q, ans in zip(qs.queries, qs.answers, strict=True):
        a, op, b = parse_query(q)
        assert ans.strip() == str(a + b if op == "+" else a - b)
        assert len(q) == 5 and len(ans) == 3
    assert {"81+24": "105", "41-89": "-48", "99+99": "198", "0-99": "-99"}.items() <= {
        q.strip(): a.strip() for q, a in zip(qs.queries, qs.answers, strict=True)}.items()


def test_three_digit_queries_are_complete_and_right():
    qs = make_queries(3)
    assert len(qs) == 2_000_000
    assert qs.queries.dtype == np.dtype("<U7") and qs.answers.dtype == np.dtype("<U4")
    rng = np.random.default_rng(1)
    for i in rng.choice(len(qs), 2000, replace=False):
        assert qs.answers[i].strip() == evaluate_query(qs.queries[i])
    assert set(np.strings.str_len(qs.answers).tolist()) == {4}
    assert "999+999" in qs.queries and "1998" in qs.answers and "-999" in qs.answers


def test_lengths_and_one_hot_shapes():
    assert (query_length(2), answer_length(2), query_length(3), answer_length(3)) == (5, 3, 7, 4)
    for digits in (2, 3):
        qs = make_queries(digits).subset(np.arange(100))
        x = encode_text(qs.queries, qs.query_length)
        y = encode_text(qs.answers, qs.answer_length)
        assert x.shape == (100, 2 * digits + 1, 13) and y.shape == (100, digits + 1, 13)
        assert np.all(x.sum(-1) == 1)


def test_encode_decode_round_trip():
    qs = make_queries(2)
    assert np.array_equal(decode_text(encode_text(qs.queries, 5)), qs.queries)
    assert np.array_equal(decode_text(encode_text(qs.answers, 3)), qs.answers)
    # short strings are padded with spaces
    assert decode_text(encode_text(["1+2"], 5))[0] == "1+2  "
    # indices decode too
    assert decode_text(text_to_indices(["-48"], 3))[0] == "-48"


def test_digits_to_text_writes_numbers_of_any_length():
    digits = np.array([[5, 0, 1, 0], [0, 0, 0, 0], [9, 9, 9, 9]])
    assert digits_to_text(digits).tolist() == ["105", "0", "9999"]
    assert digits_to_text(digits, np.array([True, False, True])).tolist() == ["-105", "0", "-9999"]
    hundred = np.tile(np.arange(10), 10)[None]  # 0, 1, ..., 9 ten times, ones first
    assert digits_to_text(hundred)[0] == "9876543210" * 10
    with pytest.raises(ValueError, match="digits must lie in 0-9"):
        digits_to_text(np.array([[12, 1]]))


def test_encode_rejects_characters_outside_vocabulary():
    with pytest.raises(ValueError, match="'\\*' .* not in the vocabulary"):
        encode_text(["12*34"], 5)
    with pytest.raises(ValueError, match="longer than"):
        encode_text(["123+456"], 5)


@pytest.mark.parametrize("bad", ["12*3", "", "+", "1+", "a+b", "1.5+2", "-3+4"])
def test_malformed_queries_get_a_clear_error(bad):
    with pytest.raises(ValueError, match="Malformed query"):
        parse_query(bad)


def test_queries_from_strings_validates_and_pads():
    qs = queries_from_strings(["81+24", " 41 - 89 "], digits=2)
    assert qs.queries.tolist() == ["81+24", "41-89"]
    assert qs.answers.tolist() == ["105", "-48"]
    with pytest.raises(ValueError, match=r"operands must lie in \[0, 99\]"):
        queries_from_strings(["100+1"], digits=2)


@pytest.mark.parametrize("digits", [0, 4, -1])
def test_unsupported_digits_are_refused(digits):
    with pytest.raises(ValueError, match="Accepted values: \\(1, 2, 3\\)"):
        make_queries(digits)


def test_bad_operators_are_refused():
    with pytest.raises(ValueError, match="subset of '\\+-'"):
        make_queries(2, ops="*")


def test_splits_are_disjoint_complete_and_reproducible():
    tr, va, te = split_indices(20_000, 0.25, seed=7, val_fraction=0.1)
    assert len(tr) + len(va) == 5000 and len(te) == 15_000 and len(va) == 500
    assert not (set(tr) & set(te)) and not (set(tr) & set(va)) and not (set(va) & set(te))
    assert len(set(tr) | set(va) | set(te)) == 20_000
    again = split_indices(20_000, 0.25, seed=7, val_fraction=0.1)
    assert all(np.array_equal(x, y) for x, y in zip((tr, va, te), again, strict=True))
    other = split_indices(20_000, 0.25, seed=8, val_fraction=0.1)
    assert not np.array_equal(tr, other[0])


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5])
def test_train_fraction_outside_unit_interval_is_refused(fraction):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_indices(100, fraction, seed=0)


def test_split_queries_names_the_split():
    sp = split_queries(make_queries(2), 0.1, seed=1)
    assert sp.name == "10/90"
    assert len(sp.train) + len(sp.val) == 2000 and len(sp.test) == 18_000


def test_metrics():
    assert exact_match(["105", "-48"], ["105", "-48"]) == 1.0
    assert exact_match(["105", "-47"], ["105", "-48"]) == 0.5
    assert exact_match(["5  "], ["5"]) == 1.0  # padding does not matter
    assert per_char_accuracy(["105", "-47"], ["105", "-48"]) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="empty"):
        exact_match([], [])


def test_a_seeded_sample_is_reproducible_ordered_and_none_means_all():
    qs = make_queries(2)
    first, again = qs.sample(500, seed=3), qs.sample(500, seed=3)
    assert len(first) == 500 and (first.queries == again.queries).all()
    assert (np.diff(np.flatnonzero(np.isin(qs.queries, first.queries))) > 0).all()
    assert not (qs.sample(500, seed=4).queries == first.queries).all()
    assert qs.sample(None, seed=3) is qs and qs.sample(10**6, seed=3) is qs
    with pytest.raises(ValueError, match="n >= 1"):
        qs.sample(0, seed=3)
