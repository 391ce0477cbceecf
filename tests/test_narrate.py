import doctest
import math

import pytest

from idl_utils import narrate
from idl_utils.narrate import compare, format_value, proportion_tie, ratio, tally, trend


def test_doctests():
    failures, tried = doctest.testmod(narrate)
    assert tried >= 4 and failures == 0


def test_format_value():
    assert format_value(0.98145) == "98.1%"
    assert format_value(44.7213, percent=False) == "44.72"


def test_compare_names_the_winner_either_way_round():
    assert compare("a", 0.90, "b", 0.95, what="acc").endswith("b better by 5.0 points")
    assert compare("a", 0.95, "b", 0.90, what="acc").endswith("a better by 5.0 points")


def test_compare_lower_is_better_for_scores_like_fid():
    text = compare("kit", 20.0, "course", 44.0, what="FID", percent=False, higher_is_better=False)
    assert text == "FID: kit 20 vs course 44 -- kit better by 24"


def test_compare_tie_within_tolerance_but_not_beyond():
    assert "a tie" in compare("a", 0.981, "b", 0.979, what="acc", tie=0.005)
    assert "a tie" not in compare("a", 0.981, "b", 0.970, what="acc", tie=0.005)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_compare_rejects_non_finite_values(bad):
    with pytest.raises(ValueError, match="finite"):
        compare("a", bad, "b", 0.5, what="acc")


def test_compare_rejects_negative_tie_and_non_numbers():
    with pytest.raises(ValueError, match="tie"):
        compare("a", 0.5, "b", 0.5, what="acc", tie=-1)
    with pytest.raises(TypeError, match="number"):
        compare("a", "high", "b", 0.5, what="acc")


def test_steps_reports_each_change_and_the_best():
    text = trend({"1": 0.981, "2": 0.985, "3": 0.979}, what="exact match")
    assert "2 98.5% (+0.4 points, better)" in text
    assert "3 97.9% (-0.6 points, worse)" in text
    assert text.endswith("best: 2")


def test_steps_ties_and_lower_is_better():
    text = trend({"1": 100.0, "2": 50.0, "3": 50.2}, what="seconds", percent=False, tie=1.0,
                 higher_is_better=False)
    assert "2 50 (-50, better)" in text and "(+0.2, same)" in text
    assert text.endswith("best: 2 and 3 (tied)")


def test_steps_single_value_and_empty():
    assert trend({"only": 0.5}, what="acc") == "acc: only 50.0%"
    with pytest.raises(ValueError, match="at least one"):
        trend({}, what="acc")


def test_tally_agreement_and_disagreement():
    assert tally("VAE", dict.fromkeys("ABCD", "kit better")) == "VAE: kit better on all 4 scores (A, B, C, D)"
    mixed = tally("GAN", {"FID": "kit better", "KID": "a tie", "std FID": "course better"})
    assert mixed.startswith("GAN: the scores disagree")
    assert "kit better on FID" in mixed and "course better on std FID" in mixed
    with pytest.raises(ValueError):
        tally("x", {})


def test_ratio():
    assert ratio("3 layers", 224.0, "1 layer", 100.0, what="training time").endswith("2.2x")
    with pytest.raises(ValueError, match="positive"):
        ratio("a", 1.0, "b", 0.0, what="t")


def test_proportion_tie_shrinks_with_more_items_and_checks_input():
    small, large = proportion_tie(0.9, 0.9, 100), proportion_tie(0.9, 0.9, 10_000)
    assert math.isclose(small, 2 * math.sqrt(0.18 / 100))
    assert math.isclose(small / large, 10)
    assert proportion_tie(1.0, 1.0, 50) == 0
    with pytest.raises(ValueError, match="n"):
        proportion_tie(0.5, 0.5, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        proportion_tie(1.5, 0.5, 10)


def test_learned_names_only_the_models_below_the_floor_and_says_what_to_do():
    from idl_utils.narrate import learned

    text = learned({"reader": 0.04, "twin": 0.93, "3-digit": 0.2}, profile="default")
    assert text.startswith("Not learned yet at the default profile")
    assert "reader (4.0%" in text and "3-digit (20.0%" in text and "twin" not in text
    assert "IDL_PROFILE=full" in text
    full = learned({"reader": 0.3}, profile="full")
    assert "IDL_PROFILE=full" not in full and "more epochs" in full
    assert learned({"reader": 0.5}, profile="smoke").startswith("Every model learned")
    with pytest.raises(ValueError, match="at least one"):
        learned({}, profile="default")
    with pytest.raises(ValueError, match="finite"):
        learned({"reader": float("nan")}, profile="default")


def test_a_hypothesis_holds_fails_or_cannot_be_told_from_the_runs_values():
    from idl_utils.narrate import hypothesis

    assert "-- holds in this run (exact match: kit 99.0% vs course 90.0%" in hypothesis(
        "the kit beats the course", "kit", 0.99, "course", 0.90, what="exact match")
    assert "-- does not hold in this run" in hypothesis(
        "the kit beats the course", "kit", 0.90, "course", 0.99, what="exact match")
    assert "-- this run cannot tell (" in hypothesis(
        "the kit beats the course", "kit", 0.905, "course", 0.90, what="exact match", tie=0.01)
    # lower is better: a lower KID holds the claim
    assert "holds in this run" in hypothesis("GAN beats VAE", "GAN", 0.04, "VAE", 0.06, what="KID",
                                             percent=False, higher_is_better=False)


def test_a_verdict_needs_its_evidence():
    from idl_utils.narrate import verdict

    with pytest.raises(ValueError, match="evidence"):
        verdict("redrawing stops memorising", True, "")
