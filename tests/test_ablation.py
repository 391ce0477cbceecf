import pytest

from idl_utils.ablation import COLUMN_VARIANTS, LENGTH_KEY, column_ablation


def test_unknown_variant_and_empty_arguments_are_refused():
    with pytest.raises(ValueError, match="Unknown ablation variant"):
        column_ablation(variants=["no carry"])
    with pytest.raises(ValueError, match="at least one training fraction"):
        column_ablation(fractions=[])


def test_every_variant_builds_and_the_ablation_returns_rows():
    """Every variant's model builds (the CLI trains them all); one trains end to end through
    the ablation's rows (the restarts of the full recipe are trained by notebook 02 and the
    restart tests of test_seq_models)."""
    from idl_utils.column_model import column_recipe

    assert {"full", "no alignment", "no shared cell", "one-hot codes", "no sign pass"} <= set(COLUMN_VARIANTS)
    for name, (aligned, kwargs) in COLUMN_VARIANTS.items():
        model = column_recipe(2, 200, aligned=aligned, **kwargs).build()
        assert model.count_params() > 0, name
    rows = column_ablation([0.01], [5], ["single start", "no shared cell"], epochs=2,
                           length_digits=30, length_queries=200)
    assert [r["variant"] for r in rows] == ["single start", "no shared cell"]
    assert all(r["split"] == "1/99" and r["seed"] == 5 and r["epochs"] == 2 for r in rows)
    assert all(0.0 <= r["exact_match"] <= 1.0 for r in rows)
    # scored beyond the training length where the variant can be: a shared cell only
    assert 0.0 <= rows[0][LENGTH_KEY] <= 1.0 and rows[1][LENGTH_KEY] is None


def test_summary_gives_mean_and_spread_per_variant_and_split_and_markdown_lists_every_run():
    from idl_utils.ablation import ablation_markdown, summarise

    rows = [{"variant": v, "split": "5/95", "seed": s, "exact_match": e, "train_seconds": t,
             "epochs": 10, "top_mistake": "carry (3)"}
            for v, s, e, t in [("full", 42, 1.0, 20.0), ("full", 43, 0.98, 25.0),
                               ("no sign pass", 42, 0.5, 12.0)]]
    summary = summarise(rows)
    assert [(r["variant"], r["seeds"]) for r in summary] == [("full", 2), ("no sign pass", 1)]
    assert summary[0]["exact_match"] == "99.00 ± 1.41 %"  # sample std of 1.00 and 0.98
    assert summary[0]["train_seconds_max"] == 25.0
    assert summary[1]["exact_match"] == "50.00 ± 0.00 %"
    assert all(r[LENGTH_KEY] == "-" for r in summary)  # rows from before the length column
    text = ablation_markdown(rows)
    assert "99.00 ± 1.41 %" in text and text.count("carry (3)") == 3
    longer = [{**r, LENGTH_KEY: v} for r, v in zip(rows, [0.9, 0.7, None], strict=True)]
    summary = summarise(longer)
    assert summary[0][LENGTH_KEY] == "80.00 ± 14.14 %" and summary[1][LENGTH_KEY] == "-"
    assert "| - |" in ablation_markdown(longer)


def test_verdicts_name_the_costliest_ingredient_per_split_and_loading_refuses_garbage(tmp_path):
    from idl_utils.ablation import column_verdicts, load_column_ablation

    rows = [{"variant": v, "split": sp, "seed": 42, "exact_match": e, "train_seconds": 1.0,
             "epochs": 1, "top_mistake": "-"}
            for v, sp, e in [("full", "1/99", 0.99), ("no sign pass", "1/99", 0.60),
                             ("single start", "1/99", 0.90), ("MLP read-out", "1/99", 0.992),
                             ("no sign pass", "5/95", 0.5)]]
    verdicts = column_verdicts(rows)
    assert verdicts[0].startswith("1/99: the full model answers 99.00%")
    assert "no sign pass (-39.0 points), single start (-9.0 points)" in verdicts[0]
    assert "(or better): MLP read-out" in verdicts[0]
    assert "5/95: the full model was not trained" in verdicts[1] and len(verdicts) == 2
    # scored at length: one more sentence per split with a full model scored there
    longer = [{**r, LENGTH_KEY: v} for r, v in zip(rows, [1.0, None, 0.5, 0.998, 0.2], strict=True)]
    verdicts = column_verdicts(longer)
    assert verdicts[2] == ("1/99, scored on 100-digit queries: the full model answers 100.00%; "
                           "taking out an ingredient costs most for single start (-50.0 points); "
                           "within half a point of it (or better): MLP read-out; cannot answer "
                           "them: no sign pass.") and len(verdicts) == 3
    assert load_column_ablation(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="make ablation-column"):
        load_column_ablation(tmp_path / "bad.json")
