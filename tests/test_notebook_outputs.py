"""What a student reads under each code cell: at most 60 lines, no terminal escape codes, no
progress-bar redraws. Checked on the notebooks `make test` just executed (their copies in
$IDL_EXECUTED_NOTEBOOKS, written by nbmake --overwrite) and on the published reference run."""

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_OUTPUT_LINES = 60
EXECUTED = os.environ.get("IDL_EXECUTED_NOTEBOOKS")


def output_problems(nb) -> list[str]:
    """Every code cell whose output a student would have to wade through, as sentences."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        text = ""
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text += out.text
            elif out.output_type in ("execute_result", "display_data"):
                data = out.get("data", {})
                if not any(key.startswith("image/") for key in data):
                    text += str(data.get("text/plain", "")) + "\n"
        lines = text.count("\n") + (not text.endswith("\n") and bool(text))
        if lines > MAX_OUTPUT_LINES:
            problems.append(f"code cell {i}: {lines} lines of output (at most {MAX_OUTPUT_LINES})")
        if "\x1b[" in text:
            problems.append(f"code cell {i}: terminal escape codes in its output")
        if "\r" in text:
            problems.append(f"code cell {i}: a progress bar's redraws (carriage returns) in its output")
    return problems


def _cell(text: str):
    cell = nbformat.v4.new_code_cell("print()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def test_the_output_check_finds_walls_escape_codes_and_redraws():
    nb = nbformat.v4.new_notebook(cells=[_cell("one line\n"), _cell("x\n" * 61), _cell("\x1b[1mbold\n"),
                                         _cell("10%|#  |\r20%|## |\n")])
    assert output_problems(nb) == ["code cell 1: 61 lines of output (at most 60)",
                                   "code cell 2: terminal escape codes in its output",
                                   "code cell 3: a progress bar's redraws (carriage returns) in its output"]


EXECUTED_NOTEBOOKS = sorted(Path(EXECUTED).glob("[0-9][0-9]_*.ipynb")) if EXECUTED else []


@pytest.mark.skipif(not EXECUTED, reason="set IDL_EXECUTED_NOTEBOOKS to a folder of executed notebooks "
                                         "(make test does, after running them)")
def test_there_are_executed_notebooks_to_check():
    assert EXECUTED_NOTEBOOKS, f"no executed notebooks in {EXECUTED}"


@pytest.mark.parametrize("path", EXECUTED_NOTEBOOKS, ids=lambda p: p.stem)
def test_an_executed_notebook_keeps_its_output_readable(path):
    nb = nbformat.read(path, as_version=4)
    assert any(cell.get("outputs") for cell in nb.cells), f"{path.name} was not executed"
    assert output_problems(nb) == []
