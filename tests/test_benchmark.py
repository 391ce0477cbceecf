import json

import numpy as np
import pytest

from idl_utils.benchmark import main, make_recipe, summarise_seeds, train_and_score
from idl_utils.queries import make_queries, split_queries


def _tiny_split():
    qs = make_queries(2).subset(np.arange(0, 20_000, 10))
    return split_queries(qs, 0.5, seed=1, val_fraction=0.1)


@pytest.mark.parametrize("name", ["course", "kit"])
def test_train_and_score_trains_once_then_loads_from_cache(name, capsys):
    split = _tiny_split()
    recipe = make_recipe(name, 2, len(split.train)).with_train(epochs=1, verbose=0)
    recipe = type(recipe)(recipe.name, recipe.representation,
                          {**recipe.model_kwargs, "units": 16}, recipe.train, recipe.digits)
    first = train_and_score(recipe, split, seed=0)
    assert "[cache] loaded" not in capsys.readouterr().out
    second = train_and_score(recipe, split, seed=0)
    assert "[cache] loaded" in capsys.readouterr().out
    assert np.array_equal(first.predicted, second.predicted)
    row = first.row
    assert row["model"] == name and row["split"] == "50/50" and row["epochs"] == 1
    assert 0 <= row["exact_match"] <= row["per_char"] <= 1
    assert row["test_queries"] == len(split.test) and row["peak_memory_gib"] > 0
    # a different configuration is a different cache entry: trained afresh
    third = train_and_score(recipe.with_train(batch_size=48), split, seed=0)
    assert "[cache] loaded" not in capsys.readouterr().out
    assert third.row["epochs"] == 1


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="Accepted: course, course_as_given, kit, column"):
        make_recipe("transformer", 2, 100)  # the message lists every model


def test_benchmark_command_writes_a_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # a real run of the command on the 5/95 split, kit model, 1 epoch budget via max-seconds
    assert main(["--digits", "2", "--splits", "0.05", "--models", "kit", "--max-seconds", "0.01",
                 "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 1 and rows[0]["split"] == "5/95" and rows[0]["epochs"] == 1 and rows[0]["starts"] == 1
    assert "| kit | 5/95 |" in capsys.readouterr().out


def test_summarise_seeds_gives_mean_and_sample_std_per_model_and_split():
    rows = [{"model": "column", "split": "1/99", "exact_match": e, "train_seconds": s}
            for e, s in ((0.9, 10.0), (0.8, 30.0), (1.0, 20.0))]
    rows.append({"model": "kit", "split": "1/99", "exact_match": 0.5, "train_seconds": 5.0})
    column, kit = summarise_seeds(rows)
    assert column["seeds"] == 3 and column["exact_match_mean"] == pytest.approx(0.9)
    assert column["exact_match_std"] == pytest.approx(0.1) and column["train_seconds_max"] == 30.0
    assert kit["seeds"] == 1 and kit["exact_match_std"] == 0.0


def test_benchmark_runs_the_column_model_on_the_1_99_split_over_seeds(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # one start each (the recipe's restarts are tested in test_seq_models): the CLI is what is tested
    assert main(["--digits", "2", "--splits", "0.01", "--models", "column", "--seeds", "1", "2",
                 "--max-seconds", "0.01", "--restarts", "1", "--out", str(out)]) == 0
    saved = json.loads(out.read_text())
    assert [r["starts"] for r in saved["rows"]] == [1, 1]
    assert [(r["model"], r["split"], r["seed"]) for r in saved["rows"]] == [
        ("column", "1/99", 1), ("column", "1/99", 2)]
    assert saved["summary"][0]["seeds"] == 2
    assert "exact_match_mean" in capsys.readouterr().out


def test_the_summary_gives_per_character_accuracy_epochs_and_how_many_runs_converged():
    rows = [{"model": "course", "split": "50/50", "exact_match": e, "per_char": c, "epochs": n,
             "stopped": stop, "train_seconds": 1.0}
            for e, c, n, stop in ((0.98, 0.99, 60, "early stopping at epoch 60 (best 45)"),
                                  (0.97, 0.98, 80, "epoch cap 80 reached, still improving (not converged)"))]
    (summary,) = summarise_seeds(rows)
    assert summary["per_char_mean"] == pytest.approx(0.985) and summary["per_char_std"] > 0
    assert summary["epochs"] == "60-80" and summary["converged"] == "1 of 2"


@pytest.mark.parametrize("train, curve, ran, best, words", [
    ({"epochs": 300, "patience": 12}, [0.2, 0.9, 0.95, 0.94], 4, 3, "early stopping at epoch 4 (best 3)"),
    ({"epochs": 4, "patience": 12}, [0.2, 0.5, 0.7, 0.9], 4, 4, "still improving (not converged)"),
    ({"epochs": 4, "patience": None}, [0.2, 0.5, 0.7, 0.9], 4, 4, "fixed 4 epochs, still improving"),
    ({"epochs": 4, "patience": None}, [0.2, 0.9, 0.95, 0.951], 4, 4, "fixed 4 epochs, flat at the end"),
])
def test_a_row_says_how_its_training_ended(train, curve, ran, best, words):
    from idl_utils.seq_models import how_training_ended

    record = {"history": {"val_exact": curve}, "train": train, "epochs_run": ran, "best_epoch": best,
              "n_val": 1000}
    assert words in how_training_ended(record)


def test_the_graded_report_is_set_beside_this_runs_numbers_in_the_same_metric():
    from idl_utils.benchmark import GRADED_REPORT, versus_graded_report

    summary = [{"model": "course", "split": "50/50", "exact_match_mean": 0.985, "per_char_mean": 0.995},
               {"model": "kit", "split": "50/50", "exact_match_mean": 1.0, "per_char_mean": 1.0},
               {"model": "course", "split": "10/90", "exact_match_mean": 0.4, "per_char_mean": 0.8}]
    rows = versus_graded_report(summary)
    assert [(r["split"], r["metric"]) for r in rows] == [
        ("50/50", "exact match"), ("50/50", "per char"), ("25/75", "per char"), ("10/90", "per char")]
    assert rows[0] == {"split": "50/50", "metric": "exact match", "graded report": 0.9806,
                       "course (this run)": 0.985, "kit (this run)": 1.0}
    assert rows[3]["graded report"] == GRADED_REPORT["10/90"]["per_char"]
    assert rows[3]["course (this run)"] == 0.8
    assert "course (this run)" not in rows[2]  # no 25/75 run: no number made up


def test_split_verdicts_say_per_shared_split_whether_a_model_beats_another():
    from idl_utils.benchmark import split_verdicts

    summary = [{"model": "course", "split": "5/95", "exact_match_mean": 0.08, "test_queries": 19_000},
               {"model": "column", "split": "5/95", "exact_match_mean": 1.0, "test_queries": 19_000},
               {"model": "column", "split": "1/99", "exact_match_mean": 0.99, "test_queries": 19_800},
               {"model": "course", "split": "50/50", "exact_match_mean": 0.980, "test_queries": 10_000},
               {"model": "column", "split": "50/50", "exact_match_mean": 0.981, "test_queries": 10_000}]
    lines = split_verdicts(summary, "column", "course")
    assert len(lines) == 2  # no course run at 1/99: nothing said about it
    assert lines[0].startswith("5/95: the column model beats the course model -- holds in this run")
    assert "50/50" in lines[1] and "this run cannot tell" in lines[1]
