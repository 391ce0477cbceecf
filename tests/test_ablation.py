import pytest

from idl_utils.ablation import VARIANTS, column_ablation


def test_unknown_variant_and_empty_arguments_are_refused():
    with pytest.raises(ValueError, match="Unknown ablation variant"):
        column_ablation(variants=["no carry"])
    with pytest.raises(ValueError, match="at least one training fraction"):
        column_ablation(fractions=[])


def test_every_variant_builds_and_the_ablation_returns_rows():
    assert {"full", "no alignment", "no shared cell", "one-hot codes", "no sign pass"} <= set(VARIANTS)
    # the full recipe's restarts need 2 epochs at least: 3 starts of 1 epoch, then 1 more
    rows = column_ablation([0.01], [5], ["full", "single start"], epochs=2)
    assert [r["variant"] for r in rows] == ["full", "single start"]
    assert all(r["split"] == "1/99" and r["seed"] == 5 and r["epochs"] == 2 for r in rows)
    assert all(0.0 <= r["exact_match"] <= 1.0 for r in rows)
