import os
import subprocess
import sys
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


def _python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the environment changed as given (None: unset)."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.slow
def test_onednn_is_off_by_default_and_a_users_choice_wins():
    # TF_CPP_MIN_LOG_LEVEL=0: TensorFlow prints "oneDNN custom operations are on" when they are
    show = "import idl_utils, os; import tensorflow; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    kit = _python(show, TF_ENABLE_ONEDNN_OPTS=None, TF_CPP_MIN_LOG_LEVEL="0")
    assert kit.returncode == 0, kit.stderr
    assert kit.stdout.split()[-1] == "0"
    assert "oneDNN custom operations are on" not in kit.stderr
    mine = _python(show, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="0")
    assert mine.stdout.split()[-1] == "1"
    assert "oneDNN custom operations are on" in mine.stderr  # the setting is real: TensorFlow obeys it


@pytest.mark.slow
def test_importing_tensorflow_before_the_kit_is_said_out_loud():
    late = _python("import tensorflow, idl_utils", TF_ENABLE_ONEDNN_OPTS=None)
    assert late.returncode == 0, late.stderr
    assert "TensorFlow was imported before idl_utils" in late.stderr
    assert "TF_ENABLE_ONEDNN_OPTS" in late.stderr
    chosen = _python("import tensorflow, idl_utils", TF_ENABLE_ONEDNN_OPTS="1")
    assert "TensorFlow was imported before idl_utils" not in chosen.stderr


def test_hardware_provenance_records_the_onednn_setting(monkeypatch):
    from idl_utils.provenance import hardware

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert hardware()["tf_enable_onednn_opts"] == "0"


def test_hardware_provenance_records_the_thread_setting(monkeypatch):
    from idl_utils.provenance import hardware

    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    assert hardware()["tf_num_intraop_threads"] == "1"
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert hardware()["tf_num_intraop_threads"] == "TensorFlow's default"
