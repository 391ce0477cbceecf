"""Sentences about a run's own numbers.

A notebook's markdown explains an idea and what to look for; a conclusion that depends on the
numbers ("a second layer helps", "the reader is within a point of the ceiling") is printed by a
code cell from the results of the run it sits in, with these helpers, so the words are right on
every machine and every profile.

* :func:`compare` -- two values of one measure: which is better, by how much, or a tie.
* :func:`trend` -- a measure along a sequence (1, 2, 3 layers): each step's change and the best.
* :func:`tally` -- several verdicts on one comparison: do they agree?
* :func:`ratio` -- how many times one cost is another (training time, seconds per epoch).
* :func:`learned` -- has a model learned the task at this profile, or are its comparisons
  about a model that has barely started?
* :func:`proportion_tie` -- two standard errors of the difference of two accuracies: a tie
  tolerance for :func:`compare`.
* :func:`hypothesis` -- a claim that ``a`` beats ``b`` (stated in the markdown as an idea, or as
  general knowledge with its source): does it hold in this run, with the evidence inline?
* :func:`verdict` -- the same for a claim checked some other way (a count, a threshold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def _check_number(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}: check the run's results")
    return value


def format_value(value: float, percent: bool = True) -> str:
    """``0.9815 -> '98.2%'`` when ``percent``, else four significant digits (``'44.72'``)."""
    return f"{value:.1%}" if percent else f"{value:.4g}"


def _format_gap(gap: float, percent: bool) -> str:
    return f"{gap * 100:.1f} points" if percent else f"{gap:.4g}"


def compare(a_name: str, a: float, b_name: str, b: float, *, what: str, percent: bool = True,
            tie: float = 0.0, higher_is_better: bool = True) -> str:
    """One sentence comparing two values of the measure ``what``.

    ``percent``: the values are fractions (accuracies), shown as percentages and their gap in
    percentage points. ``tie``: a gap at most this large (same units as the values) is a tie.
    ``higher_is_better=False`` for losses, FID, KID, seconds.

    >>> compare("2 layers", 0.985, "1 layer", 0.981, what="exact match")
    'exact match: 2 layers 98.5% vs 1 layer 98.1% -- 2 layers better by 0.4 points'
    >>> compare("MSE", 0.17658, "BCE", 0.17672, what="grey pixels", higher_is_better=False)
    'grey pixels: MSE 17.7% vs BCE 17.7% -- the same to the shown precision (a gap under 0.05 points)'
    """
    a, b = _check_number(a_name, a), _check_number(b_name, b)
    tie = _check_number("tie", tie)
    if tie < 0:
        raise ValueError(f"tie must be >= 0 (a tolerance), got {tie}")
    shown = f"{what}: {a_name} {format_value(a, percent)} vs {b_name} {format_value(b, percent)}"
    gap = abs(a - b)
    if gap <= tie:
        return f"{shown} -- a tie (a gap of {_format_gap(gap, percent)}, within {_format_gap(tie, percent)})"
    if percent and round(gap * 100, 1) == 0:  # "better by 0.0 points" would be a claim nobody can see
        return f"{shown} -- the same to the shown precision (a gap under 0.05 points)"
    a_wins = (a > b) == higher_is_better
    return f"{shown} -- {a_name if a_wins else b_name} better by {_format_gap(gap, percent)}"


def trend(values: Mapping[str, float], *, what: str, percent: bool = True, tie: float = 0.0,
          higher_is_better: bool = True) -> str:
    """A measure along an ordered sequence (e.g. encoder depth), each step with its change
    from the one before ("better", "worse" or "same" within ``tie``), then the best value.

    >>> trend({"1": 0.90, "2": 0.95, "3": 0.94}, what="exact match by layers")
    'exact match by layers: 1 90.0%, 2 95.0% (+5.0 points, better), 3 94.0% (-1.0 points, worse); best: 2'
    """
    if not values:
        raise ValueError("trend() needs at least one value")
    items = [(str(name), _check_number(str(name), v)) for name, v in values.items()]
    tie = _check_number("tie", tie)
    parts = []
    for i, (name, value) in enumerate(items):
        text = f"{name} {format_value(value, percent)}"
        if i:
            change = value - items[i - 1][1]
            sign = "+" if change >= 0 else "-"
            shown = _format_gap(abs(change), percent)
            if abs(change) <= tie:
                word = "same"
            else:
                word = "better" if (change > 0) == higher_is_better else "worse"
            text += f" ({sign}{shown}, {word})"
        parts.append(text)
    pick = max if higher_is_better else min
    best_value = pick(v for _, v in items)
    best = [name for name, v in items if abs(v - best_value) <= tie]
    best_text = best[0] if len(best) == 1 else " and ".join(best) + " (tied)"
    if len(items) == 1:
        return f"{what}: {parts[0]}"
    return f"{what}: {', '.join(parts)}; best: {best_text}"


def tally(subject: str, verdicts: Mapping[str, str]) -> str:
    """Several verdicts on one comparison (``{score name: verdict}``), grouped: one sentence
    saying whether they agree.

    >>> tally("GAN", {"FID": "kit better", "KID": "kit better"})
    'GAN: kit better on both scores (FID, KID)'
    """
    if not verdicts:
        raise ValueError(f"tally({subject!r}) needs at least one verdict")
    groups: dict[str, list[str]] = {}
    for score, verdict in verdicts.items():
        groups.setdefault(str(verdict), []).append(str(score))
    if len(groups) == 1:
        (verdict, scores), = groups.items()
        count = {1: "the only score", 2: "both scores"}.get(len(scores), f"all {len(scores)} scores")
        return f"{subject}: {verdict} on {count} ({', '.join(scores)})"
    return f"{subject}: the scores disagree -- " + "; ".join(
        f"{verdict} on {', '.join(scores)}" for verdict, scores in groups.items())


def verdict(claim: str, holds: bool | None, evidence: str) -> str:
    """One sentence saying whether ``claim`` holds in this run, with its ``evidence``;
    ``holds=None`` when the run cannot tell (a tie, too few items).

    >>> verdict("Redrawn images stop the reader memorising", False, "validation 98.0% vs test 93.5%")
    'Redrawn images stop the reader memorising -- does not hold in this run (validation 98.0% vs test 93.5%)'
    """
    if not claim or not evidence:
        raise ValueError("verdict() needs a claim and the evidence for it")
    status = {True: "holds in this run", False: "does not hold in this run",
              None: "this run cannot tell"}[holds]
    return f"{claim} -- {status} ({evidence})"


def hypothesis(claim: str, a_name: str, a: float, b_name: str, b: float, *, what: str,
               percent: bool = True, tie: float = 0.0, higher_is_better: bool = True) -> str:
    """Check the claim "``a_name`` is better than ``b_name`` on ``what``" against this run's
    values: holds, does not hold, or cannot tell (a gap within ``tie``), with the comparison
    of :func:`compare` as the evidence.

    >>> hypothesis("GANs are sharper", "GAN", 0.10, "VAE", 0.19, what="precision")[:68]
    'GANs are sharper -- does not hold in this run (precision: GAN 10.0% '
    """
    evidence = compare(a_name, a, b_name, b, what=what, percent=percent, tie=tie,
                       higher_is_better=higher_is_better)
    a, b = float(a), float(b)
    if abs(a - b) <= tie or (percent and round(abs(a - b) * 100, 1) == 0):
        return verdict(claim, None, evidence)
    return verdict(claim, (a > b) == higher_is_better, evidence)


def ratio(a_name: str, a: float, b_name: str, b: float, *, what: str, unit: str = "s") -> str:
    """How many times ``a`` is ``b`` (costs: seconds, memory).

    >>> ratio("kit", 30.0, "course", 60.0, what="seconds per epoch")
    'seconds per epoch: kit 30 s vs course 60 s -- 0.5x'
    """
    a, b = _check_number(a_name, a), _check_number(b_name, b)
    if b <= 0:
        raise ValueError(f"ratio() needs a positive {b_name} to divide by, got {b}")
    return f"{what}: {a_name} {a:.4g} {unit} vs {b_name} {b:.4g} {unit} -- {a / b:.2g}x"


def proportion_tie(a: float, b: float, n: int) -> float:
    """Two standard errors of the difference between two accuracies ``a`` and ``b``, each
    measured on ``n`` items: a gap smaller than this is within sampling noise (a tie)."""
    a, b = _check_number("a", a), _check_number("b", b)
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise ValueError(f"accuracies must lie in [0, 1], got {a} and {b}")
    if n < 1:
        raise ValueError(f"n (the number of items scored) must be >= 1, got {n}")
    return 2 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


#: Below this exact match a model has not learned the task yet: what it gets right is mostly
#: short answers and lucky guesses, so comparisons between such models say little.
LEARNED_FLOOR = 0.5


def learned(values: Mapping[str, float], *, profile: str, what: str = "test exact match",
            floor: float = LEARNED_FLOOR) -> str:
    """One sentence on whether the models in ``values`` (name -> score in [0, 1]) have learned
    the task in this run: the ones below ``floor`` are named, with what to do about it.

    >>> learned({"reader": 0.04, "text twin": 0.92}, profile="default")[:63]
    'Not learned yet at the default profile: reader (4.0% test exact'
    >>> learned({"reader": 0.97}, profile="full")
    'Every model learned the task in this run (test exact match at least 50.0%): reader 97.0%.'
    """
    if not values:
        raise ValueError("learned() needs at least one value")
    items = {str(k): _check_number(str(k), v) for k, v in values.items()}
    floor = _check_number("floor", floor)
    behind = {k: v for k, v in items.items() if v < floor}
    if not behind:
        shown = ", ".join(f"{k} {format_value(v)}" for k, v in items.items())
        return f"Every model learned the task in this run ({what} at least {format_value(floor)}): {shown}."
    shown = ", ".join(f"{k} ({format_value(v)} {what})" for k, v in behind.items())
    advice = ("a longer run (IDL_PROFILE=full, make reproduce) trains to convergence" if profile != "full"
              else "these models need more epochs than this run gave them")
    return (f"Not learned yet at the {profile} profile: {shown}. Read the comparisons below with that "
            f"in mind: {advice}.")
