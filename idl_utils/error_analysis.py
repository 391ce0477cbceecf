"""What do the models get wrong? Mistake categories, carries and borrows, error maps, long answers.

Every answer that exact match counts wrong gets exactly one category, checked in this order
(so the counts add up to the number of wrong answers):

``malformed``      not a number at all (``'1-2'``, ``'--'``)
``format``         the right number written wrongly (``'05'`` for ``5``, ``'-0'``, ``'+5'``)
``sign``           the right digits with the wrong sign (``48`` for ``-48``)
``length``         a different number of digits (``10`` for ``100``): padding / length mistake
``carry/borrow``   off by exactly 10, 100, ...: a carry or borrow dropped or invented
``off by one``     off by exactly 1 in the last digit
``one digit``      one digit wrong by more than one
``several digits`` anything else

:func:`column_mistakes` labels the same wrong answers the way a column adder goes wrong: by
the first wrong column of the answer and the sub-task that column had (see :data:`SUBTASKS`).

:func:`long_mistakes` does the same for answers to queries of any length (digit arrays, see
:mod:`idl_utils.long_queries`): the first wrong column, the carry chain that reaches it, the
sum it had to work out, and whether the sign is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .long_queries import (
    LongAnswers,
    LongQueries,
    deciding_column,
    long_queries_from_query_set,
    written_columns,
)
from .queries import QuerySet

CATEGORIES = ("malformed", "format", "sign", "length", "carry/borrow", "off by one", "one digit",
              "several digits")

#: Sub-tasks of one column of written arithmetic (``-`` is computed as larger minus smaller).
SUBTASKS = ("sign", "plain sum", "carry", "cascading carry", "plain difference", "borrow",
            "cascading borrow", "malformed", "format")


def needs_carry_or_borrow(qs: QuerySet) -> np.ndarray:
    """Boolean ``(n,)``: does computing the answer column by column need a carry (``+``) or a
    borrow (``-``, computed as larger minus smaller) in any column?"""
    a, b = qs.a.astype(np.int64), qs.b.astype(np.int64)
    big, small = np.maximum(a, b), np.minimum(a, b)
    out = np.zeros(len(qs), dtype=bool)
    for k in range(1, qs.digits + 1):
        m = 10**k
        carry = (a % m + b % m) >= m
        borrow = (big % m) < (small % m)
        out |= np.where(qs.op == "+", carry, borrow)
    return out


def _parse_answers(predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted strings to ``(values, valid)``: an optional sign, then digits (``'-07'`` is
    -7, ``'+5'`` is 5); invalid ones get value 0."""
    text = np.strings.strip(np.asarray(predicted).astype(str))
    signed = np.strings.startswith(text, "-") | np.strings.startswith(text, "+")
    body = np.where(signed, np.strings.slice(text, 1, None), text)
    valid = (np.strings.str_len(body) > 0) & np.strings.isdigit(body)
    values = np.zeros(len(text), dtype=np.int64)
    if valid.any():
        values[valid] = text[valid].astype(np.int64)
    return values, valid


def categorise(qs: QuerySet, predicted: np.ndarray) -> np.ndarray:
    """One category per query (``''`` where the answer is right), see :data:`CATEGORIES`."""
    predicted = np.asarray(predicted).astype(str)
    if len(predicted) != len(qs):
        raise ValueError(f"{len(predicted)} predictions for {len(qs)} queries")
    truth = qs.results.astype(np.int64)
    value, valid = _parse_answers(predicted)
    diff = np.abs(value - truth)
    true_len = np.strings.str_len(np.abs(truth).astype(str))
    pred_len = np.strings.str_len(np.abs(value).astype(str))
    t_digits = np.strings.zfill(np.abs(truth).astype(str), qs.digits + 1)
    p_digits = np.strings.zfill(np.abs(value).astype(str), qs.digits + 1)
    t_chars = t_digits.astype(f"<U{qs.digits + 1}").view("<U1").reshape(len(qs), -1)
    p_chars = np.strings.slice(p_digits, -(qs.digits + 1), None).astype(
        f"<U{qs.digits + 1}").view("<U1").reshape(len(qs), -1)
    n_digits_wrong = (t_chars != p_chars).sum(axis=1)
    power_of_ten = np.isin(diff, 10 ** np.arange(1, qs.digits + 2))

    out = np.full(len(qs), "", dtype="<U14")
    # wrong exactly where exact match says so: the same comparison of stripped strings
    wrong = np.strings.strip(predicted) != np.strings.strip(qs.answers.astype(str))
    rules = [
        ("malformed", ~valid),
        ("format", value == truth),
        ("sign", (np.abs(value) == np.abs(truth)) & (value != truth)),
        ("length", pred_len != true_len),
        ("carry/borrow", power_of_ten),
        ("off by one", diff == 1),
        ("one digit", n_digits_wrong == 1),
        ("several digits", np.ones(len(qs), dtype=bool)),
    ]
    unassigned = wrong.copy()
    for name, mask in rules:
        hit = unassigned & mask
        out[hit] = name
        unassigned &= ~hit
    return out


