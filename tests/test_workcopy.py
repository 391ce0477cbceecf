"""A student's working copy: git's nbstripout filter (as make setup installs it) keeps a run
notebook's outputs out of git, the lab's save hook keeps ``git status`` in step, and the kit's
kernel is registered as the notebooks name it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from idl_utils.lab import KERNEL, KERNEL_DISPLAY_NAME, restage_if_only_outputs_changed
from idl_utils.tools.workcopy import filter_command, install_output_filter, normalise_headers, register_kernel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))[0]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    """A git repository holding one of the kit's notebooks and its .gitattributes, with the filter
    installed the way make setup does (nbstripout run by a relative path from the top of the tree)."""
    repo = tmp_path / "kit"
    (repo / "notebooks").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    python = repo / ".venv" / "bin" / "python"  # this Python, under the path make setup gives git
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (repo / ".gitignore").write_text(".venv/\n")
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    shutil.copy(NOTEBOOK, repo / "notebooks" / NOTEBOOK.name)
    git(repo, "init", "-q")
    assert install_output_filter(repo, ".venv/bin/python")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "kit")
    return repo, repo / "notebooks" / NOTEBOOK.name


def run_notebook(path: Path) -> None:
    """What running every code cell and saving leaves in the file: counts, outputs, language_info."""
    nb = nbformat.read(path, as_version=4)
    for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {count}\n")]
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nbformat.write(nb, path)


def test_a_run_notebook_leaves_git_clean_and_a_real_change_shows(checkout):
    """Each git command here that reads the notebook runs nbstripout (about 1.5 s of CPU): few of them."""
    repo, path = checkout
    run_notebook(path)
    assert '"outputs": []' not in path.read_text()  # the student's outputs stay in the working copy
    assert git(repo, "diff") == ""
    # git lists the file (its size changed) until the lab's save hook re-adds it, staging nothing
    assert git(repo, "status", "--porcelain") == f" M notebooks/{path.name}\n"
    assert restage_if_only_outputs_changed(path)
    assert git(repo, "status", "--porcelain") == "" and git(repo, "diff", "--cached") == ""

    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\nA student's note."
    nbformat.write(nb, path)
    assert not restage_if_only_outputs_changed(path)  # a real change: the hook stages nothing
    assert git(repo, "status", "--porcelain") == f" M notebooks/{path.name}\n"
    diff = git(repo, "diff")
    assert "A student's note." in diff and '"output_type"' not in diff and "language_info" not in diff

    untracked = path.with_name("Untitled.ipynb")
    shutil.copy(path, untracked)
    assert not restage_if_only_outputs_changed(untracked)
    assert f"?? notebooks/{untracked.name}" in git(repo, "status", "--porcelain")


def test_a_broken_filter_does_not_break_git(checkout):
    """A worktree whose .venv lacks nbstripout (the filter's config is shared by all worktrees)."""
    repo, path = checkout
    git(repo, "config", "filter.nbstripout.clean", "/nonexistent/python -m nbstripout")
    run_notebook(path)
    assert git(repo, "status", "--porcelain") == f" M notebooks/{path.name}\n"


def test_no_filter_outside_git(tmp_path):
    assert install_output_filter(tmp_path) is False
    (tmp_path / "a.ipynb").write_text("{}")
    assert not restage_if_only_outputs_changed(tmp_path / "a.ipynb")  # no git repository: nothing happens


def test_the_filter_command_quotes_its_python():
    assert filter_command("/opt/my kit/bin/python").startswith("'/opt/my kit/bin/python' -m nbstripout")


def test_the_kernel_is_registered_as_the_notebooks_name_it(tmp_path):
    folder = Path(register_kernel(prefix=str(tmp_path)))
    spec = json.loads((folder / "kernel.json").read_text())
    assert folder.name == KERNEL and spec["display_name"] == KERNEL_DISPLAY_NAME
    assert os.path.samefile(spec["argv"][0], sys.executable)


def test_headers_are_given_the_metadata_make_lab_writes(tmp_path):
    """A notebook written with a plain "Python 3" kernel and another jupytext (the header before
    issue 35) gets the header back, and nothing else changes."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    pair = [tmp_path / "notebooks" / NOTEBOOK.with_suffix(suffix).name for suffix in (".py", ".ipynb")]
    for path in pair:
        shutil.copy(ROOT / "notebooks" / path.name, path)
    normalise_headers(tmp_path / "notebooks")
    expected = [path.read_text() for path in pair]
    old_header = ("#     text_representation:\n#       extension: .py\n#       format_name: percent\n"
                  "#       format_version: '1.3'\n#       jupytext_version: 1.19.6\n")
    pair[0].write_text(expected[0].replace(KERNEL_DISPLAY_NAME, "Python 3").replace(
        "#   kernelspec:\n", old_header + "#   kernelspec:\n"))
    pair[1].write_text(expected[1].replace(f'"{KERNEL_DISPLAY_NAME}"', '"Python 3"'))
    assert normalise_headers(tmp_path / "notebooks") == pair
    assert [path.read_text() for path in pair] == expected and KERNEL_DISPLAY_NAME in expected[0]
    assert normalise_headers(tmp_path / "notebooks") == []
