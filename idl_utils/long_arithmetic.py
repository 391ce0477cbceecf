"""Arithmetic far beyond the training length: a 2-digit column model on 100-digit queries.

The column model (:mod:`idl_utils.column_model`) applies one cell to every column and reads
the sign from the columns one by one, so none of its weights depends on how many digits a
number has. Trained on a few hundred 2-digit queries, its weights go into a model for
``d``-digit operands unchanged (:func:`~idl_utils.column_model.widen_column_model`) and it
answers ``d``-digit queries (:mod:`idl_utils.long_queries`: digit arrays, seeded, exact
answers without big integers). This module scores it per length (:func:`score_lengths`:
exact match with a 95% Wilson interval) and is the command that measures it::

    python -m idl_utils.long_arithmetic --splits 0.05 0.01 --seeds 42 43 44 \\
        --lengths 3 5 10 20 50 100

trains (or loads from the model cache) the column model on each 2-digit split and seed, as
notebook 02 and the benchmark do, and prints exact match per length and seed, the mean over
the seeds, and where the answers at the longest length go wrong
(:func:`~idl_utils.error_analysis.long_mistakes`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from .benchmark import Trained, train_and_score, val_fraction_for
from .column_model import (
    COLUMN_MODEL_DEFAULTS,
    ColumnDigits,
    column_layer,
    column_recipe,
    widen_column_model,
)
from .config import DEFAULT_SEED
from .error_analysis import long_mistakes
from .long_queries import (
    LongAnswers,
    LongQueries,
    answers_match,
    long_queries_from_query_set,
    random_long_queries,
    written_columns,
)
from .queries import QuerySet, make_queries, split_queries
from .results import atomic_write_json, markdown_table
from .tools.compare import wilson_interval

#: the lengths the issue asks about (digits per operand)
LENGTHS = (3, 5, 10, 20, 50, 100)
#: queries scored per length
N_QUERIES = 5000


def predict_long(model: keras.Model, qs: LongQueries, *, batch_size: int = 5000,
                 hard_inference: bool | None = None) -> LongAnswers:
    """The column ``model``'s answers to ``qs`` (any length; the model is widened to it with
    the same weights; ``hard_inference`` ``True``/``False`` overrides the model's own setting,
    see :func:`~idl_utils.column_model.build_column_model`). The model is called eagerly:
    ``model.predict`` first traces a graph of all ``d+1`` columns, which takes about 20 s at
    100 digits, several times the prediction itself."""
    if len(qs) == 0:
        raise ValueError("no queries to answer")
    wide, rep = widen_column_model(model, qs.digits, hard_inference=hard_inference), ColumnDigits()
    parts = []
    for start in range(0, len(qs), batch_size):
        part = qs.subset(np.arange(start, min(start + batch_size, len(qs))))
        parts.append(rep.decode_long(np.asarray(wide(rep.encode_long(part), training=False))))
    return LongAnswers(*(np.concatenate([getattr(p, f) for p in parts])
                         for f in ("digits", "negative", "valid")))


@dataclass(frozen=True)
class LengthScore:
    """One length scored: the table ``row``, the ``queries`` and the model's ``predicted``
    answers (for :func:`~idl_utils.error_analysis.long_mistakes`)."""

    row: dict[str, Any]
    queries: LongQueries
    predicted: LongAnswers


def score_length(model: keras.Model, digits: int, *, n: int = N_QUERIES, seed: int = DEFAULT_SEED,
                 ops: str = "+-", hard_inference: bool | None = None) -> LengthScore:
    """Score the column ``model`` on ``n`` random ``digits``-digit queries
    (:func:`~idl_utils.long_queries.random_long_queries` with ``seed`` and ``ops``). The row:
    ``digits, queries, exact_match, ci_low, ci_high`` (95% Wilson interval), ``errors`` and
    ``seconds`` (drawing, encoding, predicting and checking). ``hard_inference``: see
    :func:`predict_long`."""
    start = time.perf_counter()
    qs = random_long_queries(n, digits, seed, ops)
    predicted = predict_long(model, qs, hard_inference=hard_inference)
    right = answers_match(predicted, qs.answers())
    exact = float(right.mean())
    low, high = wilson_interval(exact, n)
    row = {"digits": digits, "queries": n, "exact_match": exact, "ci_low": low, "ci_high": high,
           "errors": int(n - right.sum()), "seconds": round(time.perf_counter() - start, 2)}
    return LengthScore(row, qs, predicted)


def score_lengths(model: keras.Model, lengths: Sequence[int] = LENGTHS, *, n: int = N_QUERIES,
                  seed: int = DEFAULT_SEED, ops: str = "+-",
                  hard_inference: bool | None = None) -> list[dict[str, Any]]:
    """One row of :func:`score_length` per length in ``lengths``."""
    return [score_length(model, d, n=n, seed=seed, ops=ops, hard_inference=hard_inference).row
            for d in lengths]


def train_two_digit(fraction: float, seed: int, *, epochs: int | None = None,
                    **settings: Any) -> tuple[Trained, Any]:
    """The column model trained on a 2-digit split (``split_queries(make_queries(2),
    fraction, seed, val_fraction=0.1)``, as notebook 02 and the benchmark make it), with the
    recipe's settings changed by ``settings`` (see
    :func:`~idl_utils.column_model.column_recipe`), or loaded from the model cache.
    Returns the :class:`~idl_utils.benchmark.Trained` run (its row holds the 2-digit test
    exact match) and the split."""
    split = split_queries(make_queries(2), fraction, seed, val_fraction=val_fraction_for(2))
    recipe = column_recipe(2, len(split.train), **settings).with_train(epochs=epochs, verbose=0)
    return train_and_score(recipe, split, seed=seed), split


def summarise_lengths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, lowest and highest exact match over the seeds per split, inference and length
    (rows of :func:`measure`, or :func:`score_length` rows with a ``split``; a row without
    ``inference`` counts as ``"as trained"``): ``{"split", "inference", "digits", "seeds",
    "exact_match_mean", "exact_match_min", "exact_match_max"}``, in first-seen order."""
    groups: dict[tuple[str, str, int], list[float]] = {}
    for row in rows:
        key = (row["split"], row.get("inference", "as trained"), row["digits"])
        groups.setdefault(key, []).append(row["exact_match"])
    return [{"split": split, "inference": inference, "digits": digits, "seeds": len(v),
             "exact_match_mean": float(np.mean(v)), "exact_match_min": min(v),
             "exact_match_max": max(v)}
            for (split, inference, digits), v in groups.items()]


