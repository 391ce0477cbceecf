"""The notebooks themselves: each .py (source of truth) matches its paired .ipynb, and each
notebook keeps the kit's shape. (Executing them is nbmake's job: ``make test``.)"""

from pathlib import Path

import jupytext
import nbformat
import pytest

from idl_utils.notebook import COLAB_SETUP_CELL, colab_badge

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
    assert colab_badge(source.stem) in nb.cells[0].source, (
        f"the first cell needs the Colab badge: {colab_badge(source.stem)}")
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert first_code == COLAB_SETUP_CELL, (
        "the first code cell must be idl_utils.notebook.COLAB_SETUP_CELL, verbatim (one source for the "
        "Colab setup and the repository's URL): copy it from there")
    assert "start_notebook(" in text, "one setup call seeds and prints the run"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "a parameters cell"
    assert "record_results(" in text, "results must be recorded for make reproduce"


# Markdown states ideas and what to look for; a figure from one particular run (an accuracy, a
# score, a timing) belongs in a code cell that prints it from the run's own results
# (idl_utils.narrate), so the words never contradict the tables on another machine or profile.
RUN_SPECIFIC = {
    "a decimal number": r"(?<![\w.])\d+\.\d+",
    "a percentage": r"\d\s*%",
    "an arrow between numbers": r"\d[\d.,%]*\s*(?:->|→|⟶|=>)\s*[~≈]?\d",
    "a timing": r"\d\s*(?:ms|s|sec|seconds?|min|minutes?|h|hours?)\b",
    "a gap in points": r"\d\s*points?\b",
    "a measured factor": r"\d\s*[x×](?![\w])",
}
# the assignment's constants and settings that look like one of the above
ALLOWED = [
    r"\\beta_1 = 0\.5",     # Adam's beta_1 for GANs (a setting, as in the DCGAN paper)
    r"between 0\.2 and 0\.8",  # notebook 04's definition of a grey pixel
]


def run_specific_figures(text: str) -> list[str]:
    """Every run-specific-looking figure in a markdown text, as 'kind: match'."""
    import re

    for allowed in ALLOWED:
        text = re.sub(allowed, " ", text)
    return [f"{kind}: {m.group(0)!r}" for kind, pattern in RUN_SPECIFIC.items()
            for m in re.finditer(pattern, text)]


@pytest.mark.parametrize("text, kinds", [
    ("exact match rose from 98.1 to 98.6", ["a decimal number"] * 2),
    ("about 91% against 97%", ["a percentage", "a percentage"]),
    ("one digit mistakes (104 → 22 → 10)", ["an arrow between numbers"] * 2),
    ("test exact match from 85 -> 91", ["an arrow between numbers"]),
    ("each epoch takes 19 s, the run 15 min", ["a timing", "a timing"]),
    ("within 1 point of the ceiling", ["a gap in points"]),
    ("every epoch costs 2-4x more", ["a measured factor"]),
    ("so it gets 1.5x the epochs", ["a decimal number", "a measured factor"]),
    ("the 50/50 split of the 20,000 queries, 2,000,000 for 3 digits", []),
    ("five 28x28 images, 64x64 emoji, 13 characters, `81+24` → `105`", []),
    ("Adam with $\\beta_1 = 0.5$; `a%10 + b%10 >= 10`; 4x4 kernels; pixels between 0.2 and 0.8", []),
])
def test_the_markdown_check_finds_run_specific_figures(text, kinds):
    assert [found.split(":")[0] for found in run_specific_figures(text)] == kinds


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_markdown_quotes_no_number_from_a_particular_run(source):
    nb = jupytext.read(source)
    found = [f"markdown cell {i}: {hit}" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
             for hit in run_specific_figures(cell.source)]
    assert not found, (
        f"{source.name}: markdown quotes figures from one run; explain the idea in words and print the "
        "conclusion from this run's results in a code cell (idl_utils.narrate):\n  " + "\n  ".join(found))
