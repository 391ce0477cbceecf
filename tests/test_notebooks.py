"""The notebooks themselves: each .py (source of truth) matches its paired .ipynb, each is
committed without outputs and as make lab would save it, and each keeps the kit's shape.
(Executing them is nbmake's job: ``make test``.)"""

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config

from idl_utils.notebook import COLAB_SETUP_CELL, colab_badge
from idl_utils.tools.workcopy import FILTER_OPTIONS, KERNELSPEC

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def committed_text(path: Path) -> str:
    """The file as git holds it for the next commit (its index entry, as committed unless staged
    since): a student's run leaves outputs in the working copy, which git's filter keeps out.
    Outside a git checkout (an unpacked archive), the file itself."""
    relative = path.relative_to(ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f":{relative}"],
                               capture_output=True, text=True, encoding="utf-8")
    except FileNotFoundError:
        return path.read_text(encoding="utf-8")
    if shown.returncode != 0:
        inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
                                capture_output=True)
        if inside.returncode == 0:  # a checkout, but this notebook is not added yet: git add will strip it
            pytest.skip(f"{relative} is not in git yet: `git add` it (make setup's filter strips outputs)")
        return path.read_text(encoding="utf-8")
    return shown.stdout


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
    """What is committed, not the working copy: running a notebook must not fail make test."""
    nb = nbformat.reads(committed_text(source.with_suffix(".ipynb")), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                "commit notebooks without outputs (executed copies go to reports/): `make setup` installs "
                "the nbstripout filter that strips them; then `git add` the notebook again")


def test_committed_ipynb_is_what_the_filter_stores(tmp_path):
    """Else a fresh clone lists the notebook as modified once make setup defines the filter.
    One nbstripout run for all (its start-up is most of its cost)."""
    copies = []
    for source in SOURCES:
        copies.append(tmp_path / source.with_suffix(".ipynb").name)
        copies[-1].write_text(committed_text(source.with_suffix(".ipynb")), encoding="utf-8")
    verify = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *FILTER_OPTIONS,
                             *map(str, copies)], capture_output=True, text=True)
    assert verify.returncode == 0, (
        "commit these notebooks as nbstripout stores them (`make setup`, then `git add` them again):\n"
        + verify.stdout + verify.stderr)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_opening_in_make_lab_rewrites_nothing(source):
    """JupyterLab writes the running kernel's spec into the notebook and jupytext rewrites the .py's
    header on every save: both must already say what they would write (the .ipynb's language_info
    is dropped by make lab and by the filter)."""
    nb = jupytext.read(source)
    fix = "run `.venv/bin/python -m idl_utils.tools.workcopy --headers` and commit the headers"
    assert nb.metadata.get("kernelspec") == KERNELSPEC, (
        f"{source.name}: the kernelspec must be the kit's kernel, as make setup registers it: {fix}")
    ipynb = nbformat.reads(committed_text(source.with_suffix(".ipynb")), as_version=4)
    assert ipynb.metadata.get("kernelspec") == KERNELSPEC, f"{source.stem}.ipynb's kernelspec: {fix}"
    config = load_jupytext_config(str(NOTEBOOKS))
    assert source.read_text(encoding="utf-8") == jupytext.writes(nb, fmt="py:percent", config=config), (
        f"{source.name}: saving it would rewrite its header ([tool.jupytext] changed, or another "
        f"jupytext wrote it): {fix}")
    paired = {key: value for key, value in nb.metadata["jupytext"].items() if key != "text_representation"}
    assert ipynb.metadata.get("jupytext") == paired, f"{source.stem}.ipynb's jupytext metadata: {fix}"


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
    for cell in nb.cells:
        if cell.cell_type == "code":
            headings = [line for line in cell.source.splitlines() if line.startswith(("# #", "# **"))]
            assert not headings, f"markdown inside a code cell (a missing '# %% [markdown]'?): {headings}"


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
# the assignment's constants and definitions that look like one of the above (settings are named
# by their parameter, e.g. `GAN_ADAM_BETA_1`, never by a value the parameters cell may change)
ALLOWED = [
    r"between 0\.2 and 0\.8",  # notebook 04's definition of a grey pixel
]


def run_specific_figures(text: str) -> list[str]:
    """Every run-specific-looking figure in a markdown text, as 'kind: match'."""
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
    ("`a%10 + b%10 >= 10`; 4x4 kernels; pixels between 0.2 and 0.8", []),
])
def test_the_markdown_check_finds_run_specific_figures(text, kinds):
    assert [found.split(":")[0] for found in run_specific_figures(text)] == kinds


def _markdown_hits(source, check) -> list[str]:
    """What ``check`` finds in each markdown cell of the notebook ``source``."""
    nb = jupytext.read(source)
    return [f"markdown cell {i}: {hit}" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for hit in check(cell.source)]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_markdown_quotes_no_number_from_a_particular_run(source):
    found = _markdown_hits(source, run_specific_figures)
    assert not found, (
        f"{source.name}: markdown quotes figures from one run; explain the idea in words and print the "
        "conclusion from this run's results in a code cell (idl_utils.narrate):\n  " + "\n  ".join(found))


