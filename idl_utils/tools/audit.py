"""``make audit``: does any trained sequence model sit at a tipping point?

A published number should not depend on where training happened to stop. If one epoch more
or less would move a model's validation exact match by more than the noise of that
measurement, the number is a snapshot of a climb, and another machine, whose rounding
shifts the climb by an epoch, can publish a very different one. (It happened: a 3-digit
reader reported 68% on one CPU and 29% on another, with the same seed.)

This reads every model in the model cache (``$IDL_CACHE_DIR``, else ``data/cache``) whose
training record has a validation exact-match curve (``history["val_exact"]``: the sequence
models of notebooks 02-04 and the benchmark) and compares the epoch whose weights were kept
(the best one for ``keep="best"``, the last one for ``keep="last"``) with its neighbours,
one epoch before and, where training went on, one after. The noise band is two binomial
standard deviations of the kept value on the validation queries (``n_val``), at least
``1 / n_val``; a change larger than that is flagged ``TIPPING``. Such a model needs a longer
or otherwise settled schedule (a decaying learning rate, or training until validation is
flat) before its number is published.

Run it after ``make reproduce``; exit status 1 when a model is flagged, 0 otherwise, 2 when
the cache cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import cache_dir
from ..results import markdown_table
from ..seq_models import validation_noise


def noise_band(p: float, n_val: int | None) -> float | None:
    """The noise of a validation exact match ``p`` on ``n_val`` queries
    (:func:`idl_utils.seq_models.validation_noise`); None when ``n_val`` is unknown."""
    return validation_noise(p, n_val) if n_val else None


def kept_epoch(info: dict[str, Any], curve: list[float]) -> int:
    """The 1-based epoch of ``curve`` whose weights the model kept: the best validation epoch
    for ``keep="best"`` (the default), else the last one."""
    keep = (info.get("train") or {}).get("keep", "best")
    best = info.get("best_epoch")
    if keep == "last" or not isinstance(best, int) or not 1 <= best <= len(curve):
        return len(curve)
    return best


def epoch_stability(info: dict[str, Any]) -> dict[str, Any] | None:
    """For one model's training record (a cache ``info.json``): the kept epoch, its validation
    exact match, the largest change one epoch before or after it, the noise band and a
    verdict (``stable``, ``TIPPING``, or ``unknown`` without ``n_val``). None when the record
    has no validation exact-match curve, or only one epoch of it."""
    curve = (info.get("history") or {}).get("val_exact")
    if not curve or len(curve) < 2:
        return None
    kept = kept_epoch(info, curve)
    value = float(curve[kept - 1])
    neighbours = [float(curve[i - 1]) for i in (kept - 1, kept + 1) if 1 <= i <= len(curve)]
    change = max(abs(v - value) for v in neighbours)
    n_val = info.get("n_val") or (info.get("config") or {}).get("n_val")
    band = noise_band(value, n_val)
    verdict = "unknown" if band is None else ("TIPPING" if change > band else "stable")
    return {"kept_epoch": kept, "epochs": len(curve), "val_exact": value,
            "change_one_epoch": change, "noise_band": band, "n_val": n_val, "verdict": verdict}


def audit_cache(folder: Path) -> list[dict[str, Any]]:
    """One row per cached model with a validation exact-match curve, sorted by name."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no model cache at {folder}: run the notebooks (or make reproduce) "
                                f"first, or point IDL_CACHE_DIR at the cache to audit")
    rows = []
    for info_file in sorted(folder.glob("*/info.json")):
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {info_file}: {exc}") from exc
        found = epoch_stability(info)
        if found is not None:
            rows.append({"model": info_file.parent.name, **found})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", nargs="?", type=Path, default=None,
                        help="model cache folder (default: $IDL_CACHE_DIR, else data/cache)")
    args = parser.parse_args(argv)
    folder = args.cache or cache_dir()
    try:
        rows = audit_cache(folder)
    except (FileNotFoundError, ValueError) as exc:
        print(f"make audit: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"No sequence model with a validation curve in {folder}.")
        return 0
    print(markdown_table(rows, ["model", "epochs", "kept_epoch", "val_exact", "change_one_epoch",
                                "noise_band", "n_val", "verdict"], floatfmt=".4f"))
    flagged = [r["model"] for r in rows if r["verdict"] == "TIPPING"]
    unknown = sum(r["verdict"] == "unknown" for r in rows)
    print(f"\n{len(rows)} models: {len(rows) - len(flagged) - unknown} stable, {len(flagged)} at a "
          f"tipping point, {unknown} without a validation size (trained before it was recorded)")
    if flagged:
        print("At a tipping point (one epoch more or less moves validation exact match by more "
              "than its noise): " + ", ".join(flagged))
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
