"""The column reader on notebook 03's honest splits, beside the judge's ceiling.

For each training fraction: the 2-digit queries split as notebook 03 splits them
(``make_queries(2).sample(subsample, seed)``, ``split_queries(..., fraction, seed,
val_fraction=0.1)``; training and validation images from MNIST's training digits, test images
from its test digits), a column reader trained on it (:func:`idl_utils.reading.trained_column_reader`,
cached), and one row: exact match and per character on the test queries, the share of those
queries the judge reads completely right (the ceiling), the training seconds and the glyph
source. ``--three-digit N`` also scores the 2-digit weights on ``N`` 3-digit test queries.

Usage: ``python -m idl_utils.tools.column_reader_splits --splits 0.5 0.1 --judge-epochs 12``;
the table goes to standard output and, with ``--out``, the rows and settings to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

#: notebook 03's seed and validation share
SEED = 42
VAL_FRACTION = 0.1


def measure(fractions: list[float], *, subsample: int | None, mnist_train: int | None,
            judge_epochs: int, recipe: Any, three_digit: int, mnist_source: str,
            seed: int = SEED) -> dict[str, Any]:
    """Rows of the column reader per split (see the module docstring) and what they were
    measured with."""
    from ..glyphs import glyph_banks
    from ..judge import judge_accuracy, trained_judge
    from ..mnist import load_mnist
    from ..queries import make_queries, split_queries
    from ..reading import column_reader_row, trained_column_reader
    from ..training import peak_memory_gib

    start = time.perf_counter()
    mnist = load_mnist(mnist_source, max_train=mnist_train)
    banks = glyph_banks(mnist, "honest")
    judge, judge_info = trained_judge(banks["train"], seed=seed, epochs=judge_epochs)
    judge_digits = judge_accuracy(judge, banks["test"], seed=seed)["digits"]
    queries = make_queries(2).sample(subsample, seed)
    rows = []
    for fraction in fractions:
        split = split_queries(queries, fraction, seed, val_fraction=VAL_FRACTION)
        reader, record = trained_column_reader(recipe, split, banks["train"], mode="honest",
                                               mnist_source=mnist.source, seed=seed)
        row = column_reader_row(reader, split, banks["test"], seed=seed, record=record, judge=judge)
        row.update({"column_val_exact": record["column_val_exact"],
                    "finetune_kept": record["finetune_kept"], "glyphs": mnist.source,
                    "cached": record["cached"]})
        if three_digit:
            three = make_queries(3).sample(three_digit, seed)
            row3 = column_reader_row(reader, split_queries(three, 0.5, seed), banks["test"], seed=seed,
                                     judge=judge)
            row.update({"3digit_exact_match": row3["exact_match"], "3digit_ceiling": row3["ceiling"],
                        "3digit_test_queries": len(three) - len(three) // 2})
        print(json.dumps(row), flush=True)
        rows.append(row)
    return {"rows": rows, "judge_digit_accuracy": judge_digits, "judge_epochs": judge_epochs,
            "judge_seconds": judge_info["seconds"], "mnist": mnist.source,
            "mnist_train_digits": len(mnist.y_train), "mnist_test_digits": len(mnist.y_test),
            "subsample": subsample, "seed": seed, "recipe": asdict(recipe),
            "wall_seconds": time.perf_counter() - start, "peak_memory_gib": peak_memory_gib()}


def main(argv: list[str] | None = None) -> int:
    from ..reading import ColumnReaderRecipe
    from ..seq_models import TrainConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=float, nargs="+", default=[0.5, 0.1],
                        help="training fractions (0.5: the 50/50 split)")
    parser.add_argument("--subsample", type=int, default=None,
                        help="queries to split (default: all 20,000)")
    parser.add_argument("--mnist", default="auto", help="MNIST source (idl_utils.mnist.SOURCES)")
    parser.add_argument("--mnist-train", type=int, default=None,
                        help="MNIST training digits to draw from (default: all)")
    parser.add_argument("--judge-epochs", type=int, default=12, help="notebook 03's full profile: 12")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--cnn", default="course", help="the glyph classifier: course or bn")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--column-epochs", type=int, default=None,
                        help="epochs of the column cell's stage (default: column_recipe's)")
    parser.add_argument("--finetune-epochs", type=int, default=6)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--three-digit", type=int, default=2000,
                        help="3-digit queries to sample (half are scored) with the 2-digit weights; 0: none")
    parser.add_argument("--out", type=Path, default=None, help="write the rows and settings as JSON")
    args = parser.parse_args(argv)
    recipe = ColumnReaderRecipe(
        features=args.features, cnn=args.cnn, pretrain_epochs=args.pretrain_epochs, restarts=args.restarts,
        column_epochs=args.column_epochs,
        finetune=TrainConfig(epochs=args.finetune_epochs, batch_size=64, learning_rate=args.finetune_lr,
                             lr_schedule="cosine", streaming=True))
    result = measure(args.splits, subsample=args.subsample, mnist_train=args.mnist_train,
                     judge_epochs=args.judge_epochs, recipe=recipe, three_digit=args.three_digit,
                     mnist_source=args.mnist)
    from ..results import atomic_write_json, markdown_table

    print(markdown_table(result["rows"], floatfmt=".4f"))
    print(f"judge: {result['judge_digit_accuracy']:.2%} of test digits ({args.judge_epochs} epochs, "
          f"{result['judge_seconds']:.0f} s); glyphs: {result['mnist']}; wall {result['wall_seconds']:.0f} s")
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
