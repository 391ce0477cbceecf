"""idl_utils.notebook: the Colab setup cell really installs the kit, and the badge is right."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idl_utils.notebook import COLAB_REPO, COLAB_SETUP_CELL, colab_badge

ROOT = Path(__file__).resolve().parent.parent
FAKE_COLAB = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
REPORT_KIT = "\nimport idl_utils\nprint(idl_utils.__file__)\n"


def _kit_repository(where: Path) -> Path:
    """A git repository holding the kit as GitHub would serve it: its package and build files."""
    where.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, where / name)
    shutil.copytree(ROOT / "idl_utils", where / "idl_utils", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
           "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "kit"]):
        subprocess.run([*git, *args], cwd=where, check=True, capture_output=True)
    return where


def _run_cell(cell: str, cwd: Path, target: Path) -> subprocess.CompletedProcess:
    # pip installs into a throw-away folder, without dependencies or the index (they are in this
    # environment already) and with this environment's setuptools, so the test stays offline and
    # leaves the environment alone. (PIP_NO_BUILD_ISOLATION=0 turns isolation *off*: pip reads the
    # variable as the value of build_isolation.)
    env = {**os.environ, "PIP_TARGET": str(target), "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1",
           "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([sys.executable, "-c", cell], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_cell_names_the_repository_once():
    assert COLAB_SETUP_CELL.count(COLAB_REPO) == 1
    compile(COLAB_SETUP_CELL, "<colab setup cell>", "exec")


def test_colab_setup_cell_clones_installs_and_imports_the_kit(tmp_path):
    pytest.importorskip("setuptools", minversion="77",
                        reason="building the kit needs setuptools>=77 (the dev extra installs it)")
    origin = _kit_repository(tmp_path / "origin")
    colab, target = tmp_path / "content", tmp_path / "site-packages"
    colab.mkdir()
    cell = COLAB_SETUP_CELL.replace(COLAB_REPO, origin.as_uri())

    first = _run_cell(FAKE_COLAB + cell + REPORT_KIT, colab, target)
    assert first.returncode == 0, first.stderr
    # the notebook imports the clone's kit, not the one this test runs from
    assert Path(first.stdout.strip()) == colab / "idl-kit" / "idl_utils" / "__init__.py"
    assert (colab / "idl-kit" / ".git").is_dir(), "the kit was not cloned"
    assert (target / "idl_utils" / "__init__.py").exists(), "pip did not install the kit"

    # running the cell again (the runtime restarted) reuses the clone and still imports the kit
    shutil.rmtree(target)
    again = _run_cell(FAKE_COLAB + cell + REPORT_KIT, colab, target)
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()) == colab / "idl-kit" / "idl_utils" / "__init__.py"
    assert not target.exists(), "a second run must not install again"


def test_colab_setup_cell_does_nothing_outside_colab(tmp_path):
    # a URL that cannot be cloned: outside Colab the cell must not even try
    cell = COLAB_SETUP_CELL.replace(COLAB_REPO, (tmp_path / "nowhere").as_uri())
    result = _run_cell(cell, tmp_path, tmp_path / "site-packages")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_colab_badge():
    badge = colab_badge("02_text_to_text")
    assert badge.startswith("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]")
    repo = COLAB_REPO.removeprefix("https://github.com/")
    assert badge.endswith(f"/github/{repo}/blob/main/notebooks/02_text_to_text.ipynb)")
    for bad in ("", "notebooks/02_text_to_text", "02_text_to_text.ipynb"):
        with pytest.raises(ValueError, match="stem"):
            colab_badge(bad)


def test_show_model_prints_a_plain_summary(capsys):
    import keras

    from idl_utils.notebook import show_model

    show_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="out")], name="tiny"))
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == 'Model "tiny": 15 parameters'
    assert lines[2].split() == ["out", "Dense", "(None,", "3)", "15"]
    assert "\x1b[" not in text


def test_a_notebook_shows_a_fallback_source_once_as_a_banner_not_again_as_a_warning(capsys):
    import warnings

    from idl_utils.notebook import start_notebook
    from idl_utils.provenance import announce

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        announce("MNIST: outside a notebook, scripts are warned too")
        assert len(caught) == 1
        start_notebook("test", quiet=True)
        announce("MNIST: from the wheel\nWhy: no network")
        assert len(caught) == 1  # the banner only
    assert capsys.readouterr().err.count("MNIST: from the wheel") == 1
