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
