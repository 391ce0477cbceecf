"""Which ingredient of the column model buys what: take one out at a time and retrain.

Each variant removes or changes one ingredient of
:func:`~idl_utils.column_model.build_column_model` or its recipe and is trained with the same
recipe otherwise, on the same splits and seeds as the full model:

==================  ===========================================================================
variant             what changes
==================  ===========================================================================
full                nothing: aligned ordinal digits, one shared cell, sign pass, a read-out table
                    with rows for the sum's half-unit intervals (the digit's rows shared by sums
                    ten apart; the carry's starting as a rising ramp, kept rising by a
                    penalty), carries and comparisons rounded between columns when answering,
                    the best of 3 starts
no alignment        operands as written (most significant digit first, left-justified)
no shared cell      a separate cell (sum, digit table, carry) for every column
one-hot codes       digits as one-hot codes instead of their values
no sign pass        no comparison from the most significant column and no swap: the sign has to
                    come from the final borrow, and a negative result's digits from the cell
MLP read-out        digit and carry read off the column sum by a learned ReLU layer instead of
                    a table over whole-number sums (so neither table's shape applies)
step read-out       the tables written as weights on soft steps ("is the sum above this step"),
                    so every update moves the entries of many sums at once (neither table's
                    shape applies)
digit row per sum   a row of the digit table for every sum, not one per sum within a ten: a sum
                    training never shows (``0-9-1 = -10``) has a row nothing taught
free carry          the carry table's rows start at zero and are free to fall as the sum grows
soft answers        carries and comparisons passed between columns as computed (about 0.98, not
                    1), not rounded: the small shortfall adds up over many columns
single start        one start from the seed's initial weights instead of the best of 3
==================  ===========================================================================

Every run is also scored far beyond its training length: on :data:`LENGTH_QUERIES` random
:data:`LENGTH_DIGITS`-digit queries (:func:`~idl_utils.long_arithmetic.score_length`), in the
column ``exact_match_100_digits``. Two variants have no answer there (``None``, shown as
``-``): "no shared cell" has a cell for each of its 3 columns only, and "no alignment" reads
column ``i`` as the ``i``-th character of the operand, which a longer number moves.

Usage::

    python -m idl_utils.ablation --splits 0.05 0.01 --seeds 42
    make ablation-column        # 3 seeds, tables in reports/ablation/column/
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .benchmark import summarise_seeds, train_and_score, val_fraction_for
from .column_model import column_recipe
from .config import DEFAULT_SEED, PROJECT_ROOT, reports_dir
from .error_analysis import column_mistakes
from .long_arithmetic import score_length
from .provenance import hardware, package_versions
from .queries import make_queries, split_queries
from .results import atomic_write_json, atomic_write_text, markdown_table

#: where ``make ablation-column`` publishes the ablation (notebook 02 shows it from here)
PUBLISHED_PATH = PROJECT_ROOT / "reports" / "ablation" / "column" / "ablation_column_model.json"
#: how far beyond the training length every variant is scored: digits per operand, queries
LENGTH_DIGITS, LENGTH_QUERIES = 100, 5000
LENGTH_KEY = f"exact_match_{LENGTH_DIGITS}_digits"
RUN_COLUMNS = ["variant", "split", "seed", "exact_match", LENGTH_KEY, "train_seconds", "epochs",
               "top_mistake"]

#: variant name -> (aligned, keyword arguments of :func:`~idl_utils.column_model.column_recipe`)
COLUMN_VARIANTS: dict[str, tuple[bool, dict[str, Any]]] = {
    "full": (True, {}),
    "no alignment": (False, {}),
    "no shared cell": (True, {"shared": False}),
    "one-hot codes": (True, {"codes": "onehot"}),
    "no sign pass": (True, {"sign_pass": False}),
    "MLP read-out": (True, {"readout": "mlp"}),
    "step read-out": (True, {"readout": "steps"}),
    "single start": (True, {"restarts": 1}),
    "digit row per sum": (True, {"digit_table": "per_sum"}),
    "free carry": (True, {"carry_table": "per_sum"}),
    "soft answers": (True, {"hard_inference": False}),
}


def column_ablation(fractions: Sequence[float] = (0.05, 0.01), seeds: Sequence[int] = (DEFAULT_SEED,),
                    variants: Sequence[str] | None = None, *, digits: int = 2,
                    epochs: int | None = None, length_digits: int = LENGTH_DIGITS,
                    length_queries: int = LENGTH_QUERIES) -> list[dict[str, Any]]:
    """Train every variant (default: all of :data:`COLUMN_VARIANTS`) on every split and seed, on the
    same splits as the notebook and the benchmark, and return one row per run:
    ``variant, split, seed, exact_match``, :data:`LENGTH_KEY` (exact match on
    ``length_queries`` random ``length_digits``-digit queries, seeded by the run's seed;
    ``None`` for the variants that cannot answer them), ``train_seconds, epochs,
    top_mistake`` (the most common sub-task of its wrong answers, see
    :func:`~idl_utils.error_analysis.column_mistakes`). ``epochs`` overrides the recipe's
    schedule (for quick checks)."""
    variants = list(COLUMN_VARIANTS) if variants is None else list(variants)
    unknown = [v for v in variants if v not in COLUMN_VARIANTS]
    if unknown:
        raise ValueError(f"Unknown ablation variant(s) {unknown}. Accepted: {', '.join(COLUMN_VARIANTS)}")
    if not fractions or not seeds:
        raise ValueError("give at least one training fraction and one seed")
    queries = make_queries(digits)
    rows: list[dict[str, Any]] = []
    total = len(fractions) * len(seeds) * len(variants)
    for fraction in fractions:
        for seed in seeds:
            split = split_queries(queries, fraction, seed, val_fraction=val_fraction_for(digits))
            for name in variants:
                aligned, kwargs = COLUMN_VARIANTS[name]
                recipe = column_recipe(digits, len(split.train), aligned=aligned, **kwargs)
                recipe = recipe.with_train(epochs=epochs, verbose=0)
                run = train_and_score(recipe, split, seed=seed)
                mistakes = Counter(column_mistakes(split.test, run.predicted).subtask.tolist())
                mistakes.pop("", None)
                top = mistakes.most_common(1)
                long = None
                if aligned and kwargs.get("shared", True):
                    long = score_length(run.model, length_digits, n=length_queries,
                                        seed=seed).row["exact_match"]
                rows.append({
                    "variant": name, "split": split.name, "seed": seed,
                    "exact_match": run.row["exact_match"], LENGTH_KEY: long,
                    "train_seconds": run.row["train_seconds"], "epochs": run.row["epochs"],
                    "top_mistake": f"{top[0][0]} ({top[0][1]})" if top else "-",
                })
                beyond = "" if long is None else f", {100 * long:.2f}% at {length_digits} digits"
                print(f"[{len(rows)}/{total}] {name}, {split.name}, seed {seed}: exact match "
                      f"{100 * run.row['exact_match']:.2f}%{beyond} after "
                      f"{run.row['train_seconds']:.0f} s of training", flush=True)
    return rows


def _percent(values: list[float | None]) -> str:
    """``"mean ± std %"`` (sample std) of fractions, or ``"-"`` if any is missing."""
    if not values or any(v is None for v in values):
        return "-"
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{100 * float(np.mean(values)):.2f} ± {100 * std:.2f} %"


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean +- std over the seeds of each variant and split (rows of :func:`column_ablation`)
    of exact match and of exact match at :data:`LENGTH_DIGITS` digits, as ``{"variant",
    "split", "seeds", "exact_match", LENGTH_KEY, "train_seconds_max"}``, both formatted as
    ``"mean ± std %"`` (``"-"`` where a variant has no answer at that length, or the rows come
    from an ablation run before it was measured)."""
    summary = summarise_seeds([{**row, "model": row["variant"]} for row in rows])
    return [{"variant": s["model"], "split": s["split"], "seeds": s["seeds"],
             "exact_match": f"{100 * s['exact_match_mean']:.2f} ± {100 * s['exact_match_std']:.2f} %",
             LENGTH_KEY: _percent([r.get(LENGTH_KEY) for r in rows
                                   if (r["variant"], r["split"]) == (s["model"], s["split"])]),
             "train_seconds_max": round(s["train_seconds_max"], 1)} for s in summary]


