"""Arithmetic queries as text: generation, one-hot encoding, splits and accuracy.

The course's task: read a query such as ``'81+24'`` and answer ``'105'``; ``'41-89'`` gives
``'-48'``. Every query for operands with ``digits`` digits and the operators ``+``/``-``:

=========  =========  ================  ==============
digits     queries    query length      answer length
=========  =========  ================  ==============
2 (2025)   20,000     5  (``'99+99'``)  3 (``'198'``)
3 (2021)   2,000,000  7  (``'999-999'``) 4 (``'1998'``)
=========  =========  ================  ==============

Queries and answers are left-aligned and right-padded with spaces, exactly as in the course
notebook, over the course's 13-character vocabulary ``'0123456789+- '``.

Everything here is vectorised NumPy: all 2,000,000 three-digit queries build in about a
second. One-hot arrays for all of them would need 728 MB, so encode in batches
(see :func:`encode_text` and ``idl_utils.seq_models.QueryBatches``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: The course's vocabulary, in the course's order. Index 12 is the padding space.
VOCAB = "0123456789+- "
PAD = " "
OPERATORS = "+-"
SUPPORTED_DIGITS = (1, 2, 3)

_CODE_TO_INDEX = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(VOCAB):
    _CODE_TO_INDEX[ord(_c)] = _i
_CODE_TO_INDEX[0] = VOCAB.index(PAD)  # NumPy pads short unicode strings with NUL
_VOCAB_ARRAY = np.array(list(VOCAB), dtype="<U1")
_QUERY_RE = re.compile(r"^\s*(\d+)\s*([+-])\s*(\d+)\s*$")


def query_length(digits: int) -> int:
    """Characters in a padded query: two operands and one operator."""
    return 2 * _check_digits(digits) + 1


def answer_length(digits: int) -> int:
    """Characters in a padded answer: ``99+99=198`` and ``0-99=-99`` both need digits+1."""
    return _check_digits(digits) + 1


def _check_digits(digits: int) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)):
        raise TypeError(f"digits must be an integer, got {digits!r}")
    if digits not in SUPPORTED_DIGITS:
        raise ValueError(
            f"digits={digits} is not supported. Accepted values: {SUPPORTED_DIGITS} "
            "(2 is the 2025 assignment with 20,000 queries, 3 the 2021 one with 2,000,000)."
        )
    return int(digits)


def _check_ops(ops: str) -> str:
    if not ops or any(op not in OPERATORS for op in ops) or len(set(ops)) != len(ops):
        raise ValueError(f"ops={ops!r} is not supported: use a non-empty subset of '+-'.")
    return ops


@dataclass(frozen=True)
class QuerySet:
    """A set of queries with their operands and answers (all arrays have length ``n``).

    ``queries`` (``<U{2d+1}``) and ``answers`` (``<U{d+1}``) are padded strings; ``a``/``b``
    are the integer operands and ``op`` the operator characters.
    """

    digits: int
    a: np.ndarray
    b: np.ndarray
    op: np.ndarray
    queries: np.ndarray
    answers: np.ndarray

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def query_length(self) -> int:
        return query_length(self.digits)

    @property
    def answer_length(self) -> int:
        return answer_length(self.digits)

    @property
    def results(self) -> np.ndarray:
        """The integer answers (``a + b`` or ``a - b``)."""
        return np.where(self.op == "+", self.a + self.b, self.a - self.b)

    def subset(self, index: np.ndarray) -> QuerySet:
        """The queries at ``index`` (integer or boolean array), as a new ``QuerySet``."""
        return QuerySet(
            self.digits,
            self.a[index],
            self.b[index],
            self.op[index],
            self.queries[index],
            self.answers[index],
        )

    def sample(self, n: int | None, seed: int) -> QuerySet:
        """A seeded random ``n`` of the queries, in their original order (all of them when
        ``n`` is None or at least ``len(self)``): the one way the kit takes a subset."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"sample needs n >= 1 queries (or None for all), got {n}")
        return self.subset(np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False)))


def _format_ints(values: np.ndarray) -> np.ndarray:
    """Integers to their decimal strings, vectorised (``-48`` -> ``'-48'``)."""
    return np.asarray(values, dtype=np.int64).astype("<U8")


