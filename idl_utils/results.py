"""Writing what a run produced: figures, tables and the machine-readable results.

All writes are atomic (a temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written figure or results file behind.

* :func:`save_fig` -- ``reports/figures/<name>.png`` with a stable name.
* :func:`save_table` -- ``reports/tables/<name>.md`` (Markdown, for ``RESULTS.md``).
* :func:`record_results` -- merges numbers into ``reports/results/<notebook>.json``, with the
  profile, seed, data sources, versions and hardware they came from.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import figures_dir, get_profile, reports_dir
from .provenance import data_sources, hardware, package_versions


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in results JSON")


def save_fig(fig: Any, name: str, *, dpi: int = 110) -> None:
    """Save a Matplotlib figure as ``reports/figures/<name>.png`` (atomically; identical reruns
    give identical bytes). Use stable names (``t2t_error_heatmaps``) so reports can link to
    them. Returns nothing, so a notebook cell that ends with it shows the figure, not a path."""
    import io

    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"figure name {name!r}: give a plain name such as 't2t_learning_curves'")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                metadata={"Software": None})  # no version string: identical reruns, identical bytes
    atomic_write_bytes(figures_dir() / f"{name}.png", buf.getvalue())


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                   *, floatfmt: str = ".6g") -> str:
    """A GitHub-flavoured Markdown table from a list of dicts: every key any row has, in the
    order they first appear (a row without one shows an empty cell)."""
    if not rows:
        raise ValueError("no rows to tabulate")
    columns = list(columns or dict.fromkeys(key for row in rows for key in row))

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return format(value, floatfmt)
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_table(rows: Sequence[Mapping[str, Any]], name: str, *, title: str | None = None,
               columns: Sequence[str] | None = None, floatfmt: str = ".6g") -> Path:
    """Write ``reports/tables/<name>.md`` and return its path."""
    text = markdown_table(rows, columns, floatfmt=floatfmt)
    if title:
        text = f"**{title}**\n\n{text}"
    return atomic_write_text(reports_dir() / "tables" / f"{name}.md", text)


def results_path(notebook: str) -> Path:
    return reports_dir() / "results" / f"{notebook}.json"


def record_results(notebook: str, results: Mapping[str, Any], *, seed: int | None = None) -> Path:
    """Merge ``results`` into ``reports/results/<notebook>.json`` with their provenance.

    Keys are merged one level deep, so a notebook can record as it goes
    (``record_results("02_text_to_text", {"baseline": {...}})``, later ``{"kit": {...}}``).
    Timings belong under keys ending in ``seconds`` so that determinism checks can skip them.
    """
    path = results_path(notebook)
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text(encoding="utf-8"))
    current.setdefault("results", {}).update(json.loads(json.dumps(results, default=_jsonable)))
    current["provenance"] = {
        "notebook": notebook,
        "profile": get_profile().name,
        "seed": seed if seed is not None else current.get("provenance", {}).get("seed"),
        "data_sources": {**current.get("provenance", {}).get("data_sources", {}),
                         **data_sources()},
        "versions": package_versions(),
        "hardware": hardware(),
    }
    return atomic_write_json(path, current)
