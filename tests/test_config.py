from pathlib import Path

import numpy as np
import pytest

from idl_utils.config import get_profile, reports_dir, set_seed


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("IDL_PROFILE", "full")
    assert get_profile().name == "full"
    assert get_profile().choose(smoke=1, default=2, full=3) == 3
    monkeypatch.setenv("IDL_PROFILE", "smoke")
    assert get_profile().choose(smoke=1, default=2, full=3) == 1
    assert get_profile().is_smoke
    monkeypatch.delenv("IDL_PROFILE")
    assert get_profile().name == "default"


def test_unknown_profile_names_the_accepted_values(monkeypatch):
    monkeypatch.setenv("IDL_PROFILE", "fast")
    with pytest.raises(ValueError, match="Unknown profile 'fast'.*smoke, default, full"):
        get_profile()


def test_quick_profiles_never_write_into_the_published_reports(monkeypatch):
    monkeypatch.delenv("IDL_REPORTS_DIR")
    monkeypatch.setenv("IDL_PROFILE", "smoke")
    assert reports_dir().name == "smoke" and reports_dir().parent.name == "reports"
    monkeypatch.setenv("IDL_PROFILE", "full")
    assert reports_dir().name == "reports"


def test_reports_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_REPORTS_DIR", str(tmp_path / "r"))
    assert reports_dir() == Path(tmp_path / "r") and reports_dir().is_dir()


def test_set_seed_makes_keras_and_numpy_repeatable():
    import keras

    set_seed(3)
    first = (np.random.rand(3), keras.random.normal((3,)).numpy())  # noqa: NPY002 (set_seed seeds the legacy global RNG)
    set_seed(3)
    second = (np.random.rand(3), keras.random.normal((3,)).numpy())  # noqa: NPY002
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