def format_queries(a: np.ndarray, op: np.ndarray, b: np.ndarray, digits: int) -> QuerySet:
    """Build a :class:`QuerySet` from operand arrays and operator characters."""
    digits = _check_digits(digits)
    a = np.asarray(a, dtype=np.int32)
    b = np.asarray(b, dtype=np.int32)
    op = np.asarray(op, dtype="<U1")
    limit = 10**digits
    if a.shape != b.shape or a.shape != op.shape:
        raise ValueError(f"a, op and b must have the same shape, got {a.shape}, {op.shape}, {b.shape}")
    if a.size and (a.min() < 0 or b.min() < 0 or a.max() >= limit or b.max() >= limit):
        raise ValueError(f"operands must lie in [0, {limit - 1}] for digits={digits}")
    bad_ops = ~np.isin(op, list(OPERATORS))
    if bad_ops.any():
        raise ValueError(f"operators must be '+' or '-', got {op[bad_ops][0]!r}")
    q = np.strings.add(np.strings.add(_format_ints(a), op), _format_ints(b))
    queries = np.strings.ljust(q, query_length(digits)).astype(f"<U{query_length(digits)}")
    results = np.where(op == "+", a.astype(np.int64) + b, a.astype(np.int64) - b)
    answers = np.strings.ljust(_format_ints(results), answer_length(digits)).astype(
        f"<U{answer_length(digits)}"
    )
    return QuerySet(digits, a, b, op, queries, answers)


def make_queries(digits: int = 2, ops: str = "+-") -> QuerySet:
    """Every query ``a op b`` with ``0 <= a, b < 10**digits``, ordered by op, then a, then b.

    >>> qs = make_queries(2)
    >>> len(qs), qs.queries[0], qs.queries[-1], qs.answers[-1]
    (20000, '0+0  ', '99-99', '0  ')
    """
    digits = _check_digits(digits)
    ops = _check_ops(ops)
    n = 10**digits
    grid_a, grid_b = np.meshgrid(np.arange(n, dtype=np.int32), np.arange(n, dtype=np.int32),
                                 indexing="ij")
    a = np.tile(grid_a.ravel(), len(ops))
    b = np.tile(grid_b.ravel(), len(ops))
    op = np.repeat(np.array(list(ops), dtype="<U1"), n * n)
    return format_queries(a, op, b, digits)


def parse_query(query: str) -> tuple[int, str, int]:
    """Split ``'81+24'`` into ``(81, '+', 24)``; a clear ``ValueError`` for anything else."""
    if not isinstance(query, str):
        raise TypeError(f"a query must be a string like '81+24', got {type(query).__name__}")
    match = _QUERY_RE.match(query)
    if not match:
        raise ValueError(
            f"Malformed query {query!r}: expected '<number><op><number>' with op '+' or '-' "
            "and non-negative whole numbers, e.g. '81+24' or '41-89'."
        )
    return int(match.group(1)), match.group(2), int(match.group(3))


def evaluate_query(query: str) -> str:
    """The (unpadded) answer to one query string: ``'41-89'`` -> ``'-48'``."""
    a, op, b = parse_query(query)
    return str(a + b if op == "+" else a - b)


def queries_from_strings(queries: list[str] | np.ndarray, digits: int) -> QuerySet:
    """Parse user-written query strings (validated) into a :class:`QuerySet`."""
    parsed = [parse_query(str(q)) for q in queries]
    if not parsed:
        return format_queries(np.zeros(0, int), np.zeros(0, "<U1"), np.zeros(0, int), digits)
    a, op, b = zip(*parsed, strict=True)
    return format_queries(np.array(a), np.array(op), np.array(b), digits)


# --------------------------------------------------------------------------- encoding
def text_to_indices(strings: np.ndarray | list[str], length: int) -> np.ndarray:
    """Strings to vocabulary indices, shape ``(n, length)`` ``int8``; shorter strings are
    padded with spaces. A character outside the vocabulary raises a ``ValueError``."""
    arr = np.asarray(strings)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D array of strings, got shape {arr.shape}")
    if arr.size and arr.dtype.kind != "U":
        arr = arr.astype(str)
    if arr.size and np.strings.str_len(arr).max() > length:
        longest = arr[np.argmax(np.strings.str_len(arr))]
        raise ValueError(f"string {longest!r} is longer than length={length}")
    codes = np.ascontiguousarray(arr, dtype=f"<U{length}").view(np.uint32).reshape(len(arr), length)
    out_of_table = codes >= len(_CODE_TO_INDEX)
    idx = _CODE_TO_INDEX[np.where(out_of_table, 1, codes)]
    bad = (idx < 0) | out_of_table
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"character {chr(codes[row, col])!r} in {str(arr[row])!r} is not in the vocabulary "
            f"{VOCAB!r} (digits, '+', '-' and space)."
        )
    return idx.astype(np.int8)


def encode_text(strings: np.ndarray | list[str], length: int) -> np.ndarray:
    """One-hot encode strings: ``(n, length, 13)`` ``float32`` over :data:`VOCAB`."""
    idx = text_to_indices(strings, length)
    return np.eye(len(VOCAB), dtype=np.float32)[idx]


