"""Text-to-text benchmark: the course baseline, the kit's model and the column model, side by side.

Same queries, same split, same seed, one run; per model and split it reports exact-match and
per-character test accuracy, training seconds, epochs and the process's peak memory during
training, and writes them to a JSON file (``make reproduce`` fills the results tables from it).

Usage::

    python -m idl_utils.benchmark --digits 2 --splits 0.5 0.25 0.1 0.05 0.01
    python -m idl_utils.benchmark --digits 2 --splits 0.1 0.05 0.01 --models column --seeds 42 43 44
    python -m idl_utils.benchmark --digits 3 --splits 0.05 0.1 --models kit
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cache import load_or_train
from .column_model import column_recipe
from .config import DEFAULT_SEED, reports_dir, set_seed
from .queries import QuerySet, Split, exact_match, make_queries, per_char_accuracy, split_queries
from .results import atomic_write_json, markdown_table
from .seq_models import (
    Recipe,
    course_recipe,
    how_training_ended,
    kit_recipe,
    predict_answers,
    train_seq_model,
)

MODELS = ("course", "course_as_given", "kit", "column")


@dataclass
class Trained:
    """A trained model with its scores: ``row`` (a results-table row), the ``model``, the
    ``test`` queries it was scored on, its ``predicted`` answers to them and the training
    ``history`` (per-epoch metrics)."""

    row: dict[str, Any]
    model: Any
    test: QuerySet
    predicted: np.ndarray
    history: dict[str, list[float]]


#: A graded student report of this assignment (2025): the course's plain LSTM encoder-decoder,
#: trained by the student, on the course's splits. Reported per character (at 50/50 also as 194
#: mistakes in the 10,000 test queries): a kit row is set beside it in the same metric.
GRADED_REPORT = {"50/50": {"exact_match": 1 - 194 / 10_000, "per_char": 0.9934},
                 "25/75": {"per_char": 0.9736},
                 "10/90": {"per_char": 0.7294}}


def versus_graded_report(summary: Sequence[Mapping[str, Any]],
                         report: Mapping[str, Mapping[str, float]] = GRADED_REPORT) -> list[dict[str, Any]]:
    """One row per split and metric of the graded ``report``: its number beside this run's mean
    over seeds for every model of ``summary`` (rows of :func:`summarise_seeds`) trained on that
    split, so each number sits beside one measured the same way."""
    rows = []
    for split, metrics in report.items():
        for metric, value in metrics.items():
            row: dict[str, Any] = {"split": split, "metric": metric.replace("_", " "),
                                   "graded report": value}
            for r in summary:
                if r["split"] == split and f"{metric}_mean" in r:
                    row[f"{r['model']} (this run)"] = r[f"{metric}_mean"]
            rows.append(row)
    return rows


def test_sample(split: Split, max_test: int | None, seed: int) -> QuerySet:
    """The split's test queries, or a seeded random sample of ``max_test`` of them (3-digit
    splits hold up to 1.9 million; 200,000 pin accuracy down to about +-0.05 points)."""
    if max_test is None or len(split.test) <= max_test:
        return split.test
    pick = np.random.default_rng([seed, 7]).choice(len(split.test), max_test, replace=False)
    return split.test.subset(np.sort(pick))


def train_and_score(recipe: Recipe, split: Split, *, seed: int = DEFAULT_SEED,
                    max_test: int | None = None) -> Trained:
    """Train ``recipe`` on ``split`` (or load it from the model cache) and score it on the
    split's test queries (all, or a seeded sample of ``max_test``). The row holds test exact
    match and per-character accuracy, epochs, starts tried, training seconds and peak memory."""
    config = {**recipe.config(), "split": split.name, "seed": seed,
              "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test)}

    set_seed(seed)  # the same initial weights for the same seed, whatever ran before
    model, info = load_or_train(
        f"t2t_{recipe.name}_{recipe.digits}d", config, build=recipe.build,
        train=lambda m: train_seq_model(m, recipe.representation, split.train, split.val,
                                        recipe.train, seed=seed,
                                        name=f"{recipe.name} {split.name} seed {seed}"))
    start = time.perf_counter()
    test = test_sample(split, max_test, seed)
    predicted = predict_answers(model, recipe.representation, test)
    row = {
        "model": recipe.name, "encoder_layers": recipe.model_kwargs.get("encoder_layers", 1),
        "digits": recipe.digits, "split": split.name, "seed": seed,
        "train_queries": len(split.train), "test_queries": len(test),
        "exact_match": exact_match(predicted, test.answers),
        "per_char": per_char_accuracy(predicted, test.answers),
        "epochs": info["epochs_run"], "best_epoch": info["best_epoch"],
        "stopped": how_training_ended(info),
        "starts": len(info.get("restarts") or [info]),
        "train_seconds": round(info["seconds"], 1),
        "predict_seconds": round(time.perf_counter() - start, 1),
        "peak_memory_gib": info.get("peak_memory_gib"),
    }
    return Trained(row, model, test, predicted, info["history"])


def train_many(queries: QuerySet, models: Sequence[str], fractions: Sequence[float],
               seeds: Sequence[int] | Mapping[tuple[str, float], Sequence[int]], *,
               train: Mapping[str, Mapping[str, Any]] | None = None, encoder_layers: int = 1,
               max_test: int | None = None) -> dict[tuple[str, float, int], Trained]:
    """Train and score every model on every split of ``queries`` (training ``fractions``), once
    per seed -- each seed its own split and its own initial weights -- through the model cache.
    ``seeds``: the same seeds for all, or per ``(model, fraction)`` (missing pairs: the first
    seed of :data:`~idl_utils.config.DEFAULT_SEED`). ``train``: per model, training settings
    that replace the recipe's (``{"kit": {"epochs": 2}}``; None values keep the recipe's).
    Returns ``{(model, fraction, seed): Trained}`` in training order."""
    runs = {}
    for fraction in fractions:
        for name in models:
            chosen = seeds.get((name, fraction), (DEFAULT_SEED,)) if isinstance(seeds, Mapping) else seeds
            for seed in chosen:
                split = split_queries(queries, fraction, int(seed),
                                      val_fraction=val_fraction_for(queries.digits))
                recipe = make_recipe(name, queries.digits, len(split.train), encoder_layers=encoder_layers)
                recipe = recipe.with_train(**(train or {}).get(name, {}))
                runs[name, fraction, int(seed)] = train_and_score(recipe, split, seed=int(seed),
                                                                  max_test=max_test)
    return runs


def make_recipe(name: str, digits: int, n_train: int, *, course_epochs: int = 50,
                max_seconds: float | None = None, encoder_layers: int = 1) -> Recipe:
    """The recipe of model ``name`` for this data size: ``"course"`` (the course's baseline
    trained to convergence), ``"course_as_given"`` (the course notebook's fixed
    ``course_epochs``), ``"kit"`` or ``"column"``."""
    if name == "course":
        return course_recipe(digits, n_train, max_seconds=max_seconds, encoder_layers=encoder_layers)
    if name == "course_as_given":
        return course_recipe(digits, n_train, converge=False, epochs=course_epochs,
                             max_seconds=max_seconds, encoder_layers=encoder_layers)
    if name == "kit":
        return kit_recipe(digits, n_train, max_seconds=max_seconds, encoder_layers=encoder_layers)
    if name == "column":
        return column_recipe(digits, n_train, max_seconds=max_seconds)
    raise ValueError(f"Unknown model {name!r}. Accepted: {', '.join(MODELS)}")


def val_fraction_for(digits: int) -> float:
    """10% of the training part for 2-digit splits; 2% (still >= 2,000 queries) for 3-digit."""
    return 0.1 if digits == 2 else 0.02


def run_one(model_name: str, digits: int, train_fraction: float, *, seed: int = DEFAULT_SEED,
            course_epochs: int = 50, max_seconds: float | None = None,
            restarts: int | None = None, max_test: int | None = 200_000) -> dict[str, Any]:
    """Train and score one model on one split of all queries (the benchmark's unit).
    ``restarts``: how many starts the recipe tries (None: the recipe's own number)."""
    split = split_queries(make_queries(digits), train_fraction, seed, val_fraction=val_fraction_for(digits))
    recipe = make_recipe(model_name, digits, len(split.train), course_epochs=course_epochs,
                         max_seconds=max_seconds).with_train(restarts=restarts)
    return {**train_and_score(recipe, split, seed=seed, max_test=max_test).row, "seed": seed}


def summarise_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and (sample) standard deviation over the seeds of each model and split of exact
    match and (where the rows have it) per-character accuracy, the epochs trained (a range),
    how many of the runs converged (rows with a ``stopped`` note: not "not converged") and the
    longest training time: ``{"model", "split", "seeds", "exact_match_mean", "exact_match_std",
    "per_char_mean", "per_char_std", "epochs", "converged", "train_seconds_max"}`` per
    (model, split), in first-seen order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["split"]), []).append(row)
    out = []
    for (model, split), group in groups.items():
        summary: dict[str, Any] = {"model": model, "split": split, "seeds": len(group)}
        if all("test_queries" in r for r in group):
            summary["test_queries"] = min(r["test_queries"] for r in group)
        for key in ("exact_match", "per_char"):
            if all(key in r for r in group):
                values = np.array([r[key] for r in group], dtype=float)
                summary[f"{key}_mean"] = float(values.mean())
                summary[f"{key}_std"] = float(values.std(ddof=1)) if len(group) > 1 else 0.0
        if all("epochs" in r for r in group):
            low, high = min(r["epochs"] for r in group), max(r["epochs"] for r in group)
            summary["epochs"] = str(low) if low == high else f"{low}-{high}"
        if all("stopped" in r for r in group):
            done = sum("not converged" not in r["stopped"] for r in group)
            summary["converged"] = {len(group): "all", 0: "none"}.get(done, f"{done} of {len(group)}")
        summary["train_seconds_max"] = max(r["train_seconds"] for r in group)
        out.append(summary)
    return out