@dataclass(frozen=True)
class ErrorReport:
    """Everything the notebook shows about one model's mistakes on one test set."""

    n: int
    n_wrong: int
    categories: dict[str, int]
    by_group: list[dict[str, object]]
    per_position: np.ndarray  # error rate per answer character position (padded string)

    @property
    def accuracy(self) -> float:
        return 1.0 - self.n_wrong / self.n

    def summary(self, name: str) -> str:
        """One line: how many answers are wrong and the commonest category.

        >>> ErrorReport(10, 3, {"sign": 1, "carry/borrow": 2}, [], np.zeros(3)).summary("kit 5/95")
        "kit 5/95: 3 of 10 answers wrong, most often 'carry/borrow' (2)"
        """
        if not self.n_wrong:
            return f"{name}: no wrong answer in {self.n:,}"
        top = max(self.categories, key=self.categories.get)
        return (f"{name}: {self.n_wrong:,} of {self.n:,} answers wrong, "
                f"most often '{top}' ({self.categories[top]:,})")


def error_report(qs: QuerySet, predicted: np.ndarray) -> ErrorReport:
    """Summarise mistakes: counts per category, error rate by operator x carry/borrow x sign
    of the result, and per-position character error rates."""
    cats = categorise(qs, predicted)
    wrong = cats != ""
    carry = needs_carry_or_borrow(qs)
    negative = qs.results < 0
    groups = []
    for op in ("+", "-"):
        for has_carry in (False, True):
            for neg in ((False,) if op == "+" else (False, True)):
                mask = (qs.op == op) & (carry == has_carry) & (negative == neg)
                if not mask.any():
                    continue
                label = "carry" if op == "+" else "borrow"
                groups.append({
                    "operator": op,
                    "case": (f"{'with' if has_carry else 'no'} {label}"
                             + ("" if op == "+" else (", negative" if neg else ", non-negative"))),
                    "queries": int(mask.sum()),
                    "errors": int(wrong[mask].sum()),
                    "error_rate": float(wrong[mask].mean()),
                })
    pred = np.asarray(predicted).astype(f"<U{qs.answer_length}")
    p = np.strings.ljust(pred, qs.answer_length).view("<U1").reshape(len(qs), -1)
    t = qs.answers.astype(f"<U{qs.answer_length}").view("<U1").reshape(len(qs), -1)
    return ErrorReport(
        n=len(qs), n_wrong=int(wrong.sum()),
        categories={c: int((cats == c).sum()) for c in CATEGORIES},
        by_group=groups, per_position=(p != t).mean(axis=0),
    )


def examples(qs: QuerySet, predicted: np.ndarray, *, n_right: int = 4, n_wrong: int = 8) -> str:
    """A few right and wrong answers as text (``'41-89'='48' (true -48)``), first the right
    ones, then the wrong ones with their category; a line is left out when it has none."""
    cats = categorise(qs, predicted)
    lines = []
    for label, idx in (("right", np.flatnonzero(cats == "")[:n_right]),
                       ("wrong", np.flatnonzero(cats != "")[:n_wrong])):
        if len(idx):
            shown = ", ".join(f"{qs.queries[i].strip()}={str(predicted[i]).strip()!r} "
                              f"(true {qs.answers[i].strip()}" + (f", {cats[i]})" if cats[i] else ")")
                              for i in idx)
            lines.append(f"{label}: {shown}")
    return "\n".join(lines)


