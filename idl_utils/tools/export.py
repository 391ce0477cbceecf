"""``make export``: everything a student hands in, in one archive.

Builds ``dist/submission/`` and ``dist/idl-kit-submission.zip`` with

* ``notebooks/*.ipynb`` -- the executed notebooks from ``reports/notebooks/`` (falling back to
  the clean ones in ``notebooks/`` when ``make reproduce`` has not run, with a warning);
* ``py/*.py`` -- plain-script copies converted *from the .ipynb files* (as the assignment asks),
  with markdown as comments;
* ``figures/*.png``, ``RESULTS.md`` and ``results.json`` from ``reports/``.

Usage: ``python -m idl_utils.tools.export [--reports DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from ..config import PROJECT_ROOT
from ..results import atomic_write_bytes

ARCHIVE_NAME = "idl-kit-submission.zip"


def notebook_to_script(ipynb: Path) -> str:
    """The notebook as a plain Python script (code cells as code, markdown as comments)."""
    import nbformat
    from nbconvert import PythonExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = PythonExporter().from_notebook_node(nb)
    return body


def build_submission(reports: Path, out: Path, notebooks_dir: Path | None = None) -> Path:
    """Assemble the submission folder and zip it; returns the archive's path."""
    notebooks_dir = notebooks_dir or PROJECT_ROOT / "notebooks"
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks found in {notebooks_dir}")
    stage = out / "submission"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "notebooks").mkdir(parents=True)
    (stage / "py").mkdir()
    missing = []
    for clean in sources:
        executed = reports / "notebooks" / clean.name
        chosen = executed if executed.exists() else clean
        if not executed.exists():
            missing.append(clean.stem)
        shutil.copy2(chosen, stage / "notebooks" / clean.name)
        (stage / "py" / f"{clean.stem}.py").write_text(notebook_to_script(chosen), encoding="utf-8")
    if missing:
        print(f"warning: no executed copy of {', '.join(missing)} in {reports / 'notebooks'}; "
              "the archive holds the notebooks without outputs (run `make reproduce` first)",
              file=sys.stderr)
    if (reports / "figures").is_dir():
        shutil.copytree(reports / "figures", stage / "figures")
    for name in ("RESULTS.md", "results.json"):
        if (reports / name).exists():
            shutil.copy2(reports / name, stage / name)
    archive = out / ARCHIVE_NAME
    tmp = out / f".{ARCHIVE_NAME}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                # fixed timestamps: the same inputs give a byte-identical archive
                info = zipfile.ZipInfo(str(path.relative_to(stage)), date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    atomic_write_bytes(archive, tmp.read_bytes())
    tmp.unlink()
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=PROJECT_ROOT / "reports",
                        help="where make reproduce wrote its outputs (default: reports/)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "dist")
    args = parser.parse_args(argv)
    archive = build_submission(args.reports, args.out)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    print(f"wrote {archive} ({archive.stat().st_size / 1e6:.1f} MB, {len(names)} files): "
          f"{sum(n.startswith('notebooks/') for n in names)} notebooks, "
          f"{sum(n.startswith('py/') for n in names)} .py copies, "
          f"{sum(n.startswith('figures/') for n in names)} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
