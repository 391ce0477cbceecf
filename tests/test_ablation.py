import pytest

from idl_utils.ablation import VARIANTS, column_ablation


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

    assert {"full", "no alignment", "no shared cell", "one-hot codes", "no sign pass"} <= set(VARIANTS)
    for name, (aligned, kwargs) in VARIANTS.items():
        model = column_recipe(2, 200, aligned=aligned, **kwargs).build()
        assert model.count_params() > 0, name
    rows = column_ablation([0.01], [5], ["single start"], epochs=1)
    assert [r["variant"] for r in rows] == ["single start"]
    assert all(r["split"] == "1/99" and r["seed"] == 5 and r["epochs"] == 1 for r in rows)
    assert all(0.0 <= r["exact_match"] <= 1.0 for r in rows)
