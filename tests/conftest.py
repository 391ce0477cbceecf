"""Shared test set-up: every test writes into temporary folders, never into reports/."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """Reports and model caches of a test go to its own tmp folder."""
    monkeypatch.setenv("IDL_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("IDL_RETRAIN", raising=False)
    yield


# Longest first: with two workers each taking one test at a time (Makefile: --dist load
# --maxschedchunk 1), starting the long items first keeps both cores busy to the end instead of
# leaving one notebook running alone at the finish. Rough CPU seconds measured under make test.
_LONG_FIRST = (
    "01_generative_models.ipynb",
    "03_image_to_text.ipynb",
    "test_reproduce_is_deterministic_and_complete",
    "02_text_to_text.ipynb",
    "04_text_to_image.ipynb",
)


def _rank(item) -> tuple[int, int]:
    for i, name in enumerate(_LONG_FIRST):
        if name in item.nodeid:
            return (0, i)
    return (1, 0) if item.get_closest_marker("slow") else (2, 0)


def pytest_collection_modifyitems(session, config, items):
    """Run the notebooks and the other long tests first (stable: ties keep pytest's order)."""
    items.sort(key=_rank)


@pytest.fixture
def made_here():
    """``made_here(reports, results, names)``: leave what ``make reproduce`` leaves in the
    reports folder ``reports`` for ``names`` (their results files, executed notebooks and the
    run record) so that ``results`` (a results document, written as results.json) counts as
    this checkout's run of them."""
    import json
    from pathlib import Path

    from idl_utils.tools import run_record

    def made(reports: Path, results: dict, names) -> None:
        for name in names:
            nb = results["notebooks"][name]
            (reports / "results").mkdir(parents=True, exist_ok=True)
            (reports / "notebooks").mkdir(parents=True, exist_ok=True)
            run_record.notebook_started(reports, name, run_record.current_commit())
            own = {"results": nb.get("results"), "provenance": nb.get("provenance")}
            (reports / "results" / f"{name}.json").write_text(json.dumps(own), encoding="utf-8")
            executed = reports / "notebooks" / f"{name}.ipynb"
            if not executed.exists():
                executed.write_text("{}", encoding="utf-8")
            run_record.notebook_finished(reports, name, ok=True)
        (reports / "results.json").write_text(json.dumps(results), encoding="utf-8")

    return made


@pytest.fixture(scope="module")
def bank():
    """A tiny glyph bank of random 'digits' (5 per class): enough to build and train image
    models for one step, not to learn anything."""
    import numpy as np

    from idl_utils.glyphs import GlyphBank

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5).astype(np.uint8)
    return GlyphBank(rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), labels, "random")
