"""``make export``: everything a student hands in, in one archive.

Builds ``dist/idl-kit-submission.zip`` with

* ``notebooks/*.ipynb`` -- the executed notebooks from ``reports/notebooks/``;
* ``py/*.py`` -- plain-script copies converted *from the .ipynb files* (as the assignment asks),
  with markdown as comments;
* ``figures/*.png``, ``RESULTS.md`` and ``results.json`` from ``reports/``.

It packages only outputs this checkout's ``make reproduce`` made (the record described in
:mod:`idl_utils.tools.run_record`): a fresh clone's ``reports/`` holds the committed reference
run, which is not the student's. ``--reference`` packages them anyway, knowingly (and, where
``reports/`` has no executed copy of a notebook, the notebook without outputs, with a warning).

It never deletes or overwrites a file it did not make: the archive is built in a fresh
temporary folder and only the archive is moved into ``dist/``. An archive from an earlier
export is replaced; a file of the user's in its way stays, and the new archive goes beside it
under a new name (``idl-kit-submission-2.zip``), with a message saying so. Only regular files
are packaged: symbolic links and other strays in ``reports/figures/`` are left out, with a note.

Exit status: 0 when the archive was written, 3 when the outputs were not made by this
checkout's ``make reproduce`` (nothing written), 2 when there is nothing to package.

Usage: ``python -m idl_utils.tools.export [--reports DIR] [--out DIR] [--reference]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..config import PROJECT_ROOT
from . import run_record

ARCHIVE_NAME = "idl-kit-submission.zip"
#: the comment of every archive the kit writes: how it knows an archive in dist/ is its own
KIT_COMMENT = b"idl-kit submission archive (make export)"
NOT_MADE_HERE = 3


def notebook_to_script(ipynb: Path) -> str:
    """The notebook as a plain Python script (code cells as code, markdown as comments)."""
    import nbformat
    from nbconvert import PythonExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = PythonExporter().from_notebook_node(nb)
    return body


def _regular(path: Path) -> bool:
    """A regular file, not a symbolic link (whose target could be anything)."""
    return path.is_file() and not path.is_symlink()


def _members(reports: Path, sources: list[Path]) -> Iterator[tuple[str, bytes]]:
    """``(name in the archive, content)`` of everything the submission holds."""
    missing = []
    for clean in sources:
        executed = reports / "notebooks" / clean.name
        chosen = executed if _regular(executed) else clean
        if chosen is clean:
            missing.append(clean.stem)
        yield f"notebooks/{clean.name}", chosen.read_bytes()
        yield f"py/{clean.stem}.py", notebook_to_script(chosen).encode("utf-8")
    if missing:
        print(f"warning: no executed copy of {', '.join(missing)} in {reports / 'notebooks'}; "
              "the archive holds the notebooks without outputs (run `make reproduce` first)",
              file=sys.stderr)
    figures, strays = reports / "figures", []
    for path in sorted(figures.iterdir()) if figures.is_dir() else []:
        if _regular(path) and path.suffix.lower() == ".png":
            yield f"figures/{path.name}", path.read_bytes()
        else:
            kind = ("a symbolic link" if path.is_symlink() else "a folder" if path.is_dir()
                    else "not a PNG" if path.is_file() else "not a regular file")
            strays.append(f"{path.name} ({kind})")
    if strays:
        print(f"note: left out of the archive from {figures}: {', '.join(strays)}; only regular "
              "PNG files are figures", file=sys.stderr)
    for name in ("RESULTS.md", "results.json"):
        if _regular(reports / name):
            yield name, (reports / name).read_bytes()


def _made_by_kit(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.comment == KIT_COMMENT
    except (OSError, zipfile.BadZipFile):
        return False


def _place(archive: Path, out: Path) -> Path:
    """Move ``archive`` (built in a temporary folder inside ``out``) to ``out/ARCHIVE_NAME``,
    replacing only an archive the kit made; a file of the user's there keeps its name and the
    archive takes the first free one beside it. Returns where it went."""
    stem, suffix = Path(ARCHIVE_NAME).stem, Path(ARCHIVE_NAME).suffix
    for n in range(1, 1000):
        target = out / (ARCHIVE_NAME if n == 1 else f"{stem}-{n}{suffix}")
        if target.is_symlink() or (target.exists() and not (target.is_file() and _made_by_kit(target))):
            continue  # the user's: never touched
        if target.exists():  # an archive of an earlier export
            os.replace(archive, target)
            return target
        try:
            os.link(archive, target)  # creates the name only if it is free: never overwrites
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: check, then rename
            if target.exists() or target.is_symlink():
                continue
            os.replace(archive, target)
        return target
    raise FileExistsError(f"no free name for the archive in {out}: clear out old copies")


def build_submission(reports: Path, out: Path, notebooks_dir: Path | None = None) -> Path:
    """Package the submission from ``reports`` into an archive in ``out`` and return its path
    (``out/idl-kit-submission.zip`` unless a file of the user's has that name)."""
    notebooks_dir = notebooks_dir or PROJECT_ROOT / "notebooks"
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks found in {notebooks_dir}")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))  # ours alone: removed at the end
    try:
        archive = work / ARCHIVE_NAME
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.comment = KIT_COMMENT
            for name, data in sorted(_members(reports, sources)):
                # fixed timestamps: the same inputs give a byte-identical archive
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        placed = _place(archive, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if placed.name != ARCHIVE_NAME:
        print(f"note: {out / ARCHIVE_NAME} is not an archive made by `make export`, so it stays as "
              f"it is; the new archive is {placed}", file=sys.stderr)
    return placed


def not_made_here(reports: Path, notebooks_dir: Path | None = None) -> dict[str, str]:
    """The kit's notebooks whose outputs in ``reports`` this checkout's ``make reproduce`` did
    not make, with why (:func:`idl_utils.tools.run_record.not_made_here`)."""
    names = [p.stem for p in sorted((notebooks_dir or PROJECT_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    try:
        results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return dict.fromkeys(names, f"no readable {reports / 'results.json'}")
    if not isinstance(results, dict) or not isinstance(results.get("notebooks"), dict):
        return dict.fromkeys(names, f"{reports / 'results.json'} is not a results document")
    return run_record.not_made_here(reports, results, names, check_notebooks=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=PROJECT_ROOT / "reports",
                        help="where make reproduce wrote its outputs (default: reports/)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist")
    parser.add_argument("--reference", action="store_true",
                        help="package the outputs in REPORTS even though this checkout's "
                             "make reproduce did not make them (e.g. the committed reference)")
    args = parser.parse_args(argv)
    if not args.reference:
        why = not_made_here(args.reports)
        if why:
            reasons = sorted(set(why.values()))
            said = reasons[0] if len(reasons) == 1 else "; ".join(f"{n}: {r}" for n, r in why.items())
            print(f"make export: nothing written: the outputs of {', '.join(why)} in {args.reports} "
                  f"were not made by this checkout's `make reproduce`: {said}. Run `make reproduce` "
                  "first (it resumes), or `make export ARGS=--reference` to package them knowingly.",
                  file=sys.stderr)
            return NOT_MADE_HERE
    try:
        archive = build_submission(args.reports, args.out)
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"make export: {exc}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    print(f"wrote {archive} ({archive.stat().st_size / 1e6:.1f} MB, {len(names)} files): "
          f"{sum(n.startswith('notebooks/') for n in names)} notebooks, "
          f"{sum(n.startswith('py/') for n in names)} .py copies, "
          f"{sum(n.startswith('figures/') for n in names)} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