def measure(fractions: Sequence[float], seeds: Sequence[int], lengths: Sequence[int] = LENGTHS, *,
            n: int = N_QUERIES, epochs: int | None = None,
            inference: Sequence[bool | None] = (None,), **settings: Any) -> dict[str, Any]:
    """Train (or load) the column model on every 2-digit split and seed and score it on every
    length, once per ``inference`` setting (``hard_inference`` of :func:`predict_long`:
    ``None`` as trained, ``False`` soft, ``True`` hard). Returns ``{"rows", "summary",
    "mistakes"}``: one row per split, seed, inference and length (``split, seed, inference,
    digits, queries, exact_match, ci_low, ci_high, errors, seconds``; digits 2 is the split's
    own test set, scored as trained), the mean over the seeds, and per split, seed and
    inference the commonest ways the answers at the longest length go wrong."""
    rows, mistakes = [], []
    for fraction in fractions:
        for seed in seeds:
            run, split = train_two_digit(fraction, seed, epochs=epochs, **settings)
            low, high = wilson_interval(run.row["exact_match"], run.row["test_queries"])
            own = {"digits": 2, "queries": run.row["test_queries"],
                   "exact_match": run.row["exact_match"], "ci_low": low, "ci_high": high,
                   "errors": round((1 - run.row["exact_match"]) * run.row["test_queries"]),
                   "train_seconds": run.row["train_seconds"]}
            for hard in inference:
                label = {None: "as trained", False: "soft", True: "hard"}[hard]
                mine = [{"split": split.name, "seed": seed, "inference": label, **own}]
                for digits in lengths:
                    scored = score_length(run.model, digits, n=n, seed=seed, hard_inference=hard)
                    mine.append({"split": split.name, "seed": seed, "inference": label, **scored.row})
                found = long_mistakes(scored.queries, scored.predicted)
                for top in found.counts(("op", "kind", "column_sum", "chain"))[:5]:
                    mistakes.append({"split": split.name, "seed": seed, "inference": label,
                                     "digits": scored.queries.digits, **top})
                shown = ", ".join(f"{r['digits']}: {100 * r['exact_match']:.2f}%" for r in mine)
                print(f"{split.name} seed {seed} ({label}) -- exact match by digits {shown}", flush=True)
                rows += mine
    return {"rows": rows, "summary": summarise_lengths(rows), "mistakes": mistakes}