def error_grid(qs: QuerySet, predicted: np.ndarray, op: str, *, bins: int | None = None) -> np.ndarray:
    """Error rate over the operand grid for operator ``op``: ``grid[a, b]`` (rows: first
    operand). Cells without a test query are NaN. ``bins`` aggregates operands into that
    many ranges per axis (use it for 3-digit queries: 1000x1000 cells are too many to see)."""
    if op not in ("+", "-"):
        raise ValueError(f"op must be '+' or '-', got {op!r}")
    size = 10**qs.digits
    bins = bins or size
    if size % bins:
        raise ValueError(f"bins={bins} must divide {size}")
    wrong = categorise(qs, predicted) != ""
    mask = qs.op == op
    ia, ib = qs.a[mask] * bins // size, qs.b[mask] * bins // size
    errors = np.zeros((bins, bins))
    counts = np.zeros((bins, bins))
    np.add.at(errors, (ia, ib), wrong[mask])
    np.add.at(counts, (ia, ib), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, errors / counts, np.nan)


@dataclass(frozen=True)
class ColumnMistakes:
    """Per query: ``column`` of the first wrong answer digit (0 = ones, 1 = tens, ...; -1 where
    the answer is right, the sign is wrong or it is malformed) and its ``subtask`` (one of
    :data:`SUBTASKS`, ``''`` where the answer is right)."""

    column: np.ndarray
    subtask: np.ndarray

    def counts(self) -> list[dict[str, object]]:
        """Rows ``{"column", "subtask", "errors"}`` for every (column, sub-task) that occurs,
        columns named ``'ones'``, ``'tens'``, ... (``'-'`` for sign and malformed)."""
        names = ("ones", "tens", "hundreds", "thousands")
        wrong = self.subtask != ""
        pairs = sorted({(int(c), str(t)) for c, t in zip(self.column[wrong], self.subtask[wrong],
                                                         strict=True)},
                       key=lambda p: (SUBTASKS.index(p[1]), p[0]))
        return [{"column": names[c] if 0 <= c < len(names) else ("-" if c < 0 else f"10^{c}"),
                 "subtask": t,
                 "errors": int(((self.column == c) & (self.subtask == t)).sum())}
                for c, t in pairs]