def ablation_markdown(rows: list[dict[str, Any]]) -> str:
    """The ablation as markdown: the mean +- std per variant and split, then every run."""
    return ("# Column model ablation (text-to-text, 2-digit)\n\n"
            "Each variant takes one ingredient out of the column model; same splits, seeds and "
            f"recipe otherwise. {LENGTH_KEY}: exact match on {LENGTH_QUERIES:,} random "
            f"{LENGTH_DIGITS}-digit queries (trained on 2 digits). Mean ± std over the seeds:\n\n"
            + markdown_table(summarise(rows), ["variant", "split", "seeds", "exact_match",
                                               LENGTH_KEY, "train_seconds_max"])
            + "\n\nEvery run (top_mistake: the commonest sub-task of its wrong answers):\n\n"
            + markdown_table([{**row, LENGTH_KEY: "-" if row.get(LENGTH_KEY) is None else row[LENGTH_KEY]}
                              for row in rows], RUN_COLUMNS) + "\n\n"
            + "\n".join(f"- {line}" for line in column_verdicts(rows)) + "\n")


def load_column_ablation(path: str | Path = PUBLISHED_PATH) -> dict[str, Any] | None:
    """The ablation ``main`` wrote to ``path``, or ``None`` if there is none yet (``make
    ablation-column`` makes it). A file that exists but cannot be read is an error."""
    import json

    path = Path(path)
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
        result["rows"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a column-model ablation ({err}); delete it and run "
                         "`make ablation-column` again") from err
    return result


