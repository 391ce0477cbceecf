"""``make setup``'s part for a student's working copy: opening or running a notebook leaves
``git status`` clean and ``make test`` passing.

* The kit's kernel, registered in this environment under the name and display name the
  notebooks' metadata carries (:data:`idl_utils.lab.KERNEL`, :data:`idl_utils.lab.KERNEL_DISPLAY_NAME`),
  so JupyterLab has nothing to rewrite in a notebook it opens.
* nbstripout as a git filter for ``notebooks/*.ipynb`` (``.gitattributes`` names the files):
  git stores and compares each notebook without outputs, execution counts or ``language_info``,
  while the working copy keeps them, so a notebook reopens with its outputs and is never committed
  with them by accident. Cell ids are kept: jupytext pairs the ``.py`` and ``.ipynb`` cells by them.
  The executed notebooks in ``reports/`` keep their outputs: the filter does not apply there.

``python -m idl_utils.tools.workcopy --python .venv/bin/python`` (``make setup`` runs it);
``--headers`` gives new or rewritten notebooks the metadata that keeps them unchanged when opened.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from idl_utils.lab import KERNEL, KERNEL_DISPLAY_NAME

ROOT = Path(__file__).resolve().parents[2]
#: the kernelspec in every notebook's metadata: what make setup registers
KERNELSPEC = {"display_name": KERNEL_DISPLAY_NAME, "language": "python", "name": KERNEL}
#: nbstripout's options for the filter (its defaults also drop execution counts and volatile cell metadata)
FILTER_OPTIONS = ("--keep-id", "--extra-keys", "metadata.language_info")


def register_kernel(prefix: str = sys.prefix) -> str:
    """Register this Python as the kit's kernel in ``prefix`` (``ipykernel install --sys-prefix``);
    the kernelspec's folder."""
    from ipykernel.kernelspec import install

    return install(kernel_name=KERNEL, display_name=KERNEL_DISPLAY_NAME, prefix=prefix)


def filter_command(python: str) -> str:
    """The shell command git runs to clean a notebook (from the top of the working tree, so a
    relative ``python`` such as ``.venv/bin/python`` works in every clone and worktree)."""
    return " ".join([shlex.quote(python), "-m", "nbstripout", *map(shlex.quote, FILTER_OPTIONS)])


def strip_outputs(text: str, python: str = sys.executable) -> str:
    """What the filter makes of a notebook's text: the form git stores."""
    return subprocess.run([python, "-m", "nbstripout", *FILTER_OPTIONS], input=text, capture_output=True,
                          text=True, encoding="utf-8", check=True).stdout


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=check)


def install_output_filter(repo: Path | str = ROOT, python: str = sys.executable) -> bool:
    """Define the ``nbstripout`` filter in ``repo``'s git config; False (and nothing changed) where
    ``repo`` is not a git working tree or git is missing, e.g. a downloaded archive of the kit.

    Not ``required`` (nbstripout's own installer sets it): the config is shared by every worktree of
    a repository, and where a worktree's ``.venv`` lacks nbstripout a required filter makes
    ``git status``, ``merge`` and ``checkout`` fail outright. Unrequired, git says the filter failed
    and uses the file as it is, and ``make test`` (tests/test_notebooks.py) catches any output that
    gets staged that way."""
    try:
        inside = _git(Path(repo), "rev-parse", "--is-inside-work-tree", check=False)
    except FileNotFoundError:
        return False
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return False
    _git(Path(repo), "config", "filter.nbstripout.clean", filter_command(python))
    _git(Path(repo), "config", "filter.nbstripout.smudge", "cat")
    _git(Path(repo), "config", "--unset", "filter.nbstripout.required", check=False)
    return True


def normalise_headers(notebooks: Path | str = ROOT / "notebooks") -> list[Path]:
    """Give each ``NN_name.py`` and its ``.ipynb`` the notebook metadata that opening it in
    ``make lab`` would write anyway: :data:`KERNELSPEC`, and jupytext's header as ``[tool.jupytext]``
    says (no jupytext version). Cells, outputs and other metadata stay as they are; the files changed."""
    import jupytext
    import nbformat
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(notebooks))
    changed = []
    for py in sorted(Path(notebooks).glob("[0-9][0-9]_*.py")):
        nb = jupytext.read(py)
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        text = jupytext.writes(nb, fmt="py:percent", config=config)
        header = jupytext.reads(text, fmt="py:percent").metadata["jupytext"]
        paired = {key: value for key, value in header.items() if key != "text_representation"}
        twin = py.with_suffix(".ipynb")
        updates = [(py, text)]
        if twin.exists():
            ipynb = nbformat.read(twin, as_version=4)
            ipynb.metadata.update(kernelspec=dict(KERNELSPEC), jupytext=paired)
            updates.append((twin, nbformat.writes(ipynb) + "\n"))
        for path, new in updates:
            if path.read_text(encoding="utf-8") != new:
                path.write_text(new, encoding="utf-8")
                changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m idl_utils.tools.workcopy",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the Python git runs nbstripout with: absolute, or relative to the top of the "
                             "working tree (default: this one)")
    parser.add_argument("--headers", action="store_true",
                        help="only give the notebooks the metadata make lab would write (after adding or "
                             "rewriting one; tests/test_notebooks.py asks for it)")
    args = parser.parse_args(argv)
    if args.headers:
        for path in normalise_headers():
            print(f"updated the header of {path.relative_to(ROOT)}")
        return
    register_kernel()
    if not install_output_filter(ROOT, args.python):
        print("Not a git working tree: no nbstripout filter installed (nothing here is committed).")


if __name__ == "__main__":
    main()