def column_mistakes(qs: QuerySet, predicted: np.ndarray) -> ColumnMistakes:
    """Label every wrong answer by its first wrong column and that column's sub-task.

    The true answer is worked out column by column from the ones up, as on paper: ``a+b``
    with carries, ``a-b`` as the larger operand minus the smaller with borrows, then the sign.
    A wrong sign is labelled ``sign`` (it decides which operand is subtracted from which, so
    it comes first); an answer that is not a number is ``malformed``, the right number written
    wrongly (``'05'``) is ``format``. Otherwise the first
    column (from the ones up) whose predicted digit is wrong is labelled by what it had to do:

    ``plain sum`` / ``plain difference``  nothing carried or borrowed into it
    ``carry``             a carry from the column below, whose own digits sum to 10 or more
    ``cascading carry``   a carry passed on through a column whose digits sum to 9 (``95+5``)
    ``borrow``            a borrow from the column below, whose larger-operand digit is smaller
    ``cascading borrow``  a borrow passed on through a column whose digits are equal
                          (``100-1``: the borrow goes through the 0)
    """
    predicted = np.asarray(predicted).astype(str)
    if len(predicted) != len(qs):
        raise ValueError(f"{len(predicted)} predictions for {len(qs)} queries")
    truth = qs.results.astype(np.int64)
    value, valid = _parse_answers(predicted)
    columns = qs.digits + 1
    plus = qs.op == "+"
    # the carry (or borrow) into each column and how far it travelled, worked out on paper
    chain = written_columns(long_queries_from_query_set(qs)).chain
    powers = 10 ** np.arange(columns + 1)
    pd, td = (np.abs(value)[:, None] // powers) % 10, (np.abs(truth)[:, None] // powers) % 10
    digit_wrong = pd != td
    first = np.where(digit_wrong.any(axis=1), digit_wrong.argmax(axis=1), -1)
    first = np.minimum(first, columns - 1)  # a digit beyond the answer's width: the top column
    travelled = chain[np.arange(len(qs)), first]
    carried, cascaded = travelled >= 1, travelled >= 2
    sub = np.where(plus, np.where(cascaded, "cascading carry", np.where(carried, "carry", "plain sum")),
                   np.where(cascaded, "cascading borrow",
                            np.where(carried, "borrow", "plain difference")))
    sign_wrong = valid & ((value < 0) != (truth < 0))
    subtask = np.where(first >= 0, sub, "").astype("<U16")
    subtask[sign_wrong] = "sign"
    subtask[~valid] = "malformed"
    subtask[valid & (value == truth)] = "format"
    # right exactly where exact match says so (the same comparison of stripped strings)
    subtask[np.strings.strip(predicted) == np.strings.strip(qs.answers.astype(str))] = ""
    column = np.where(np.isin(subtask, ["", "sign", "malformed", "format"]), -1, first)
    return ColumnMistakes(column=column, subtask=subtask)


#: How a wrong answer to a long query is wrong (:func:`long_mistakes`).
LONG_KINDS = ("malformed", "digit", "digit and sign", "sign")


@dataclass(frozen=True)
class LongMistakes:
    """Where each answer to a long query set goes wrong (all arrays ``(n,)``; see
    :func:`long_mistakes`): ``kind`` (one of :data:`LONG_KINDS`, ``''`` where right), ``op``,
    ``column`` (the first wrong digit from the ones, ``-1`` if none), ``chain`` (the carry or
    borrow chain that ends at that column: 0 none, 1 from the column below, ``k`` passed on
    through ``k-1`` columns), ``column_sum`` (what that column adds up to, ``top +/- bottom +
    carry``, ``-10 ... 19``), ``deciding_column`` (the most significant column where the
    operands differ, which decides a difference's sign; ``-1`` if they are equal) and
    ``digits`` (per operand)."""

    kind: np.ndarray
    op: np.ndarray
    column: np.ndarray
    chain: np.ndarray
    column_sum: np.ndarray
    deciding_column: np.ndarray
    digits: int

    @property
    def wrong(self) -> np.ndarray:
        return self.kind != ""

    def counts(self, by: tuple[str, ...] = ("op", "kind", "chain")) -> list[dict[str, object]]:
        """The wrong answers counted by the fields in ``by`` (any of ``kind``, ``op``,
        ``column``, ``chain``, ``column_sum``, ``deciding_column``): one row per combination
        that occurs, ``{field: value, ..., "errors": count}``, most errors first."""
        fields = ("kind", "op", "column", "chain", "column_sum", "deciding_column")
        unknown = [f for f in by if f not in fields]
        if unknown or not by:
            raise ValueError(f"count by one or more of {fields}, got {list(by)}")
        wrong = self.wrong
        keys = list(zip(*(getattr(self, f)[wrong].tolist() for f in by), strict=True))
        tally: dict[tuple, int] = {}
        for key in keys:
            tally[key] = tally.get(key, 0) + 1
        rows = [{**dict(zip(by, key, strict=True)), "errors": count} for key, count in tally.items()]
        return sorted(rows, key=lambda r: (-r["errors"], [str(r[f]) for f in by]))


def long_mistakes(qs: LongQueries, predicted: LongAnswers) -> LongMistakes:
    """Classify the answers ``predicted`` to long queries ``qs`` by where they go wrong.

    The true answer is worked out on paper (:func:`~idl_utils.long_queries.written_columns`);
    the first column from the ones up whose digit is wrong is where the mistake happened (the
    columns above it may follow from a wrong carry), described by the carry chain that
    reaches it and the sum it had to work out. A wrong sign is told apart (``sign`` when the
    digits are right) with the column that decides it."""
    if len(predicted) != len(qs) or predicted.digits.shape != (len(qs), qs.digits + 1):
        raise ValueError(f"{len(predicted)} answers of {predicted.digits.shape[1] - 1} digits for "
                         f"{len(qs)} queries of {qs.digits}: score the answers to these queries")
    written = written_columns(qs)
    digit_wrong = predicted.digits != written.digit
    has_digit_wrong = digit_wrong.any(axis=1)
    column = np.where(has_digit_wrong, digit_wrong.argmax(axis=1), -1)
    sign_wrong = predicted.negative != ((qs.op == "-") & written.a_smaller)
    kind = np.full(len(qs), "", dtype="<U14")
    kind[sign_wrong] = "sign"
    kind[has_digit_wrong] = "digit"
    kind[has_digit_wrong & sign_wrong] = "digit and sign"
    kind[~predicted.valid] = "malformed"
    rows, at = np.arange(len(qs)), np.maximum(column, 0)
    return LongMistakes(kind=kind, op=qs.op.copy(), column=column,
                        chain=np.where(column >= 0, written.chain[rows, at], 0),
                        column_sum=np.where(column >= 0, written.sum[rows, at], 0),
                        deciding_column=deciding_column(qs.a, qs.b), digits=qs.digits)