def _cost_sentence(full: float, by_variant: dict[str, float]) -> str:
    """``"; taking out an ingredient costs most for ...; within half a point ..."``: the
    variants by how far below ``full`` they are (points of percent)."""
    costs = sorted(((full - v, name) for name, v in by_variant.items() if name != "full"), reverse=True)
    hurt = [f"{name} (-{cost:.1f} points)" for cost, name in costs if cost > 0.5]
    harmless = [name for cost, name in costs if cost <= 0.5]
    text = (f"; taking out an ingredient costs most for {', '.join(hurt)}" if hurt
            else "; no single change costs more than half a point")
    return text + (f"; within half a point of it (or better): {', '.join(harmless)}" if harmless else "")


def column_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One sentence per split, computed from the runs: the full model's mean exact match and
    the ingredients whose removal costs the most, largest first; then, where the runs were
    scored at :data:`LENGTH_DIGITS` digits, one sentence per split on that length (the
    variants that cannot answer there named apart)."""
    means: dict[str, dict[str, float]] = {}
    for row in summarise_seeds([{**row, "model": row["variant"]} for row in rows]):
        means.setdefault(row["split"], {})[row["model"]] = 100 * row["exact_match_mean"]
    out = []
    for split, by_variant in means.items():
        if "full" not in by_variant:
            out.append(f"{split}: the full model was not trained, so nothing to compare with")
            continue
        full = by_variant["full"]
        out.append(f"{split}: the full model answers {full:.2f}% of the test queries"
                   + _cost_sentence(full, by_variant) + ".")
    for split in means:
        mine = [row for row in rows if row["split"] == split]
        long: dict[str, list[float]] = {}
        for row in mine:
            if row.get(LENGTH_KEY) is not None:
                long.setdefault(row["variant"], []).append(100 * row[LENGTH_KEY])
        if "full" not in long:
            continue
        by_variant = {name: float(np.mean(v)) for name, v in long.items()}
        full = by_variant["full"]
        text = (f"{split}, scored on {LENGTH_DIGITS}-digit queries: the full model answers {full:.2f}%"
                + _cost_sentence(full, by_variant))
        unanswered = sorted({row["variant"] for row in mine} - set(long))
        if unanswered:
            text += f"; cannot answer them: {', '.join(unanswered)}"
        out.append(text + ".")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=float, nargs="+", default=[0.05, 0.01])
    parser.add_argument("--seeds", type=int, nargs="+", default=[DEFAULT_SEED])
    parser.add_argument("--variants", nargs="+", default=None, choices=list(COLUMN_VARIANTS))
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file, with a .md table beside it "
                             "(default: reports/.../ablation_column_model.json)")
    args = parser.parse_args(argv)
    rows = column_ablation(args.splits, args.seeds, args.variants)
    out = args.out or reports_dir() / "ablation_column_model.json"
    atomic_write_json(out, {"rows": rows, "summary": summarise(rows), "splits": args.splits,
                            "seeds": args.seeds, "hardware": hardware(),
                            "versions": package_versions()})
    markdown = ablation_markdown(rows)
    atomic_write_text(out.with_suffix(".md"), markdown)
    print(markdown)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
