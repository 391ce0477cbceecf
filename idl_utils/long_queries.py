"""Arithmetic queries of any length, as digit arrays: 100-digit ``a+b`` and ``a-b``.

:mod:`idl_utils.queries` holds every query of the assignment as text and integers, which
stops at 3 digits (and int64 at 18). Here a query is two arrays of decimal digits, so its
length is only a question of memory:

* **layout**: ``a[:, i]`` is the digit of ``10**i`` (ones first, as the column model reads
  them), ``uint8`` values 0-9; both operands have ``d`` digits, shorter numbers have leading
  zeros (``7`` as a 3-digit operand is ``[7, 0, 0]``);
* **random queries** (:func:`random_long_queries`): operands drawn uniformly from
  ``0 ... 10**d - 1`` -- every digit independently uniform, so about one operand in ten is
  shorter than ``d`` digits, as ``0 ... 99`` holds ``0 ... 9`` in the assignment -- and the
  operator uniformly from ``ops``. They are made lazily in seeded chunks
  (:func:`iter_long_queries`), so the first ``n`` queries of a seed are the same whatever ``n``;
* **true answers** (:func:`long_answers`) come from the written algorithm, vectorised over the
  queries: compare from the most significant digit, then add with carries or subtract the
  smaller operand from the larger with borrows, column by column from the ones up. No Python
  integer of any size is involved;
* **answers** (:class:`LongAnswers`): the digits of ``|a op b|`` ones first ``(n, d+1)``, a
  sign, and whether a prediction was a number at all; :func:`answers_match` is exact match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .queries import OPERATORS, QuerySet, digits_to_text

#: random queries are drawn in chunks of this many, each from its own seeded generator
CHUNK = 1000
_QUERY_RE = re.compile(r"^\s*(\d+)\s*([+-])\s*(\d+)\s*$")


def _check_digit_array(name: str, digits: np.ndarray) -> np.ndarray:
    digits = np.asarray(digits)
    if digits.ndim != 2 or digits.shape[1] < 1:
        raise ValueError(f"{name} must be (n, d) digits with d >= 1, got shape {digits.shape}")
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError(f"{name} must hold decimal digits 0-9 (ones first)")
    return digits.astype(np.uint8)


@dataclass(frozen=True)
class LongQueries:
    """``n`` queries ``a op b`` with ``d``-digit operands: ``a`` and ``b`` ``(n, d)`` ``uint8``
    digits, ones first (``a[:, 0]`` is the ones digit); ``op`` ``(n,)`` ``'+'`` or ``'-'``."""

    a: np.ndarray
    b: np.ndarray
    op: np.ndarray

    def __post_init__(self) -> None:
        a, b = _check_digit_array("a", self.a), _check_digit_array("b", self.b)
        op = np.asarray(self.op).astype("<U1")
        if a.shape != b.shape or op.shape != a.shape[:1]:
            raise ValueError(f"a, b must be (n, d) and op (n,): got {a.shape}, {b.shape}, {op.shape}")
        if op.size and not np.isin(op, list(OPERATORS)).all():
            raise ValueError(f"operators must be '+' or '-', got {op[~np.isin(op, list(OPERATORS))][0]!r}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "op", op)

    @property
    def digits(self) -> int:
        """Digits per operand ``d``."""
        return self.a.shape[1]

    def __len__(self) -> int:
        return len(self.op)

    def subset(self, index: np.ndarray) -> LongQueries:
        """The queries at ``index`` (integer or boolean array)."""
        return LongQueries(self.a[index], self.b[index], self.op[index])

    def strings(self) -> np.ndarray:
        """The queries as written, ``'81+24'`` (no padding, leading zeros dropped)."""
        return np.strings.add(np.strings.add(digits_to_text(self.a), self.op), digits_to_text(self.b))

    def answers(self) -> LongAnswers:
        """The true answers (:func:`long_answers`)."""
        return long_answers(self)


@dataclass(frozen=True)
class LongAnswers:
    """Answers to ``d``-digit queries: ``digits`` ``(n, d+1)`` of ``|a op b|`` ones first,
    ``negative`` ``(n,)``; ``valid`` ``(n,)`` is false where a model wrote something that is
    not a number (a non-digit among the digits, a sign that is neither ``'-'`` nor blank)."""

    digits: np.ndarray
    negative: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.negative)

    def strings(self) -> np.ndarray:
        """The answers as written (``'-48'``, every digit kept); ``'?'`` where not valid."""
        return np.where(self.valid, digits_to_text(self.digits, self.negative), "?")


@dataclass(frozen=True)
class Columns:
    """The written algorithm, column by column (all ``(n, d+1)``, ones first; column ``d`` is
    the extra one that takes the last carry): ``top`` and ``bottom`` are the digits written
    above and below (for ``-`` the larger operand above, so a difference never goes below
    zero), ``carry_in`` the carry (``+1``) or borrow (``-1``) coming into each column, ``sum``
    what the column adds up to, ``top + (+/-)bottom + carry_in`` (``-10 ... 19``),
    ``digit`` the answer digit written under it, and ``chain`` how far the carry coming in
    has travelled: 0 none, 1 made by the column just below, ``k`` made ``k`` columns below
    and passed on by the ``k-1`` columns between, whose digits alone add up to 9 (``+``) or
    are equal (``-``), as in ``999+1`` or ``1000-1``."""

    top: np.ndarray
    bottom: np.ndarray
    carry_in: np.ndarray
    sum: np.ndarray
    digit: np.ndarray
    chain: np.ndarray
    a_smaller: np.ndarray  # (n,): |b| > |a|, so a '-' answer is negative


def deciding_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n,)``: the most significant column where the digits ``a`` and ``b`` ``(n, d)`` (ones
    first) differ -- the one that decides which number is larger -- or ``-1`` if they are equal."""
    differ = a != b
    # the first differing column found reading from the most significant end
    return np.where(differ.any(axis=1), a.shape[1] - 1 - differ[:, ::-1].argmax(axis=1), -1)