def _cell_combinations() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every combination one column can meet, as ``(sign, top, bottom, carry_in)`` arrays of
    400: ``+`` (sign +1) with a carry of 0 or 1, ``-`` (sign -1, larger minus smaller) with a
    borrow of 0 or -1, and all 10 x 10 digit pairs; combination ``i`` is number
    :func:`_combination_index` of its parts."""
    sign, top, bottom, carry = (g.ravel() for g in np.meshgrid(
        np.array([1, -1]), np.arange(10), np.arange(10), np.array([0, 1]), indexing="ij"))
    return sign, top, bottom, carry * sign


def _combination_index(sign: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                       carry_in: np.ndarray) -> np.ndarray:
    """The position of each combination in :func:`_cell_combinations` (arrays alike)."""
    return (((sign < 0) * 10 + top) * 10 + bottom) * 2 + (carry_in != 0)


def _combination_rows(counts: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One row per combination: ``op, top, bottom, carry_in, sum`` and the given columns."""
    sign, top, bottom, carry_in = _cell_combinations()
    total = top + sign * bottom + carry_in
    return [{"op": "+" if sign[i] > 0 else "-", "top": int(top[i]), "bottom": int(bottom[i]),
             "carry_in": int(carry_in[i]), "sum": int(total[i]),
             **{name: values[i].item() for name, values in counts.items()}}
            for i in range(len(sign))]


