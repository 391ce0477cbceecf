"""The notebooks themselves: each .py (source of truth) matches its paired .ipynb, and each
notebook keeps the kit's shape. (Executing them is nbmake's job: ``make test``.)"""

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert SOURCES, "no notebooks/NN_*.py found"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_py_and_ipynb_are_in_sync(source):
    paired = source.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run `make sync`"
    from_py = jupytext.read(source)
    from_ipynb = nbformat.read(paired, as_version=4)
    assert _cells(from_py) == _cells(from_ipynb), (
        f"{source.name} and {paired.name} differ: edit the .py and run `make sync`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_ipynb_has_no_outputs(source):
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, "commit notebooks without outputs (executed copies go to reports/)"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_shape(source):
    nb = jupytext.read(source)
    text = "\n".join(c.source for c in nb.cells)
    assert "colab.research.google.com" in nb.cells[0].source, "first cell needs the Colab badge"
    assert "start_notebook(" in text, "one setup call seeds and prints the run"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "a parameters cell"
    assert "record_results(" in text, "results must be recorded for make reproduce"