def digits_to_text(digits: np.ndarray, negative: np.ndarray | None = None) -> np.ndarray:
    """Decimal digits ``(n, L)`` ones first (values 0-9) -> ``(n,)`` numbers as written,
    ``<U{L+1}``: leading zeros dropped (all zeros give ``'0'``), ``'-'`` in front where
    ``negative`` ``(n,)`` is true. No integer is formed on the way, so an answer of any
    length keeps every digit (``[1, 0, 5] -> '501'``)."""
    digits = np.asarray(digits)
    if digits.ndim != 2 or digits.shape[1] == 0:
        raise ValueError(f"expected (n, L) digits with L >= 1, got shape {digits.shape}")
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError("digits must lie in 0-9: map a model's non-digit outputs before formatting")
    n, length = digits.shape
    written = np.ascontiguousarray(_VOCAB_ARRAY[digits[:, ::-1]]).view(f"<U{length}").reshape(n)
    text = np.strings.lstrip(written, "0")
    text = np.where(text == "", "0", text).astype(f"<U{length + 1}")
    if negative is not None:
        text = np.where(np.asarray(negative, dtype=bool), np.strings.add("-", text), text)
    return text.astype(f"<U{length + 1}")


def decode_text(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_text`: one-hot or softmax scores ``(n, L, 13)`` (argmax is
    taken) or indices ``(n, L)`` back to padded strings ``<U{L}``."""
    encoded = np.asarray(encoded)
    idx = encoded.argmax(axis=-1) if encoded.ndim == 3 else encoded
    if idx.ndim != 2:
        raise ValueError(f"expected (n, L, {len(VOCAB)}) scores or (n, L) indices, got {encoded.shape}")
    chars = np.ascontiguousarray(_VOCAB_ARRAY[idx])
    return chars.view(f"<U{idx.shape[1]}").reshape(idx.shape[0])


# --------------------------------------------------------------------------- splits
def split_indices(
    n: int, train_fraction: float, seed: int, *, val_fraction: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into disjoint ``(train, val, test)`` indices.

    ``train_fraction`` of all items go to training (0.5 for a 50/50 split); ``val_fraction``
    of *those* are held out of training for early stopping and model selection, so the test
    part is never looked at until the end. Index arrays come back sorted.
    """
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(
            f"train_fraction={train_fraction} must lie strictly between 0 and 1 "
            "(e.g. 0.5 for a 50/50 split, 0.1 for 10/90)."
        )
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must lie in [0, 1).")
    if n < 2:
        raise ValueError(f"need at least 2 items to split, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_train_all = min(max(int(round(n * train_fraction)), 1), n - 1)
    n_val = int(round(n_train_all * val_fraction))
    if val_fraction > 0 and n_val == 0:
        n_val = 1
    if n_val >= n_train_all:
        raise ValueError(f"val_fraction={val_fraction} leaves no training items")
    val = np.sort(order[:n_val])
    train = np.sort(order[n_val:n_train_all])
    test = np.sort(order[n_train_all:])
    return train, val, test


@dataclass(frozen=True)
class Split:
    """Train / validation / test query sets of one split, with how it was made."""

    train: QuerySet
    val: QuerySet
    test: QuerySet
    train_fraction: float
    seed: int

    @property
    def name(self) -> str:
        """``'50/50'``, ``'10/90'``: the course's way of naming a split."""
        pct = round(self.train_fraction * 100)
        return f"{pct}/{100 - pct}"


def split_queries(
    qs: QuerySet, train_fraction: float, seed: int, *, val_fraction: float = 0.1
) -> Split:
    """Split a :class:`QuerySet` (see :func:`split_indices`)."""
    train, val, test = split_indices(len(qs), train_fraction, seed, val_fraction=val_fraction)
    return Split(qs.subset(train), qs.subset(val), qs.subset(test), float(train_fraction), seed)


# --------------------------------------------------------------------------- metrics
def _as_str_array(x: np.ndarray | list[str]) -> np.ndarray:
    return np.asarray(x).astype(str)


def exact_match(predicted: np.ndarray | list[str], expected: np.ndarray | list[str]) -> float:
    """Fraction of answers that are right in every character (padding ignored at the ends)."""
    p, e = _as_str_array(predicted), _as_str_array(expected)
    if p.shape != e.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {e.shape}")
    if p.size == 0:
        raise ValueError("cannot score an empty set of answers")
    return float(np.mean(np.strings.strip(p) == np.strings.strip(e)))


def per_char_accuracy(predicted: np.ndarray | list[str], expected: np.ndarray | list[str]) -> float:
    """Fraction of answer positions (padding included) predicted right."""
    e = _as_str_array(expected)
    if e.size == 0:
        raise ValueError("cannot score an empty set of answers")
    length = int(np.strings.str_len(e).max())
    length = max(length, int(np.strings.str_len(_as_str_array(predicted)).max()))
    pi = text_to_indices(_as_str_array(predicted), length)
    ei = text_to_indices(e, length)
    return float(np.mean(pi == ei))
