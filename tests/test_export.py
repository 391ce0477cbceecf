import json
import zipfile

import nbformat
import pytest

from idl_utils.tools.export import ARCHIVE_NAME, build_submission, main


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\nSome *why*."), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def _reports(tmp_path):
    """Two clean notebooks, and a reports folder with an executed copy of the first, a figure
    and results, as make reproduce leaves them (without its record of the run)."""
    nbs, reports = tmp_path / "nbs", tmp_path / "reports"
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
    return nbs, reports


def test_archive_holds_notebooks_scripts_figures_and_results(tmp_path):
    nbs, reports = _reports(tmp_path)
    out = tmp_path / "dist"
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
    # deterministic archive; the export leaves nothing but the archive behind
    first = archive.read_bytes()
    assert build_submission(reports, out, notebooks_dir=nbs).read_bytes() == first
    assert [p.name for p in out.iterdir()] == [ARCHIVE_NAME]


def test_a_students_files_in_the_export_folder_are_never_touched(tmp_path, capsys):
    """The report PDF a student put in dist/submission/ (where earlier versions staged the
    archive, deleting the folder first) stays; so does a file of theirs with the archive's
    name: the archive goes beside it, and the export says where."""
    nbs, reports = _reports(tmp_path)
    out = tmp_path / "dist"
    (out / "submission").mkdir(parents=True)
    pdf = out / "submission" / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7 my report")
    theirs = out / ARCHIVE_NAME
    theirs.write_bytes(b"a zip of the student's own")
    archive = build_submission(reports, out, notebooks_dir=nbs)
    assert archive == out / "idl-kit-submission-2.zip" and zipfile.is_zipfile(archive)
    assert pdf.read_bytes() == b"%PDF-1.7 my report"
    assert theirs.read_bytes() == b"a zip of the student's own"
    assert f"the new archive is {archive}" in capsys.readouterr().err
    # the next export replaces its own archive, and still not theirs
    assert build_submission(reports, out, notebooks_dir=nbs) == archive
    assert {p.name for p in out.iterdir()} == {ARCHIVE_NAME, "idl-kit-submission-2.zip", "submission"}
    # an archive of the kit's under the plain name is replaced in place
    theirs.unlink()
    assert build_submission(reports, out, notebooks_dir=nbs) == theirs


def test_only_regular_png_files_are_figures(tmp_path, capsys):
    nbs, reports = _reports(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the grader")
    (reports / "figures" / "link.png").symlink_to(secret)
    (reports / "figures" / "notes.txt").write_text("stray")
    (reports / "figures" / "old").mkdir()
    archive = build_submission(reports, tmp_path / "dist", notebooks_dir=nbs)
    with zipfile.ZipFile(archive) as zf:
        assert [n for n in zf.namelist() if n.startswith("figures/")] == ["figures/fig.png"]
        assert not any(b"not for the grader" in zf.read(n) for n in zf.namelist())
    err = capsys.readouterr().err
    assert "link.png (a symbolic link)" in err and "notes.txt (not a PNG)" in err and "old (a folder)" in err


def test_no_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebooks found"):
        build_submission(tmp_path, tmp_path / "dist", notebooks_dir=tmp_path)


def test_export_refuses_outputs_this_checkout_did_not_make(tmp_path, capsys, made_here):
    """A fresh clone's reports/ is the committed reference run: make export says so and writes
    nothing, unless --reference asks for it; after make reproduce it packages the run."""
    from idl_utils.config import PROJECT_ROOT
    from idl_utils.tools.compare import load_results

    reports, out = tmp_path / "reports", tmp_path / "dist"
    reference = load_results(PROJECT_ROOT / "reports" / "results.json")
    reports.mkdir()
    (reports / "results.json").write_text(json.dumps(reference), encoding="utf-8")
    argv = ["--reports", str(reports), "--out", str(out)]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "nothing written" in err and "Run `make reproduce` first" in err and "--reference" in err
    assert not out.exists()
    # a run made here (every notebook of the kit) is packaged
    (reports / "notebooks").mkdir()
    for name in reference["notebooks"]:
        _notebook(reports / "notebooks" / f"{name}.ipynb", "print('executed')")
    made_here(reports, reference, sorted(reference["notebooks"]))
    assert main(argv) == 0
    assert "wrote " in capsys.readouterr().out
    # a notebook whose executed copy was replaced since (git checkout) is not the run's
    (reports / "notebooks" / "02_text_to_text.ipynb").write_text('{"cells": []}', encoding="utf-8")
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "outputs of 02_text_to_text in" in err and "its executed notebook is not the one" in err


def test_command_on_the_real_notebooks(tmp_path, capsys):
    argv = ["--reports", str(tmp_path / "none"), "--out", str(tmp_path / "dist")]
    assert main(argv) == 3
    assert "no readable" in capsys.readouterr().err
    assert main([*argv, "--reference"]) == 0
    with zipfile.ZipFile(tmp_path / "dist" / ARCHIVE_NAME) as zf:
        assert "py/02_text_to_text.py" in zf.namelist()
    assert "no executed copy" in capsys.readouterr().err