def split_verdicts(summary: Sequence[Mapping[str, Any]], model: str, baseline: str) -> list[str]:
    """For every split on which :func:`summarise_seeds` rows ``summary`` hold both models: does
    ``model`` beat ``baseline`` on mean exact match in this run? A gap within two standard
    errors of the test sample (:func:`~idl_utils.narrate.proportion_tie`) is a tie."""
    from .narrate import hypothesis, proportion_tie

    rows = {(r["model"], r["split"]): r for r in summary}
    out = []
    for split in dict.fromkeys(r["split"] for r in summary):
        if (model, split) in rows and (baseline, split) in rows:
            a, b = rows[model, split], rows[baseline, split]
            tie = proportion_tie(a["exact_match_mean"], b["exact_match_mean"],
                                 min(a.get("test_queries", 1), b.get("test_queries", 1)))
            out.append(hypothesis(f"{split}: the {model} model beats the {baseline} model", model,
                                  a["exact_match_mean"], baseline, b["exact_match_mean"],
                                  what="mean exact match", tie=tie))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digits", type=int, default=2, choices=(2, 3))
    parser.add_argument("--splits", type=float, nargs="+", default=[0.5, 0.25, 0.1, 0.05],
                        help="training fractions, e.g. 0.5 for 50/50, 0.01 for 1/99")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="several seeds (each its own split and initial weights); overrides "
                             "--seed and adds a mean +- std table")
    parser.add_argument("--course-epochs", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="per-model training budget (stops after the epoch that exceeds it)")
    parser.add_argument("--restarts", type=int, default=None,
                        help="starts each model tries before training on (default: its recipe's; "
                             "the column model's is 3)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default: reports/.../benchmark_t2t_<digits>digit.json)")
    args = parser.parse_args(argv)

    seeds = args.seeds or [args.seed]
    rows = []
    for fraction in args.splits:
        for name in args.models:
            for seed in seeds:
                print(f"--- {name} model, {args.digits}-digit, train fraction {fraction}, seed {seed}",
                      flush=True)
                row = run_one(name, args.digits, fraction, seed=seed,
                              course_epochs=args.course_epochs, max_seconds=args.max_seconds,
                              restarts=args.restarts)
                print({k: row[k] for k in ("model", "split", "exact_match", "train_seconds",
                                           "epochs", "peak_memory_gib")}, flush=True)
                rows.append(row)
    out = args.out or reports_dir() / f"benchmark_t2t_{args.digits}digit.json"
    summary = summarise_seeds(rows)
    atomic_write_json(out, {"rows": rows, "summary": summary})
    print(markdown_table(rows, ["model", "split", "seed", "exact_match", "per_char", "train_seconds",
                                "epochs", "peak_memory_gib"]))
    if len(seeds) > 1:
        print(markdown_table(summary, ["model", "split", "seeds", "exact_match_mean",
                                       "exact_match_std", "train_seconds_max"]))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