def cell_table(model: keras.Model) -> list[dict[str, Any]]:
    """The column ``model``'s shared cell on its own, on all 400 combinations a column can
    meet (operator, digit above, digit below, an exact carry or borrow coming in): per
    combination the ``sum`` it should work out, the ``digit`` and ``carry`` it gives (its most
    likely digit, its carry rounded) and whether both are ``right``. A cell right on all of
    them answers queries of any length, whatever the sign pass does."""
    layer = column_layer(model)
    if layer.codes != "ordinal" or not layer.shared:
        raise ValueError("cell_table reads the shared ordinal cell: build the model with "
                         "codes='ordinal', shared=True")
    sign, top, bottom, carry_in = _cell_combinations()
    columns = np.stack([top, bottom, sign, carry_in], axis=1).astype(np.float32)[:, :, None]
    probs, carry = layer.cell(0, *(ops.convert_to_tensor(columns[:, i]) for i in range(4)))
    digit, carry = np.asarray(probs).argmax(axis=-1), np.asarray(carry)[:, 0]
    total = top + sign * bottom + carry_in
    right = (digit == total % 10) & (np.round(carry) == total // 10)
    return _combination_rows({"digit": digit, "carry": carry, "right": right})


def cell_coverage(qs: QuerySet) -> list[dict[str, Any]]:
    """How often each of the 400 column combinations of :func:`cell_table` occurs in the
    columns of the queries ``qs`` (e.g. a training split), worked out on paper: rows
    ``{"op", "top", "bottom", "carry_in", "sum", "count"}``."""
    written = written_columns(long_queries_from_query_set(qs))
    sign = np.repeat(np.where(qs.op == "+", 1, -1)[:, None], written.top.shape[1], axis=1)
    index = _combination_index(sign, written.top.astype(int), written.bottom.astype(int),
                               written.carry_in)
    return _combination_rows({"count": np.bincount(index.ravel(), minlength=400)})


def mistake_counts(scores: Sequence[LengthScore],
                   by: tuple[str, ...] = ("op", "kind", "chain")) -> list[dict[str, Any]]:
    """The wrong answers of several scored runs (e.g. every seed at the longest length)
    counted together by the fields ``by`` of
    :meth:`~idl_utils.error_analysis.LongMistakes.counts`: one row per combination that
    occurs, ``{field: value, ..., "errors": count}``, most errors first."""
    tally: dict[tuple, int] = {}
    for scored in scores:
        for row in long_mistakes(scored.queries, scored.predicted).counts(by):
            key = tuple(row[f] for f in by)
            tally[key] = tally.get(key, 0) + int(row["errors"])
    rows = [{**dict(zip(by, key, strict=True)), "errors": n} for key, n in tally.items()]
    return sorted(rows, key=lambda r: (-r["errors"], [str(r[f]) for f in by]))


def cell_check(model: keras.Model, train: QuerySet) -> dict[str, Any]:
    """The shared cell of ``model`` on all 400 column combinations (:func:`cell_table`),
    against what its training queries ``train`` showed it (:func:`cell_coverage`):
    ``{"combinations", "right", "unseen", "right_unseen", "wrong"}`` -- how many it gets
    right, how many the training columns never contained and how many of those it gets right,
    and up to five it gets wrong, written ``'7-9 borrow -1'``."""
    table, coverage = cell_table(model), cell_coverage(train)
    unseen = [c["count"] == 0 for c in coverage]
    wrong = [f"{r['top']}{r['op']}{r['bottom']}" + (f" carry {r['carry_in']:+d}" if r["carry_in"] else "")
             for r in table if not r["right"]]
    return {"combinations": len(table), "right": sum(bool(r["right"]) for r in table),
            "unseen": sum(unseen),
            "right_unseen": sum(bool(r["right"]) and u for r, u in zip(table, unseen, strict=True)),
            "wrong": wrong[:5]}


def _setting(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    if key not in COLUMN_MODEL_DEFAULTS or not value:
        raise argparse.ArgumentTypeError(
            f"--set takes KEY=VALUE with KEY one of {', '.join(COLUMN_MODEL_DEFAULTS)}, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


_INFERENCE = {"as-trained": None, "soft": False, "hard": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=float, nargs="+", default=[0.05, 0.01],
                        help="2-digit training fractions (0.05: 5/95, 900 training queries)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS),
                        help="digits per operand to score on")
    parser.add_argument("--n", type=int, default=N_QUERIES, help="queries per length")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--inference", nargs="+", default=["as-trained"],
                        choices=list(_INFERENCE), help="score with the model's own hard_inference "
                        "setting, with soft or with hard inference (several: each in turn)")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="a column model setting, e.g. --set readout=steps")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    settings = dict(args.set)
    result = measure(args.splits, args.seeds, args.lengths, n=args.n, epochs=args.epochs,
                     inference=[_INFERENCE[i] for i in args.inference], **settings)
    print(markdown_table(result["rows"], ["split", "seed", "inference", "digits", "queries",
                                          "exact_match", "ci_low", "ci_high", "errors", "seconds"]))
    print(markdown_table(result["summary"]))
    print(markdown_table(result["mistakes"]))
    if args.out:
        atomic_write_json(args.out, {**result, "settings": settings, "lengths": args.lengths,
                                     "n": args.n})
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