# A *finding* is a claim about this run: which model is better, sharper or cleaner, what helps,
# what memorises, what collapsed, which data source was used. Markdown may pose one as a question
# or a hypothesis (a hedge in the same clause: "should", "may", "whether", "look for", ...) or
# state it as general knowledge with its source (a citation), and the next code cell says whether
# this run agrees (idl_utils.narrate.hypothesis / verdict); stated flatly, it is a finding that the
# run beside it can contradict.
EVALUATIVE = re.compile(
    r"\b(sharp(?:er|est)?|blurr(?:y|ier|iest)|clean(?:er|est)|better|best|worse|worst|help(?:s|ed)?|"
    r"hurt(?:s)?|improv(?:e|es|ed|ement)|memori[sz](?:e|es|ed|ing)|by heart|flatter(?:s|ed|ing)?|"
    r"collaps(?:e|es|ed)|beat(?:s)?|wins?|won|outperform(?:s|ed)?|fail(?:s|ed)?|dominat(?:e|es|ed)|"
    r"fallback|clearly|closed)\b", re.IGNORECASE)
# technical phrases that use such a word without judging the run
TECHNICAL = (r"\bbest (?:validation|epoch|of)\b", r"\b(?:lower|higher) is better\b", r"\bbest(?= epoch)")
HEDGE = re.compile(r"\b(expect\w*|hypothes\w*|should|might|may|would|could|can|whether|if|look for|"
                   r"watch|check|compare|predict\w*|suppose|perhaps)\b", re.IGNORECASE)
CITATION = re.compile(r"et al\.|\(\w[\w &]*,? (?:19|20)\d{2}\)|\barXiv\b|(?:19|20)\d{2}\)")
CLAUSE_BREAK = r"[,;:()\u2014\u2013]| -- | but | and | while | whereas | so "


def unhedged_findings(markdown: str) -> list[str]:
    """Clauses of ``markdown`` that state a finding about the run flatly, as 'word: sentence'.
    Questions, hedged clauses and cited sentences pass; code, maths and link targets are ignored."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " CODE ", text)
    text = re.sub(r"\$[^$]*\$", " MATH ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    found = []
    for paragraph in re.split(r"\n\s*\n|\n\s*[-*]\s+|\n\s*\d+\.\s+", text):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z*(\"'])", " ".join(paragraph.split())):
            if sentence.rstrip("*_ )").endswith("?") or CITATION.search(sentence):
                continue
            for clause in re.split(CLAUSE_BREAK, sentence):
                for phrase in TECHNICAL:
                    clause = re.sub(phrase, " ", clause, flags=re.IGNORECASE)
                word = EVALUATIVE.search(clause)
                if word and not HEDGE.search(clause):
                    found.append(f"{word.group(0)}: {sentence.strip()}")
                    break
    return found


# the five sentences of issue 33 that contradicted the reference run, and ways of saying it right
@pytest.mark.parametrize("text, flagged", [
    ("GANs give the sharpest images but train unstably and can *collapse* onto a few modes.", True),
    ("* **GAN**: the sharpest, most colourful samples, with no encoder.", True),
    ("samples can be less diverse than the data (mode collapse -- compare the course GAN's row).", True),
    ("over many epochs the same images come back (on the 5,000-digit offline fallback, each image "
     "comes back many times per epoch).", True),
    ("It redraws its training images every epoch so that it cannot learn its training handwriting "
     "by heart; the best validation epoch is kept.", True),
    ("Binary cross-entropy punishes ink on the background much harder, which tends to give cleaner "
     "backgrounds and a slightly bolder core.", True),
    ("Does binary cross-entropy give cleaner backgrounds than MSE?", False),
    ("Binary cross-entropy may give cleaner backgrounds: look for it in the grey-pixel shares.", False),
    ("GANs are known for sharper samples than VAEs (Goodfellow et al., 2014); the next cell checks.", False),
    ("The baseline keeps its best validation epoch (lower is better for the loss).", False),
])
def test_the_findings_check_flags_flat_claims_about_the_run(text, flagged):
    assert bool(unhedged_findings(text)) == flagged, unhedged_findings(text)


def test_the_numbers_check_flags_a_setting_stated_by_value():
    """Issue 33's first example: the markdown said beta_1 = 0.5 while the parameters cell set 0."""
    assert run_specific_figures("Adam with $\\beta_1 = 0.5$ to calm it") == ["a decimal number: '0.5'"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_markdown_states_no_finding_about_the_run(source):
    found = _markdown_hits(source, unhedged_findings)
    assert not found, (
        f"{source.name}: markdown states findings about the run; pose them as questions or hypotheses "
        "(or cite general knowledge) and print the verdict from this run's results in a code cell "
        "(idl_utils.narrate.hypothesis / verdict):\n  " + "\n  ".join(found))
