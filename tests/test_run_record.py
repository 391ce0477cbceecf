"""The record that tells this checkout's run from the committed reference: what each state of a
notebook (never run, running, failed, done, restored since) means for its outputs."""

import json

from idl_utils.tools import run_record


def _results(reports, name, value):
    entry = {"results": {"acc": value, "train_seconds": 1.0}, "provenance": {"seed": 42}}
    (reports / "results").mkdir(parents=True, exist_ok=True)
    (reports / "results" / f"{name}.json").write_text(json.dumps(entry), encoding="utf-8")
    return {"notebooks": {name: {**entry, "wall_seconds": 9.0}}}  # collated: timings beside it


def test_a_notebook_counts_as_run_here_only_once_it_finished_with_these_outputs(tmp_path):
    reports, name = tmp_path / "reports", "02_text_to_text"
    results = _results(reports, name, 0.9)
    (reports / "notebooks").mkdir()
    executed = reports / "notebooks" / f"{name}.ipynb"
    executed.write_text("{}", encoding="utf-8")

    def why(**kw):
        return run_record.not_made_here(reports, results, [name], **kw).get(name, "")

    assert "no record of `make reproduce` in this checkout" in why()
    run_record.notebook_started(reports, "01_other", "abc")
    assert "never run by `make reproduce` here" in why()
    run_record.notebook_started(reports, name, "0123456789abcdef")
    assert "at commit 0123456789ab and did not finish" in why()
    assert "did not finish" in run_record.not_made_here(reports, {"notebooks": {}}, [name])[name]
    run_record.notebook_finished(reports, name, ok=False)
    assert why().startswith("failed (started ")
    run_record.notebook_started(reports, name, "0123456789abcdef")
    run_record.notebook_finished(reports, name, ok=True)
    assert why(check_notebooks=True) == ""
    # collation added timings beside the results: still the run's; other results are not
    other = _results(tmp_path / "elsewhere", name, 0.8)
    assert "restored by `git checkout reports/`" in run_record.not_made_here(reports, other, [name])[name]
    executed.write_text('{"cells": []}', encoding="utf-8")
    assert why() == "" and "its executed notebook is not the one" in why(check_notebooks=True)
    assert run_record.not_made_here(reports, {"notebooks": {}}, ["03_x"]) == {"03_x": "not in results.json"}


def test_the_record_is_never_committed():
    import subprocess

    import pytest

    from idl_utils.config import PROJECT_ROOT

    path = f"reports/results/{run_record.RECORD_NAME}"
    done = subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_ROOT)
    if done.returncode == 128:
        pytest.skip("not a git checkout")
    assert done.returncode == 0, f"{path} must be git-ignored: a clone must never have one"