def a_is_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(n,)``: is the number with digits ``a`` ``(n, d)`` (ones first) smaller than ``b``?
    Decided by the most significant column whose digits differ, as one reads them."""
    column = deciding_column(a, b)
    rows, at = np.arange(len(a)), np.maximum(column, 0)
    return (column >= 0) & (a[rows, at] < b[rows, at])


def written_columns(qs: LongQueries) -> Columns:
    """Work every query out on paper (see :class:`Columns`), vectorised over the queries; the
    loop runs over the ``d+1`` columns. A 100-digit query set of 5,000 takes milliseconds."""
    plus = qs.op == "+"
    a_smaller = a_is_smaller(qs.a, qs.b)
    swap = (~plus & a_smaller)[:, None]
    zeros = np.zeros((len(qs), 1), dtype=np.int16)
    top = np.concatenate([np.where(swap, qs.b, qs.a).astype(np.int16), zeros], axis=1)
    bottom = np.concatenate([np.where(swap, qs.a, qs.b).astype(np.int16), zeros], axis=1)
    signed = np.where(plus[:, None], bottom, -bottom)
    carry_in, total, chain = np.zeros_like(top), np.zeros_like(top), np.zeros_like(top)
    carry = np.zeros(len(qs), dtype=np.int16)
    # the digit sum (or difference) at which a column only passes on the carry it receives
    passes_on = np.where(plus, 9, 0)
    for i in range(top.shape[1]):
        carry_in[:, i] = carry
        total[:, i] = top[:, i] + signed[:, i] + carry
        if i:
            passed = (carry_in[:, i - 1] != 0) & (total[:, i - 1] - carry_in[:, i - 1] == passes_on)
            chain[:, i] = np.where(carry == 0, 0, np.where(passed, chain[:, i - 1] + 1, 1))
        carry = total[:, i] // 10  # floor: -1 for a borrow, +1 for a carry
    return Columns(top.astype(np.uint8), bottom.astype(np.uint8), carry_in.astype(np.int8),
                   total.astype(np.int8), (total % 10).astype(np.uint8), chain, a_smaller)


def long_answers(qs: LongQueries) -> LongAnswers:
    """The true answers: digits of ``|a op b|`` ``(n, d+1)`` ones first and the sign."""
    columns = written_columns(qs)
    negative = (qs.op == "-") & columns.a_smaller
    return LongAnswers(columns.digit, negative, np.ones(len(qs), dtype=bool))


def answers_match(predicted: LongAnswers, expected: LongAnswers) -> np.ndarray:
    """``(n,)`` bool: is each predicted answer right in every digit and its sign? A ``-0``
    is wrong (it would be written ``'-0'``), as in :func:`~idl_utils.queries.exact_match`."""
    if predicted.digits.shape != expected.digits.shape:
        raise ValueError(f"answer digits differ in shape: {predicted.digits.shape} predicted, "
                         f"{expected.digits.shape} expected: score answers to the same queries")
    same_digits = (predicted.digits == expected.digits).all(axis=1)
    return predicted.valid & same_digits & (predicted.negative == expected.negative)


def _draw(n: int, digits: int, seed: int, ops: str, chunk: int) -> LongQueries:
    """The first ``n`` queries of chunk number ``chunk`` (always drawn whole, so that they do
    not depend on ``n``)."""
    rng = np.random.default_rng([seed, digits, chunk])
    a = rng.integers(0, 10, (CHUNK, digits), dtype=np.uint8)
    b = rng.integers(0, 10, (CHUNK, digits), dtype=np.uint8)
    op = np.array(list(ops), dtype="<U1")[rng.integers(0, len(ops), CHUNK)]
    return LongQueries(a[:n], b[:n], op[:n])


def _check_request(n: int, digits: int, ops: str) -> None:
    for name, value in (("n", n), ("digits", digits)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not ops or any(op not in OPERATORS for op in ops) or len(set(ops)) != len(ops):
        raise ValueError(f"ops={ops!r} is not supported: use a non-empty subset of '+-'.")


def iter_long_queries(n: int, digits: int, seed: int, ops: str = "+-") -> Iterator[LongQueries]:
    """The queries of :func:`random_long_queries` in chunks of :data:`CHUNK` (the last one
    shorter), each drawn only when asked for: chunk ``k`` comes from the generator seeded
    with ``(seed, digits, k)``, so any prefix of the stream is the same for every ``n``."""
    _check_request(n, digits, ops)
    for k, start in enumerate(range(0, n, CHUNK)):
        yield _draw(min(CHUNK, n - start), digits, seed, ops, k)


def random_long_queries(n: int, digits: int, seed: int, ops: str = "+-") -> LongQueries:
    """``n`` random queries with ``digits``-digit operands, drawn uniformly from
    ``0 ... 10**digits - 1`` (leading zeros allowed, as in the assignment's ``0 ... 99``), the
    operator uniformly from ``ops``. Seeded and stable: the first ``m`` of ``n`` queries are
    the ``m`` queries asked for with the same seed. A query whose operands are both below 100
    is a 2-digit query, which a model trained on 2-digit queries may have seen: 1 in 100 at 3
    digits, 1 in 10,000 at 4."""
    parts = list(iter_long_queries(n, digits, seed, ops))
    return LongQueries(np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts]),
                       np.concatenate([p.op for p in parts]))


def long_queries_from_query_set(qs: QuerySet) -> LongQueries:
    """The queries of a :class:`~idl_utils.queries.QuerySet` (1-3 digits) as digit arrays."""
    powers = 10 ** np.arange(qs.digits, dtype=np.int64)
    return LongQueries((qs.a.astype(np.int64)[:, None] // powers) % 10,
                       (qs.b.astype(np.int64)[:, None] // powers) % 10, qs.op)


def long_queries_from_strings(queries: list[str] | np.ndarray, digits: int | None = None) -> LongQueries:
    """Parse ``'81+24'``-style strings of any length into :class:`LongQueries` with
    ``digits`` digits per operand (default: the longest operand's)."""
    parsed = []
    for query in queries:
        match = _QUERY_RE.match(str(query))
        if not match:
            raise ValueError(f"Malformed query {query!r}: expected '<number><op><number>' with op "
                             "'+' or '-' and non-negative whole numbers, e.g. '81+24'.")
        parsed.append(match.groups())
    if not parsed:
        raise ValueError("no queries to parse")
    longest = max(max(len(a), len(b)) for a, _, b in parsed)
    digits = longest if digits is None else digits
    if digits < longest:
        raise ValueError(f"an operand has {longest} digits, more than digits={digits}")

    def to_digits(number: str) -> np.ndarray:
        ones_first = np.frombuffer(number[::-1].encode(), dtype=np.uint8) - ord("0")
        return np.pad(ones_first, (0, digits - len(number)))

    return LongQueries(np.stack([to_digits(a) for a, _, _ in parsed]),
                       np.stack([to_digits(b) for _, _, b in parsed]),
                       np.array([op for _, op, _ in parsed]))
