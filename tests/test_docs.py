"""The README is for a student and a grader: short, with the commands they need, and links that
work; the details live in docs/."""

import re
from pathlib import Path

import pytest

from idl_utils.notebook import colab_badge

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
README_LIMIT = 7_000


def test_readme_is_short():
    assert len(README) <= README_LIMIT, (
        f"README.md has {len(README):,} characters (limit {README_LIMIT:,}): move details to docs/")


@pytest.mark.parametrize("command", ["make test", "make reproduce", "make lab", "make export", "make compare",
                                     "make speed"])
def test_readme_names_the_commands(command):
    assert f"`{command}`" in README or f"\n{command}" in README


@pytest.mark.parametrize("source", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")), ids=lambda p: p.stem)
def test_readme_opens_every_notebook_in_colab(source):
    assert colab_badge(source.stem) in README


def test_links_to_local_files_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
