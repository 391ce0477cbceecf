import json
import zipfile

import nbformat
import pytest

from idl_utils.tools.export import ARCHIVE_NAME, build_submission, main


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\nSome *why*."), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def test_archive_holds_notebooks_scripts_figures_and_results(tmp_path):
    nbs, reports, out = tmp_path / "nbs", tmp_path / "reports", tmp_path / "dist"
    nbs.mkdir()
    _notebook(nbs / "01_a.ipynb", "x = 1")
    _notebook(nbs / "02_b.ipynb", "y = 2")
    (reports / "notebooks").mkdir(parents=True)
    executed = nbformat.v4.new_notebook()
    executed.cells = [nbformat.v4.new_code_cell("x = 41 + 1", outputs=[
        nbformat.v4.new_output("stream", text="42\n")])]
    nbformat.write(executed, reports / "notebooks" / "01_a.ipynb")
    (reports / "figures").mkdir()
    (reports / "figures" / "fig.png").write_bytes(b"\x89PNG fake")
    (reports / "RESULTS.md").write_text("# results\n")
    (reports / "results.json").write_text(json.dumps({"ok": 1}))

    archive = build_submission(reports, out, notebooks_dir=nbs)
    assert archive.name == ARCHIVE_NAME
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert names == {"notebooks/01_a.ipynb", "notebooks/02_b.ipynb", "py/01_a.py", "py/02_b.py",
                         "figures/fig.png", "RESULTS.md", "results.json"}
        # the executed copy is preferred, and the .py is converted from it
        nb = nbformat.reads(zf.read("notebooks/01_a.ipynb").decode(), as_version=4)
        assert nb.cells[0].outputs[0]["text"] == "42\n"
        assert "x = 41 + 1" in zf.read("py/01_a.py").decode()
        script = zf.read("py/02_b.py").decode()
        assert "y = 2" in script and "# # Title" in script
        compile(script, "02_b.py", "exec")  # a valid Python file
    # deterministic archive
    first = archive.read_bytes()
    assert build_submission(reports, out, notebooks_dir=nbs).read_bytes() == first


def test_no_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebooks found"):
        build_submission(tmp_path, tmp_path / "dist", notebooks_dir=tmp_path)


def test_command_on_the_real_notebooks(tmp_path, capsys):
    assert main(["--reports", str(tmp_path / "none"), "--out", str(tmp_path / "dist")]) == 0
    with zipfile.ZipFile(tmp_path / "dist" / ARCHIVE_NAME) as zf:
        assert "py/02_text_to_text.py" in zf.namelist()
    assert "no executed copy" in capsys.readouterr().err
