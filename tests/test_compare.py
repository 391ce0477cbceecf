"""``make compare``: the committed results against themselves (not a run), against a run of
them, a copy with one number moved, with a notebook missing, and against files that are not
results."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from idl_utils.tools.compare import (
    DEFAULT_N,
    NOT_RUN,
    compare_results,
    load_results,
    main,
    provenance_differences,
    tolerance_for,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "reports" / "results.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(COMMITTED.read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, data: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _as_run(results: dict) -> dict:
    """``results`` as a second run of them would leave them: every timing differs, the
    notebooks' wall times and the training times among their results (the numbers of two runs
    on one machine kind are identical, their timings never are)."""
    from idl_utils.tools.reproduce import is_measurement

    def slower(obj):
        if isinstance(obj, dict):
            return {k: v + 0.5 if is_measurement(k) and isinstance(v, float) else slower(v)
                    for k, v in obj.items()}
        return [slower(v) for v in obj] if isinstance(obj, list) else obj

    run = copy.deepcopy(results)
    for nb in run["notebooks"].values():
        nb["results"] = slower(nb.get("results", {}))
        nb["wall_seconds"] = nb.get("wall_seconds", 0) + 1.5
    return run


def _row(rows, metric):
    matches = [r for r in rows if r.metric == metric]
    assert len(matches) == 1, [r.metric for r in rows if metric.split(" / ")[0] in r.metric][:20]
    return matches[0]


def test_the_reference_against_itself_is_not_a_run(reference, tmp_path, capsys):
    same = _write(tmp_path, "reference.json", reference)
    assert main([same, same]) == NOT_RUN
    out = capsys.readouterr().out
    assert "Verdict: NOT RUN (exit status 3)" in out and "the reference's, timings and all" in out
    assert "metric" not in out  # no table of 'same' rows that would read as a success
    # a run of it (timings differ, numbers identical) reproduces it
    assert main([_write(tmp_path, "run.json", _as_run(reference)), same]) == 0
    out = capsys.readouterr().out
    assert "Verdict: REPRODUCED (exit status 0)" in out and "none: same profile" in out
    rows = compare_results(reference, reference)
    assert len(rows) > 300 and all(r.verdict == "same" for r in rows)
    # timings and memory readings are not compared
    assert not any(r.metric.endswith(("seconds", "memory_gib")) for r in rows)


def test_make_compare_needs_a_run_made_by_this_checkout(tmp_path, capsys, made_here):
    """The fresh-clone case: reports/results.json is the committed reference, so plain
    ``make compare`` (no arguments) says NOT RUN until this checkout's make reproduce made the
    run; a run that stopped early is INCOMPLETE; the reference always comes from git."""
    shown = subprocess.run(["git", "show", "HEAD:reports/results.json"], cwd=ROOT,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip("not a git checkout with committed reports")
    committed = json.loads(shown.stdout)
    reports = tmp_path / "reports"  # what make compare reads here ($IDL_REPORTS_DIR, conftest)
    assert main([]) == NOT_RUN
    assert "there is no" in capsys.readouterr().out
    reports.mkdir()
    (reports / "results.json").write_text(shown.stdout, encoding="utf-8")  # a fresh clone
    assert main([]) == NOT_RUN
    assert "Verdict: NOT RUN (exit status 3)" in capsys.readouterr().out
    names = list(committed["notebooks"])
    run = _as_run(committed)
    (reports / "results.json").write_text(json.dumps(run), encoding="utf-8")  # copied in
    assert main([]) == NOT_RUN
    assert "no record of `make reproduce` in this checkout" in capsys.readouterr().out
    made_here(reports, run, names[1:2])  # make reproduce ran one notebook, then died
    assert main([]) == NOT_RUN
    out = capsys.readouterr().out
    assert f"Verdict: INCOMPLETE (exit status {NOT_RUN})" in out
    assert f"{len(names) - 1} of {len(names)} notebooks were not run here" in out
    assert f"{names[0]}: never run by `make reproduce` here" in out
    assert f"{names[1]}: made here by `make reproduce`, started " in out
    made_here(reports, run, names)  # ... and was run again to the end
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "HEAD:reports/results.json (reference)" in out and "REPRODUCED" in out
    # a notebook's results restored over the run (git checkout) are not a run any more
    restored = copy.deepcopy(run)
    restored["notebooks"][names[0]] = committed["notebooks"][names[0]]
    (reports / "results.json").write_text(json.dumps(restored), encoding="utf-8")
    assert main([]) == NOT_RUN
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and f"{names[0]}: NOT RUN -- its results are not the ones" in out
    # and the whole reference restored is the reference itself
    (reports / "results.json").write_text(shown.stdout, encoding="utf-8")
    assert main([]) == NOT_RUN
    assert "the reference's, timings and all" in capsys.readouterr().out


def _accuracies_with_n(obj, path=()):
    """Paths (keys and list indices) of every ``exact_match`` recorded beside ``test_queries``."""
    if isinstance(obj, dict):
        if isinstance(obj.get("exact_match"), float) and isinstance(obj.get("test_queries"), int):
            yield path
        for k, v in obj.items():
            yield from _accuracies_with_n(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _accuracies_with_n(v, path + (i,))


def test_an_accuracy_moved_outside_its_interval_fails_and_is_named(reference, tmp_path, capsys):
    name, *path = next(p for nb, data in reference["notebooks"].items()
                       for p in _accuracies_with_n(data["results"], (nb,)))

    def moved(value):
        data = copy.deepcopy(reference)
        row = data["notebooks"][name]["results"]
        for key in path:
            row = row[key]
        row["exact_match"] = value
        return data

    row = reference["notebooks"][name]["results"]
    for key in path:
        row = row[key]
    low, high = wilson_interval(row["exact_match"], row["test_queries"])
    assert 0 < high - low < 0.1
    inside = _as_run(moved(low + 1e-4 if low > 0 else high - 1e-4))
    assert main([_write(tmp_path, "inside.json", inside), str(COMMITTED)]) == 0
    assert [r.verdict for r in compare_results(reference, inside) if r.verdict != "same"] == ["ok"]

    outside = _as_run(moved(low - 1e-3 if low > 0.01 else high + 1e-3))
    capsys.readouterr()
    assert main([_write(tmp_path, "outside.json", outside), str(COMMITTED)]) == 1
    out = capsys.readouterr().out
    failed = [r for r in compare_results(reference, outside) if r.failed]
    assert len(failed) == 1 and failed[0].verdict == "OUTSIDE"
    assert failed[0].metric.startswith(name) and failed[0].metric.endswith("/ exact_match")
    assert f"N={row['test_queries']})" in failed[0].tolerance
    assert "DIFFERENT" in out and failed[0].metric in out.split("Verdict:")[1]


def test_a_missing_notebook_makes_the_run_incomplete(reference, tmp_path, capsys):
    names = list(reference["notebooks"])
    partial = _as_run(reference)
    del partial["notebooks"][names[-1]]
    run = _write(tmp_path, "partial.json", partial)
    assert main([run, str(COMMITTED)]) == NOT_RUN
    out = capsys.readouterr().out
    assert f"{names[-1]} (whole notebook)" in out and "MISSING" in out and "INCOMPLETE" in out
    # comparing only what this run made passes
    assert main([run, str(COMMITTED), "--only", *names[:-1]]) == 0
    # a notebook left as the reference's (timings and all) did not run either
    stale = _as_run(reference)
    stale["notebooks"][names[0]] = reference["notebooks"][names[0]]
    assert main([_write(tmp_path, "stale.json", stale), str(COMMITTED)]) == NOT_RUN
    assert f"{names[0]}: NOT RUN -- identical to the reference's" in capsys.readouterr().out
    # a number missing inside a notebook, and one the reference lacks, are named too
    results = partial["notebooks"][names[0]]["results"]
    dropped = next(k for k, v in results.items() if not isinstance(v, dict | list))
    results.pop(dropped)
    results["new_metric"] = 0.5
    rows = compare_results(reference, partial, only=[names[0]])
    assert _row(rows, f"{names[0]} / {dropped}").verdict == "MISSING"
    assert _row(rows, f"{names[0]} / new_metric").verdict == "EXTRA"


def test_unreadable_input_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json"), str(COMMITTED)]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main([str(COMMITTED), str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main([_write(tmp_path, "other.json", {"acc": 0.9}), str(COMMITTED)]) == 2
    assert "not a results document" in capsys.readouterr().err
    with pytest.raises(Exception, match="not a results document"):
        load_results(_write(tmp_path, "list.json", [1, 2]))  # type: ignore[arg-type]
    assert main([str(COMMITTED), str(COMMITTED), "--only", "99_nope"]) == 2
    assert "unknown notebook" in capsys.readouterr().err


@pytest.mark.parametrize("entry, said", [
    ("oops", "is a JSON str, not an object"),
    (None, "is a JSON NoneType, not an object"),
    ({"results": [0.5]}, "has a 'results' that is a JSON list"),
    ({"results": {}, "provenance": "x"}, "has a 'provenance' that is a JSON str"),
])
def test_a_malformed_notebook_entry_is_one_line_not_a_traceback(reference, tmp_path, capsys,
                                                                 entry, said):
    damaged = _as_run(reference)
    damaged["notebooks"]["02_text_to_text"] = entry
    path = _write(tmp_path, "damaged.json", damaged)
    for argv in ([path, str(COMMITTED)], [str(COMMITTED), path], [path, "--fingerprint"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "'02_text_to_text' " + said in err, err


def test_nan_equals_nan(reference, tmp_path, capsys):
    """A number that is NaN in both runs is identical, as --fingerprint says."""
    from idl_utils.tools.compare import fingerprints

    with_nan = copy.deepcopy(reference)
    with_nan["notebooks"]["02_text_to_text"]["results"]["a_nan"] = float("nan")
    ref, run = _write(tmp_path, "ref.json", with_nan), _write(tmp_path, "run.json", _as_run(with_nan))
    assert main([run, ref, "--exact"]) == 0
    assert "Verdict: REPRODUCED" in capsys.readouterr().out
    rows = compare_results(with_nan, _as_run(with_nan))
    assert _row(rows, "02_text_to_text / a_nan").verdict == "same"
    assert fingerprints(load_results(run)) == fingerprints(load_results(ref))
    moved = _as_run(with_nan)
    moved["notebooks"]["02_text_to_text"]["results"]["a_nan"] = 0.5
    assert _row(compare_results(with_nan, moved), "02_text_to_text / a_nan").verdict == "DIFFERS"


def test_provenance_differences_are_listed_first(reference, tmp_path, capsys):
    # the reference's notebooks may come from different machines: start from one CPU for all
    reference = copy.deepcopy(reference)
    names = list(reference["notebooks"])
    before = " ".join(reference["notebooks"][names[0]]["provenance"]["hardware"]["cpu_features"])
    for nb in reference["notebooks"].values():
        nb["provenance"]["hardware"]["cpu_features"] = before.split()
    other = copy.deepcopy(reference)
    for nb in other["notebooks"].values():
        nb["provenance"]["hardware"]["cpu_features"] = before.split() + ["new_flag"]
        nb["wall_seconds"] = 1.0  # timings differ on every run: not a difference worth a line
    versions = other["notebooks"][names[1]]["provenance"]["versions"]
    package = sorted(versions)[0]
    old_version, versions[package] = versions[package], "9.9.9"
    prefixes = ", ".join(n.split("_", 1)[0] for n in names)
    assert sorted(provenance_differences(reference, other)) == sorted([
        f"hardware.cpu_features [{prefixes}]: {before} -> {before} new_flag",
        f"versions.{package} [{names[1].split('_', 1)[0]}]: {old_version} -> 9.9.9"])
    assert main([_write(tmp_path, "other.json", other), _write(tmp_path, "reference.json", reference)]) == 0
    out = capsys.readouterr().out
    assert out.index("new_flag") < out.index("metric")


def test_tolerances_come_from_the_data():
    # a KID with its standard deviation beside it: two standard deviations
    tol = tolerance_for("kid", 2.5, [("scores", {"kid": 2.5, "kid_std": 0.2})])
    assert (tol.low, tol.high) == pytest.approx((2.1, 2.9)) and "kid_std" in tol.text
    # a seed spread recorded as mean and std
    tol = tolerance_for("exact_match_mean", 0.9, [("t", {"exact_match_mean": 0.9, "exact_match_std": 0.01})])
    assert (tol.low, tol.high) == pytest.approx((0.88, 0.92)) and "seed spread" in tol.text
    # an accuracy: the binomial interval on the items recorded beside it, else a stated default
    tol = tolerance_for("exact_match", 0.9, [("r", {"exact_match": 0.9, "test_queries": 100})])
    assert (tol.low, tol.high) == pytest.approx(wilson_interval(0.9, 100)) and "N=100" in tol.text
    tol = tolerance_for("per_digit", 0.9, [("r", {"per_digit": 0.9})])
    assert f"N={DEFAULT_N} assumed" in tol.text
    # per class: the test digits shared among the classes
    judge = {"n_test_digits": 1000, "per_class": {str(d): 0.97 for d in range(10)}}
    tol = tolerance_for("3", 0.97, [("judge", judge), ("per_class", judge["per_class"])])
    assert "N=100 per class" in tol.text
    # a perfect score still has room below it, none above
    low, high = wilson_interval(1.0, 10000)
    assert high == 1.0 and 0.999 < low < 1.0
    assert wilson_interval(0.0, 300)[0] == 0.0  # exactly, not a rounding error above it
    # counts of mistakes: Poisson; counts of items and settings: exact
    tol = tolerance_for("carry/borrow", 100, [("error_categories", {}), ("kit", {"carry/borrow": 100})])
    assert (tol.low, tol.high) == (80, 120)
    assert tolerance_for("test_queries", 10000, [("r", {"test_queries": 10000})]).exact
    assert tolerance_for("split", "10/90", [("r", {"split": "10/90"})]).exact
    # anything else measured: the stated default, relative
    tol = tolerance_for("fid", 40.0, [("scores", {"fid": 40.0})])
    assert (tol.low, tol.high) == pytest.approx((36.0, 44.0)) and "default" in tol.text


def test_settings_must_be_equal_and_exact_mode_checks_identity(tmp_path):
    reference = {"profile": "full", "notebooks": {"02_text_to_text": {"provenance": {"seed": 42}, "results": {
        "main_split": {"kit": {"exact_match": 0.98, "test_queries": 10000, "split": "50/50",
                               "train_seconds": 80.4, "peak_memory_gib": 0.9}},
        "scores": {"GAN": {"fid": 40.0}}}}}}
    ref = _write(tmp_path, "reference.json", reference)
    changed = copy.deepcopy(reference)
    changed["notebooks"]["02_text_to_text"]["results"]["main_split"]["kit"]["test_queries"] = 9999
    rows = compare_results(reference, changed)
    assert _row(rows, "02_text_to_text / main_split / kit / test_queries").verdict == "DIFFERS"
    # a FID 1% off is within the default; --exact (two runs on one machine kind) refuses it
    nudged = copy.deepcopy(reference)
    nudged["notebooks"]["02_text_to_text"]["results"]["scores"]["GAN"]["fid"] = 40.4
    run = _write(tmp_path, "nudged.json", nudged)
    assert main([run, ref]) == 0
    assert main([run, ref, "--exact"]) == 1
    # timings and memory readings may differ freely
    slower = copy.deepcopy(reference)
    slower["notebooks"]["02_text_to_text"]["results"]["main_split"]["kit"].update(
        train_seconds=1e6, peak_memory_gib=9.0)
    assert main([_write(tmp_path, "slower.json", slower), ref, "--exact"]) == 0
    # a different seed is a provenance difference, listed
    reseeded = copy.deepcopy(reference)
    reseeded["notebooks"]["02_text_to_text"]["provenance"]["seed"] = 1
    assert provenance_differences(reference, reseeded) == ["seed [02]: 42 -> 1"]


def test_fingerprints_change_with_a_number_and_not_with_a_timing(reference, tmp_path, capsys):
    from idl_utils.tools.compare import fingerprints

    base = fingerprints(reference)
    assert set(base) == set(reference["notebooks"]) and all(len(v) == 16 for v in base.values())
    name = sorted(reference["notebooks"])[0]
    slower = copy.deepcopy(reference)
    slower["notebooks"][name]["results"]["train_seconds"] = 1e9   # a timing: not part of the numbers
    slower["notebooks"][name]["wall_seconds"] = 1e9
    assert fingerprints(slower) == base
    moved = copy.deepcopy(reference)
    moved["notebooks"][name]["results"]["a_new_number"] = 0.5
    changed = fingerprints(moved)
    assert changed[name] != base[name]
    assert {k: v for k, v in changed.items() if k != name} == {k: v for k, v in base.items() if k != name}
    assert main([_write(tmp_path, "moved.json", moved), "--fingerprint", "--only", name]) == 0
    assert capsys.readouterr().out.strip() == f"{name}  {changed[name]}"
    assert main([str(tmp_path / "missing.json"), "--fingerprint"]) == 2


def test_an_added_row_is_extra_and_does_not_shift_the_rows_after_it(reference):
    """A notebook that gains a split (a row at the front of a table) shows that row as EXTRA;
    every other row is still compared with its own counterpart, not its neighbour."""
    table = reference["notebooks"]["02_text_to_text"]["results"]["splits_2digit"]
    run = copy.deepcopy(reference)
    added = dict(copy.deepcopy(table[0]), split="75/25")
    run["notebooks"]["02_text_to_text"]["results"]["splits_2digit"].insert(0, added)
    rows = compare_results(reference, run)
    verdicts = [r.verdict for r in rows if "splits_2digit " in r.metric]
    assert verdicts.count("EXTRA") == 1
    assert set(verdicts) <= {"same", "EXTRA"}
    # a row that goes missing is named, the rest still match
    fewer = copy.deepcopy(reference)
    del fewer["notebooks"]["02_text_to_text"]["results"]["splits_2digit"][1]
    verdicts = [r.verdict for r in compare_results(reference, fewer) if "splits_2digit " in r.metric]
    assert verdicts.count("MISSING") == 1 and set(verdicts) <= {"same", "MISSING"}


def test_rows_pair_by_position_when_they_cannot_be_told_apart():
    from idl_utils.tools.compare import pair_rows

    same = [{"model": "kit"}, {"model": "kit"}]
    assert pair_rows(same, same + [{"model": "kit"}]) == [(0, 0), (1, 1), (None, 2)]
    assert pair_rows([1, 2], [1]) == [(0, 0), (1, None)]
    named = [{"model": "kit", "seed": 1}, {"model": "kit", "seed": 2}]
    assert pair_rows(named, named[1:]) == [(0, None), (1, 0)]
