"""Which outputs in ``reports/`` this checkout's ``make reproduce`` made.

A fresh clone already holds a run in ``reports/``: the committed reference (executed
notebooks, figures, ``results.json``). It looks exactly like a run of one's own, so
``make compare`` and ``make export`` must not take it for one. ``make reproduce`` therefore
keeps a record beside the results it writes, ``reports/results/_this_checkout.json``, which
git ignores (a clone never has one): for each notebook, when it started and finished here, on
which machine, at which commit, whether it finished, and a digest of what it left -- its
results (``reports/results/<name>.json``) and its executed copy
(``reports/notebooks/<name>.ipynb``). A notebook's outputs count as this checkout's run only
when its record says it finished and both digests still match: outputs restored by
``git checkout reports/`` or edited since do not.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from ..results import atomic_write_json

RECORD_NAME = "_this_checkout.json"


def record_path(reports: Path) -> Path:
    """Where the record of the reports folder ``reports`` lives."""
    return Path(reports) / "results" / RECORD_NAME


def read_record(reports: Path) -> dict[str, Any] | None:
    """The record beside ``reports``, or None when there is none (or it cannot be read)."""
    try:
        record = json.loads(record_path(reports).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("notebooks"), dict) else None


def results_digest(entry: Mapping[str, Any]) -> str:
    """A digest of a notebook's results and provenance (``results/<name>.json``, or the same
    notebook's entry in ``results.json``, where collation adds timings beside them)."""
    text = json.dumps({"results": entry.get("results"), "provenance": entry.get("provenance")},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def current_commit() -> str | None:
    """This checkout's ``HEAD`` commit, or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=False)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _update(reports: Path, name: str, **fields: Any) -> None:
    record = read_record(reports) or {"notebooks": {}}
    record["notebooks"][name] = {**record["notebooks"].get(name, {}), **fields}
    atomic_write_json(record_path(reports), record)


def notebook_started(reports: Path, name: str, commit: str | None) -> None:
    """Note that ``make reproduce`` starts notebook ``name`` now, writing into ``reports``."""
    _update(reports, name, status="running", started=_now(), finished=None, commit=commit,
            machine=f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)",
            results_sha256=None, notebook_sha256=None)


def notebook_finished(reports: Path, name: str, ok: bool) -> None:
    """Note that notebook ``name`` finished (``ok``) or failed, with digests of its outputs."""
    fields: dict[str, Any] = {"status": "done" if ok else "failed", "finished": _now()}
    if ok:
        try:
            results = json.loads((Path(reports) / "results" / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = None
        fields["results_sha256"] = results_digest(results) if isinstance(results, dict) else None
        fields["notebook_sha256"] = file_digest(Path(reports) / "notebooks" / f"{name}.ipynb")
    _update(reports, name, **fields)


def describe(entry: Mapping[str, Any]) -> str:
    """One line on where a notebook's run came from: start, machine, commit."""
    commit = (entry.get("commit") or "unknown")[:12]
    return f"started {entry.get('started')} on {entry.get('machine')} at commit {commit}"


def not_made_here(reports: Path, results: Mapping[str, Any], names: Iterable[str], *,
                  check_notebooks: bool = False) -> dict[str, str]:
    """For each of ``names`` whose outputs in ``reports`` this checkout's ``make reproduce`` did
    not make, why not. ``results``: the results document read from ``reports/results.json``;
    with ``check_notebooks`` the executed notebooks must be the run's too."""
    record = read_record(reports)
    why: dict[str, str] = {}
    for name in names:
        entry = results.get("notebooks", {}).get(name)
        made = (record or {}).get("notebooks", {}).get(name) or {}
        if made.get("status") == "running":
            why[name] = f"{describe(made)} and did not finish (interrupted?)"
        elif made and made.get("status") != "done":
            why[name] = f"failed ({describe(made)})"
        elif entry is None:
            why[name] = "not in results.json"
        elif record is None:
            why[name] = ("no record of `make reproduce` in this checkout (these are the committed "
                         "reference's outputs, or were made elsewhere)")
        elif not made:
            why[name] = "never run by `make reproduce` here (its outputs are the committed reference's)"
        elif made.get("results_sha256") != results_digest(entry):
            why[name] = ("its results are not the ones `make reproduce` wrote here (restored by "
                         "`git checkout reports/`, rewritten by the notebook run outside it, or edited)")
        elif check_notebooks and made.get("notebook_sha256") != file_digest(
                Path(reports) / "notebooks" / f"{name}.ipynb"):
            why[name] = ("its executed notebook is not the one `make reproduce` wrote here "
                         "(restored by `git checkout reports/`, or edited)")
    return why
