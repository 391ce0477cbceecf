"""``make compare``: this run's ``results.json`` against the committed one, number by number.

A grader who ran ``make reproduce`` wants one verdict: did my run reproduce the published
numbers, within what the numbers themselves say is noise? This walks both results documents
metric by metric and prints one table -- metric, reference, this run, tolerance, verdict --
after the provenance differences (CPU features, package versions, data sources), which
explain most differences between machines.

Tolerances, from the data wherever the results carry it:

* **accuracies** (exact match, per character/digit/glyph, whole answer, judge accuracy, the
  judge's per-class accuracy): the 95% Wilson interval of the reference value on ``N`` test
  items, ``N`` read from beside the number (``test_queries_scored``, ``test_queries``,
  ``n_test_digits``, ...; per class: the digits divided among the classes), else
  :data:`DEFAULT_N` items, and the table says so;
* **a number with a standard deviation beside it** (``kid`` and ``kid_std``, a seed spread
  recorded as ``mean`` and ``std`` or ``exact_match_mean`` and ``exact_match_std``): the
  reference within 2 standard deviations;
* **counts of outcomes** (mistakes per error category): a Poisson interval, ``2 sqrt(n)``;
* **other measured numbers** (FID, losses, distances, best epoch): within :data:`DEFAULT_REL`
  of the reference, a stated default since the results record no spread for them;
* **everything else** (counts of items, epochs, configurations, labels, verdicts): exact.

Timings and memory readings are skipped (:func:`~idl_utils.tools.reproduce.without_timings`):
they measure the machine, not the models. Two runs on one machine kind with the same
packages are identical (``--exact`` checks exactly that).

NaN equals NaN: a number that is not a number in both runs is identical.

A run is only a run if this checkout's ``make reproduce`` made it. A fresh clone's
``reports/results.json`` *is* the committed reference, so by default this checks the record
``make reproduce`` keeps beside it (:mod:`idl_utils.tools.run_record`: per notebook its start,
machine, commit, whether it finished, and a digest of its results). A notebook without such a
record -- never run here, interrupted, failed, or restored by ``git checkout`` since -- is
NOT RUN; a results file named on the command line with no record beside it (another machine's
run) is taken as given, except that a notebook identical to the reference's, timings included,
did not run. The reference is read from git (``git show HEAD:reports/results.json``), never from
the working tree, which a run overwrites.

Exit status:

* 0 -- REPRODUCED: every number is within its tolerance;
* 1 -- DIFFERENT: a number outside its tolerance, or missing from / extra to one side;
* 2 -- an input cannot be read or is not a results document (one line on stderr says which);
* 3 -- NOT RUN (nothing compared was made by this checkout's ``make reproduce``, or the run is
  the reference itself) or INCOMPLETE (some notebooks were not run, or did not finish).

``make compare`` runs this; GNU make reports any failing command as its own exit status 2
("make: *** [Makefile:..: compare] Error 3" names this one's), so a script that needs the code
runs ``.venv/bin/python -m idl_utils.tools.compare``.

Usage: ``python -m idl_utils.tools.compare [RUN] [REFERENCE] [--only NOTEBOOK ...]
[--failures-only] [--exact] [--fingerprint]``; defaults: ``reports/results.json`` against the committed
one (``git show HEAD:reports/results.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT, REPORTS_DIR_ENV
from . import run_record
from .reproduce import without_timings

#: test items assumed for an accuracy whose results record no count beside it
DEFAULT_N = 1000
#: relative tolerance of a measured number whose results record no spread
DEFAULT_REL = 0.10
#: two-sided 95% normal quantile (binomial intervals); spreads are taken twice (about 95%)
Z95 = 1.959964
#: keys that hold an accuracy (a fraction of test items right)
ACCURACY_KEYS = frozenset({"exact_match", "per_char", "per_digit", "per_glyph", "whole_answer",
                           "all_glyphs", "digits", "judge_digits", "judge_digit_accuracy",
                           "judge_reads_whole_query", "accuracy", "digit_accuracy^4"})
#: keys that say how many test items the accuracies beside them were measured on, best first
N_KEYS = ("test_queries_scored", "n_test_queries", "test_queries", "n_test_digits", "n_test",
          "n_items")
#: a dict under a key containing one of these holds counts of outcomes (mistakes), not configs
OUTCOME_COUNT_WORDS = ("error", "mistake")
FAILING = ("OUTSIDE", "DIFFERS", "MISSING", "EXTRA")
#: exit statuses (module docstring)
REPRODUCED, DIFFERENT, UNREADABLE, NOT_RUN = 0, 1, 2, 3


class UnreadableResults(Exception):
    """An input that is not a readable ``results.json``."""


@dataclass(frozen=True)
class Tolerance:
    """What a run's value may be: within ``[low, high]``, or equal to the reference (exact)."""

    text: str
    low: float | None = None
    high: float | None = None

    @property
    def exact(self) -> bool:
        return self.low is None

    def admits(self, reference: Any, value: Any) -> bool:
        if self.exact:
            return _same(reference, value)
        return _is_number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class Row:
    """One line of the comparison."""

    metric: str
    reference: str
    run: str
    tolerance: str
    verdict: str  # same, ok, OUTSIDE, DIFFERS, MISSING (not in this run), EXTRA (not in reference)

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``p`` observed on ``n`` items (sound at 0 and 1)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at p = 0 (or 1) the bound is exactly 0 (or 1); the formula leaves a rounding error
    return (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return format(x, ".6g")
    if isinstance(x, dict | list):
        return f"{{{len(x)} entries}}" if isinstance(x, dict) else f"[{len(x)} entries]"
    return json.dumps(x) if isinstance(x, str | bool) or x is None else str(x)


def _std_beside(key: str, parent: dict[str, Any]) -> tuple[str, float] | None:
    """The standard deviation recorded beside ``key``, as (its key, value), if any."""
    names = [f"{key}_std", f"{key} std", f"{key}_sd"]
    if key == "mean":
        names.append("std")
    if key.endswith("_mean"):
        names.append(key[: -len("_mean")] + "_std")
    if key.endswith(" mean"):
        names.append(key[: -len(" mean")] + " std")
    for name in names:
        if _is_number(parent.get(name)):
            return name, float(parent[name])
    return None


def _items_beside(parent: dict[str, Any]) -> int | None:
    for name in N_KEYS:
        value = parent.get(name)
        if _is_number(value) and math.isfinite(value) and value >= 1:
            return int(value)
    return None


def tolerance_for(key: str, reference: Any, ancestors: list[tuple[str, Any]], *,
                  rel: float = DEFAULT_REL, default_n: int = DEFAULT_N) -> Tolerance:
    """The tolerance of the leaf ``key`` whose reference value is ``reference``; ``ancestors``:
    ``(key, value)`` pairs from the notebook's results down to the dict holding ``key``."""
    dicts = [(k, v) for k, v in ancestors if isinstance(v, dict)]  # a list's items: its dict
    if not _is_number(reference) or not math.isfinite(reference) or not dicts:
        return Tolerance("exact")  # NaN must stay NaN, infinity infinity
    parent_key, parent = dicts[-1]
    in_outcome_counts = any(word in str(k).lower() for k in [key, *(k for k, _ in ancestors)]
                            for word in OUTCOME_COUNT_WORDS)
    if isinstance(reference, int):
        if in_outcome_counts and reference >= 0:
            half = 2 * math.sqrt(max(reference, 1))
            return Tolerance(f"±{half:.3g} (Poisson, 2 sqrt(n))", reference - half, reference + half)
        if key.startswith("best_"):  # a result that happens to be whole (best epoch)
            half = max(1.0, rel * abs(reference))
            return Tolerance(f"±{half:.3g} (default {rel:.0%})", reference - half, reference + half)
        return Tolerance("exact")
    std = _std_beside(key, parent)
    if std is not None:
        name, value = std
        half = 2 * abs(value)
        spread = "seed spread" if "mean" in key or name == "std" else name
        return Tolerance(f"±{half:.3g} (2 × {spread})", reference - half, reference + half)
    per_class = parent_key == "per_class"
    if (key in ACCURACY_KEYS or per_class) and 0.0 <= reference <= 1.0:
        n = _items_beside(parent)
        where = ""
        if per_class and len(dicts) >= 2:
            total = _items_beside(dicts[-2][1])
            n = max(1, round(total / len(parent))) if total else None
            where = " per class"
        if n is None:
            n, where = default_n, " assumed"
        low, high = wilson_interval(reference, n)
        return Tolerance(f"{low:.4g}..{high:.4g} (binomial, N={n}{where})", low, high)
    half = rel * abs(reference)
    if half == 0:
        return Tolerance("exact")
    return Tolerance(f"±{half:.3g} (default {rel:.0%})", reference - half, reference + half)


def _label_words(item: dict[str, Any]) -> tuple[str, ...]:
    """A row's own labels: its short string fields other than verdicts."""
    return tuple(v for k, v in item.items()
                 if isinstance(v, str) and v and len(v) <= 40 and "verdict" not in k.lower())


def _list_label(item: Any, index: int) -> str:
    """``[i]`` plus the row's own labels (:func:`_label_words`), so a reader can find it."""
    if not isinstance(item, dict):
        return f"[{index}]"
    words = _label_words(item)
    return f"[{index}]" + (f" ({', '.join(words[:4])})" if words else "")


ROW_KEYS = ("seed", "encoder_layers")  # numbers that name a row rather than measure it


def _row_identity(item: Any) -> tuple | None:
    """What names a row of a results list: its short string fields and its seed or layer
    count; None for an item that is not a row (a number, a nested list)."""
    if not isinstance(item, dict):
        return None
    return _label_words(item) + tuple((k, item[k]) for k in ROW_KEYS if k in item)


def pair_rows(reference: list[Any], run: list[Any]) -> list[tuple[int | None, int | None]]:
    """Index pairs ``(reference, run)`` of the rows to compare; None on one side for a row the
    other list lacks. Lists of equal length pair by position. When a run has more or fewer
    rows (a notebook gained a split, a seed), rows pair by their identity (:func:`_row_identity`)
    if it is unique in both lists, so one added row does not shift every row after it."""
    n_ref, n_run = len(reference), len(run)
    ids_ref = [_row_identity(x) for x in reference]
    ids_run = [_row_identity(x) for x in run]
    by_identity = (n_ref != n_run and None not in ids_ref and None not in ids_run
                   and len(set(ids_ref)) == n_ref and len(set(ids_run)) == n_run)
    if not by_identity:
        return [(i if i < n_ref else None, i if i < n_run else None)
                for i in range(max(n_ref, n_run))]
    where = {identity: j for j, identity in enumerate(ids_run)}
    pairs: list[tuple[int | None, int | None]] = [(i, where.get(identity))
                                                  for i, identity in enumerate(ids_ref)]
    matched = {j for _, j in pairs if j is not None}
    return pairs + [(None, j) for j in range(n_run) if j not in matched]


def _count_numbers(obj: Any) -> int:
    if isinstance(obj, dict):
        return sum(_count_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(_count_numbers(v) for v in obj)
    return 1


def compare_values(reference: Any, run: Any, path: str, ancestors: list[tuple[str, Any]], *,
                   exact: bool = False, rel: float = DEFAULT_REL,
                   default_n: int = DEFAULT_N) -> Iterator[Row]:
    """Rows comparing two (parts of) results, leaf by leaf. ``path`` names this part;
    ``ancestors``: ``(key, reference value)`` pairs from the notebook's results down to this
    part (an item of a list carries its list's key)."""
    if isinstance(reference, dict) and isinstance(run, dict):
        for key in list(reference) + [k for k in run if k not in reference]:
            sub = f"{path} / {key}"
            if key not in run:
                yield Row(sub, _fmt(reference[key]), "missing", "", "MISSING")
            elif key not in reference:
                yield Row(sub, "missing", _fmt(run[key]), "", "EXTRA")
            else:
                yield from compare_values(reference[key], run[key], sub,
                                          ancestors + [(key, reference[key])],
                                          exact=exact, rel=rel, default_n=default_n)
        return
    if isinstance(reference, list) and isinstance(run, list):
        parent_key = ancestors[-1][0] if ancestors else ""
        for i, j in pair_rows(reference, run):
            if j is None:
                yield Row(path + " " + _list_label(reference[i], i), _fmt(reference[i]),
                          "missing", "", "MISSING")
            elif i is None:
                yield Row(path + " " + _list_label(run[j], j), "missing", _fmt(run[j]), "",
                          "EXTRA")
            else:  # a list item inherits its list's key (a row of a table is found by its list)
                yield from compare_values(reference[i], run[j], path + " " +
                                          _list_label(reference[i], i),
                                          ancestors + [(parent_key, reference[i])],
                                          exact=exact, rel=rel, default_n=default_n)
        return
    if isinstance(reference, dict | list) or isinstance(run, dict | list):
        yield Row(path, _fmt(reference), _fmt(run), "exact", "DIFFERS")
        return
    key = ancestors[-1][0]
    tol = Tolerance("exact") if exact else tolerance_for(key, reference, ancestors[:-1], rel=rel,
                                                         default_n=default_n)
    if _same(reference, run):
        verdict = "same"
    elif tol.admits(reference, run):
        verdict = "ok"
    else:
        verdict = "DIFFERS" if tol.exact else "OUTSIDE"
    yield Row(path, _fmt(reference), _fmt(run), tol.text, verdict)


def compare_results(reference: dict[str, Any], run: dict[str, Any], *,
                    only: list[str] | None = None, exact: bool = False, rel: float = DEFAULT_REL,
                    default_n: int = DEFAULT_N, not_run: Mapping[str, str] | None = None) -> list[Row]:
    """Every number of the two results documents, notebook by notebook (timings skipped);
    a notebook in ``not_run`` (the run's copy is not a run of it) is one ``NOT RUN`` row."""
    ref_nbs, run_nbs = reference["notebooks"], run["notebooks"]
    names = list(ref_nbs) + [n for n in run_nbs if n not in ref_nbs]
    if only:
        names = [n for n in names if n in only]
    rows: list[Row] = []
    for name in names:
        if name not in run_nbs:
            count = _count_numbers(without_timings(ref_nbs[name].get("results", {})))
            rows.append(Row(f"{name} (whole notebook)", f"{count} values", "missing", "", "MISSING"))
        elif name not in ref_nbs:
            rows.append(Row(f"{name} (whole notebook)", "missing", "present", "", "EXTRA"))
        elif name in (not_run or {}):
            count = _count_numbers(without_timings(ref_nbs[name].get("results", {})))
            rows.append(Row(f"{name} (whole notebook)", f"{count} values", "not run", "", "NOT RUN"))
        else:
            ref_results = without_timings(ref_nbs[name].get("results", {}))
            run_results = without_timings(run_nbs[name].get("results", {}))
            rows += compare_values(ref_results, run_results, name, [(name, ref_results)],
                                   exact=exact, rel=rel, default_n=default_n)
    return rows


def _flatten(obj: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(obj, dict):
        out: dict[str, str] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        return {prefix: " ".join(map(str, obj)) or "(none)"}
    return {prefix: str(obj)}


def provenance_differences(reference: dict[str, Any], run: dict[str, Any],
                           only: list[str] | None = None) -> list[str]:
    """How the two runs were made differently: profile, seed, hardware (CPU features), package
    versions, data sources. One line per difference, naming the notebooks it applies to."""
    lines = []
    if reference.get("profile") != run.get("profile"):
        lines.append(f"profile: {reference.get('profile')} -> {run.get('profile')} "
                     "(different profiles train different models: the numbers cannot agree)")
    found: dict[tuple[str, str, str], list[str]] = {}
    for name, nb in reference["notebooks"].items():
        if name not in run["notebooks"] or (only and name not in only):
            continue
        ref_prov = _flatten(nb.get("provenance", {}))
        run_prov = _flatten(run["notebooks"][name].get("provenance", {}))
        for key in sorted(set(ref_prov) | set(run_prov)):
            if key == "notebook":
                continue
            a, b = ref_prov.get(key, "(not recorded)"), run_prov.get(key, "(not recorded)")
            if a != b:
                found.setdefault((key, a, b), []).append(name.split("_", 1)[0])
    for (key, a, b), nbs in found.items():
        lines.append(f"{key} [{', '.join(nbs)}]: {a} -> {b}")
    return lines


def format_table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table."""
    header = Row("metric", "reference", "this run", "tolerance", "verdict")

    def cut(text: str, width: int) -> str:  # long texts (a dataset's description) are cut short
        return text if len(text) <= width else text[: width - 3] + "..."

    cells = [[cut(r.metric, 110), cut(r.reference, 24), cut(r.run, 24), cut(r.tolerance, 48),
              r.verdict] for r in [header, *rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_results(source: str | Path, *, text: str | None = None) -> dict[str, Any]:
    """A results document from ``source`` (a path; or its ``text`` when given), checked to be
    one: a JSON object with a ``notebooks`` object. Raises :class:`UnreadableResults`."""
    try:
        if text is None:
            text = Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError as exc:
        raise UnreadableResults(f"{source}: no such file (run `make reproduce` first, or give "
                                "the path of a results.json)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableResults(f"{source}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise UnreadableResults(f"{source}: not valid JSON ({exc}); is it a results.json "
                                "written by `make reproduce`?") from exc
    if not isinstance(data, dict) or not isinstance(data.get("notebooks"), dict):
        raise UnreadableResults(f"{source}: not a results document (no 'notebooks' object); "
                                "give a results.json written by `make reproduce`")
    for name, nb in data["notebooks"].items():
        what = (f"is a JSON {type(nb).__name__}, not an object" if not isinstance(nb, dict) else
                next((f"has a '{key}' that is a JSON {type(nb[key]).__name__}, not an object"
                      for key in ("results", "provenance") if not isinstance(nb.get(key, {}), dict)),
                     None))
        if what:
            raise UnreadableResults(f"{source}: notebook {name!r} {what}; the file is damaged or "
                                    "not written by `make reproduce` (run it again)")
    return data


def committed_results(rev: str = "HEAD", path: str = "reports/results.json") -> dict[str, Any]:
    """``results.json`` as committed at ``rev`` (``git show REV:reports/results.json``)."""
    spec = f"{rev}:{path}"
    try:
        done = subprocess.run(["git", "show", spec], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=False)
    except OSError as exc:
        raise UnreadableResults(f"git show {spec}: cannot run git ({exc}); give the reference "
                                "results.json as the second argument") from exc
    if done.returncode != 0:
        raise UnreadableResults(f"git show {spec} failed: {done.stderr.strip()}; give the "
                                "reference results.json as the second argument")
    return load_results(f"git show {spec}", text=done.stdout)


def fingerprints(results: dict[str, Any], only: list[str] | None = None) -> dict[str, str]:
    """Per notebook, a short hash of its published numbers (timings and memory readings left
    out, as are provenance records): equal fingerprints mean identical numbers. Two machines'
    runs can be checked against each other from a line of text each (``--fingerprint``)."""
    out = {}
    for name, nb in sorted(results.get("notebooks", {}).items()):
        if only and name not in only:
            continue
        text = json.dumps(without_timings(nb.get("results", {})), sort_keys=True, default=str)
        out[name] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def not_run_here(run: dict[str, Any], reference: dict[str, Any], run_path: Path,
                 names: list[str], *, default_run: bool) -> tuple[dict[str, str], list[str]]:
    """Which of ``names`` the run at ``run_path`` did not make, and why; plus lines that say
    where the notebooks it did make came from (:mod:`idl_utils.tools.run_record`)."""
    if _canonical(run) == _canonical(reference):
        return {n: ("this run's results are the reference's, timings and all (a fresh clone's "
                    "reports/, or one file given twice)") for n in names}, []
    reports = run_path.parent
    record = run_record.read_record(reports)
    if record is None and not default_run:  # e.g. another machine's results.json
        why = {n: ("not in this run" if n not in run["notebooks"] else
                   "identical to the reference's, timings included: the reference, not a run")
               for n in names if n not in run["notebooks"]
               or _canonical(run["notebooks"][n]) == _canonical(reference["notebooks"][n])}
        return why, [f"{run_path}: no record of `make reproduce` beside it; taken as a run as given"]
    why = run_record.not_made_here(reports, run, names)
    head = run_record.current_commit()
    lines = []
    for name in names:
        if name in why:
            continue
        made = record["notebooks"][name]  # not_made_here found it finished
        moved = "" if not head or made.get("commit") in (None, head) else f" (HEAD is now {head[:12]})"
        lines.append(f"{name}: made here by `make reproduce`, {run_record.describe(made)}{moved}")
    return why, lines


def _not_run_verdict(why: dict[str, str], names: list[str], rows: list[Row] | None) -> str:
    """The NOT RUN or INCOMPLETE verdict, with what to do."""
    reasons = sorted(set(why.values()))
    if len(why) == len(names):
        said = reasons[0] if len(reasons) == 1 else "; ".join(f"{n}: {r}" for n, r in why.items())
        return (f"Verdict: NOT RUN (exit status {NOT_RUN}) -- nothing compared was made by this "
                f"checkout's `make reproduce`: {said}. Run `make reproduce` first (`make speed` "
                "says how long it takes here), then `make compare`.")
    others = [r for r in rows or [] if r.failed and r.metric.split(" ", 1)[0] not in why]
    return (f"Verdict: INCOMPLETE (exit status {NOT_RUN}) -- {len(why)} of {len(names)} notebooks "
            "were not run here: " + "; ".join(f"{n}: {r}" for n, r in why.items())
            + f". Of the rest, {len(others)} values are outside their tolerance or missing. Run "
            "`make reproduce` (it resumes) and compare again, or compare what did run with "
            f"`--only {' '.join(n for n in names if n not in why)}`.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", type=Path,
                        help="results of this run (default: reports/results.json, or "
                             "$IDL_REPORTS_DIR/results.json when that is set)")
    parser.add_argument("reference", nargs="?", type=Path,
                        help="reference results (default: the committed reports/results.json)")
    parser.add_argument("--rev", default="HEAD",
                        help="git revision of the default reference (default: HEAD)")
    parser.add_argument("--only", nargs="*", help="notebook(s) to compare (default: all)")
    parser.add_argument("--failures-only", action="store_true",
                        help="list only the numbers that are not within tolerance")
    parser.add_argument("--exact", action="store_true",
                        help="every number must be identical (two runs on one machine kind)")
    parser.add_argument("--fingerprint", action="store_true",
                        help="print a short hash of each notebook's numbers in RUN and stop")
    args = parser.parse_args(argv)

    # what `make reproduce` wrote: reports/ (the full profile's folder) unless redirected
    default_run = args.run is None
    run_path = args.run or Path(os.environ.get(REPORTS_DIR_ENV) or PROJECT_ROOT / "reports") / "results.json"
    if default_run and not args.fingerprint and not run_path.exists():
        print(f"Verdict: NOT RUN (exit status {NOT_RUN}) -- there is no {run_path}: nothing has "
              "run here. Run `make reproduce` first, then `make compare`.")
        return NOT_RUN
    try:
        run = load_results(run_path)
        if args.fingerprint:
            for name, digest in fingerprints(run, args.only).items():
                print(f"{name}  {digest}")
            return REPRODUCED
        if args.reference:
            reference, ref_name = load_results(args.reference), str(args.reference)
        else:
            reference, ref_name = committed_results(args.rev), f"{args.rev}:reports/results.json"
    except UnreadableResults as exc:
        print(f"make compare: {exc}", file=sys.stderr)
        return UNREADABLE
    unknown = [n for n in args.only or [] if n not in reference["notebooks"]
               and n not in run["notebooks"]]
    if unknown:
        print(f"make compare: unknown notebook(s) {unknown}; known: "
              f"{sorted(set(reference['notebooks']) | set(run['notebooks']))}", file=sys.stderr)
        return UNREADABLE
    names = [n for n in reference["notebooks"] if not args.only or n in args.only]
    if not names and not run["notebooks"]:
        print(f"make compare: {ref_name} and {run_path} hold no notebook to compare",
              file=sys.stderr)
        return UNREADABLE

    print(f"Comparing {run_path} (this run) with {ref_name} (reference).\n")
    not_run, made_here = not_run_here(run, reference, run_path, names, default_run=default_run)
    if names and len(not_run) == len(names):
        print(_not_run_verdict(not_run, names, None))
        return NOT_RUN
    where = made_here + [f"{n}: NOT RUN -- {r}" for n, r in not_run.items()]
    if where:
        print("Where this run came from:")
        print("\n".join(f"  {line}" for line in where))
    differences = provenance_differences(reference, run, args.only)
    print("\nProvenance differences (these explain most differences in the numbers):")
    print("\n".join(f"  {line}" for line in differences) if differences
          else "  none: same profile, seed, machine kind, packages and data")
    rows = compare_results(reference, run, only=args.only, exact=args.exact, not_run=not_run)
    shown = [r for r in rows if r.failed or r.verdict == "NOT RUN"] if args.failures_only else rows
    print()
    print(format_table(shown) if shown else "No value outside its tolerance.")
    counts = {v: sum(r.verdict == v for r in rows) for v in ("same", "ok", *FAILING)}
    failed = sum(counts[v] for v in FAILING)
    print(f"\n{len(rows)} values: {counts['same']} identical to the reference, {counts['ok']} "
          f"different but within tolerance, {counts['OUTSIDE']} outside, {counts['DIFFERS']} "
          f"different where they must be equal, {counts['MISSING']} missing from this run, "
          f"{counts['EXTRA']} not in the reference"
          + (f"; {len(not_run)} of {len(names)} notebooks not run." if not_run else "."))
    if not_run:
        print(_not_run_verdict(not_run, names, rows))
        return NOT_RUN
    if failed:
        names = [r.metric for r in rows if r.failed]
        print(f"Verdict: DIFFERENT (exit status {DIFFERENT}) -- {failed} of {len(rows)} outside "
              "their tolerance or missing: " + "; ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
        if not differences:
            print("Same machine kind, packages and data: the kit's runs are identical there, so "
                  "any difference points at a change in the code or the data.")
        return DIFFERENT
    print(f"Verdict: REPRODUCED (exit status {REPRODUCED}) -- every value is within its tolerance.")
    return REPRODUCED


if __name__ == "__main__":
    raise SystemExit(main())
