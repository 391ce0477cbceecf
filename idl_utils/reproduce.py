"""``make reproduce``: run every notebook at full scale and publish the results.

For each ``notebooks/NN_*.ipynb`` (in order) this executes the notebook with nbclient under
the active profile (``full`` from ``make reproduce``), then writes -- atomically --

* ``reports/notebooks/<name>.ipynb`` and ``.html``: the executed notebook and a rendering;
* ``reports/results.json``: every notebook's numbers with provenance and wall time;
* ``reports/RESULTS.md``: the tables each notebook saved under ``reports/tables/``, plus
  runtimes and provenance, ready to copy into a report.

Under the ``full`` profile it first runs the speed probe (:mod:`idl_utils.speed`, under a
minute), prints how long the run should take on this machine, and records the probe beside
each notebook's wall time. Trained models are cached (:mod:`idl_utils.cache`), so an
interrupted run resumes where it stopped and a second run only re-evaluates. ``results.json``
of two runs on one machine is identical except for measurements of the machine (see
:func:`without_timings`).

Usage: ``python -m idl_utils.reproduce [--only 02_text_to_text ...] [--no-html] [--no-probe]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import PROJECT_ROOT, get_profile, reports_dir
from .provenance import hardware, package_versions
from .results import atomic_write_json, atomic_write_text, markdown_table

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def notebook_paths(only: list[str] | None = None) -> list[Path]:
    """The kit's notebooks in run order, optionally only those whose stem is in ``only``."""
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        known = {p.stem for p in paths}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise SystemExit(f"Unknown notebook(s) {unknown}. Known: {sorted(known)}")
        paths = [p for p in paths if p.stem in only]
    return paths


def execute_notebook(path: Path, out_dir: Path, *, html: bool = True,
                     timeout: int | None = None) -> float:
    """Execute ``path`` in a fresh kernel (working directory: the notebooks folder) and write
    the executed copy (and an HTML rendering) to ``out_dir``. Returns wall seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    done = {"cells": 0}

    def progress(cell, cell_index, **_):  # nbclient hook: one line per executed code cell
        if cell.cell_type != "code":
            return
        done["cells"] += 1
        first_line = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:60]
        print(f"  [{path.stem}] cell {done['cells']}/{n_code} done at "
              f"{(time.perf_counter() - start) / 60:5.1f} min: {first_line}", flush=True)

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=progress)
    try:
        client.execute()
    except Exception as exc:
        # nbclient answers Ctrl-C (SIGINT) and kill (SIGTERM) by shutting the kernel down, which
        # surfaces here as an ordinary error; make it a stop, so the run does not go on with the
        # next notebook as if this one had merely failed
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt(f"{path.name}: stopped by a signal (Ctrl-C or kill)") from exc
        raise
    finally:
        # even a failed run leaves its executed notebook for inspection
        atomic_write_text(out_dir / path.name, nbformat.writes(nb))
    seconds = time.perf_counter() - start
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
        atomic_write_text(out_dir / f"{path.stem}.html", body)
    return seconds


MEASUREMENT_SUFFIXES = ("seconds", "memory_gib", "_ms")


def without_timings(obj: Any) -> Any:
    """``obj`` without measurements of the machine (keys ending in ``seconds``,
    ``memory_gib`` or ``_ms``): what must be identical between two runs of the same seed on the same
    machine."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items()
                if not k.endswith(MEASUREMENT_SUFFIXES)}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def collate(runtimes: dict[str, float], speeds: dict[str, dict[str, float]] | None = None
            ) -> dict[str, Any]:
    """Gather ``reports/results/*.json`` into one results document. ``speeds``: the speed
    probe of the machine that last ran each notebook (:mod:`idl_utils.speed`)."""
    out_dir = reports_dir()
    notebooks: dict[str, Any] = {}
    for path in sorted((out_dir / "results").glob("[!_]*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if path.stem in runtimes:
            data["wall_seconds"] = round(runtimes[path.stem], 1)
        if speeds and path.stem in speeds:
            data["machine_speed"] = speeds[path.stem]
        notebooks[path.stem] = data
    return {
        "profile": get_profile().name,
        "notebooks": notebooks,
        "environment": {"versions": package_versions(), "hardware": hardware()},
        "total_wall_seconds": round(sum(runtimes.values()), 1),
    }


def machine_summary(hw: dict[str, Any]) -> str:
    """One line for a provenance ``hardware`` record: CPU, cores, memory, SIMD, GPU."""
    if not hw:
        return "not recorded"
    simd = hw.get("cpu_features")
    simd_text = f", SIMD {' '.join(simd) if simd else 'unknown'}" if simd is not None else ""
    return (f"{hw.get('processor')}, {hw.get('cpu_count')} cores, {hw.get('memory_gib')} GiB"
            f"{simd_text}, GPU: {', '.join(hw.get('gpus') or []) or 'none'}")


def run_speed_probe() -> dict[str, float] | None:
    """The speed probe, in a child process (so this one never loads TensorFlow); None, with a
    message, if it fails: a probe must never stop a run."""
    try:
        done = subprocess.run([sys.executable, "-m", "idl_utils.speed"], capture_output=True,
                              text=True, timeout=600, check=True, cwd=PROJECT_ROOT)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"(speed probe failed, no run-time estimate: {type(exc).__name__})", flush=True)
        return None


def results_markdown(results: dict[str, Any], runtimes: dict[str, float]) -> str:
    """``RESULTS.md``: every saved table, grouped by notebook, then runtimes and provenance."""
    out_dir = reports_dir()
    lines = [
        "# idl-kit results",
        "",
        f"Profile `{results['profile']}`. Produced by `make reproduce`; every number below is in "
        "`results.json` with the notebook, seed and data source that made it. Figures are in "
        "`figures/`, executed notebooks in `notebooks/`.",
        "",
    ]
    tables = sorted((out_dir / "tables").glob("*.md"))
    for name in sorted(results["notebooks"]):
        nb = results["notebooks"][name]
        prov = nb.get("provenance", {})
        sources = ", ".join(f"{k}: {v.get('source')}" for k, v in prov.get("data_sources", {}).items())
        lines += [f"## {name}", "",
                  f"Seed {prov.get('seed')}, data: {sources or 'generated'}, "
                  f"machine: {machine_summary(prov.get('hardware', {}))}.", ""]
        prefix = name.split("_", 1)[0]
        for table in tables:
            if table.stem.startswith(prefix + "_") or table.stem.startswith(name):
                lines += [table.read_text(encoding="utf-8").rstrip(), ""]
    if runtimes:
        rows = []
        for name, seconds in runtimes.items():
            speed = results["notebooks"].get(name, {}).get("machine_speed", {})
            rows.append({"notebook": name, "wall time (s)": round(seconds, 1),
                         "GAN step (ms)": speed.get("gan_step_ms", ""),
                         "LSTM step (ms)": speed.get("lstm_step_ms", "")})
        rows.append({"notebook": "total", "wall time (s)": round(sum(runtimes.values()), 1),
                     "GAN step (ms)": "", "LSTM step (ms)": ""})
        lines += ["## Runtimes", "",
                  "Wall time of the latest run of each notebook. Models trained in an earlier run "
                  "are loaded from the cache (`data/cache/`), so a re-run is much faster than the "
                  "first; each model's own training time is in the tables above (`train_seconds`, "
                  "`s/epoch`). The step times are the speed probe (`make speed`) of the machine "
                  "that ran the notebook: a machine with half the step time runs about twice "
                  "as fast.", "", markdown_table(rows)]
    env = results["environment"]
    lines += ["## Environment", "",
              f"Collated on: {machine_summary(env['hardware'])}.", "",
              ", ".join(f"{k} {v}" for k, v in env["versions"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="notebook stems to run (default: all)")
    parser.add_argument("--no-html", action="store_true", help="skip HTML renderings")
    parser.add_argument("--no-probe", action="store_true",
                        help="skip the speed probe and run-time estimate (full profile only)")
    parser.add_argument("--collate-only", action="store_true",
                        help="run no notebook; rebuild results.json and RESULTS.md from reports/")
    args = parser.parse_args(argv)

    profile = get_profile()
    out_dir = reports_dir()
    paths = [] if args.collate_only else notebook_paths(args.only)
    print(f"Reproducing {len(paths)} notebook(s) with profile '{profile.name}' -> {out_dir}",
          flush=True)
    # the notebooks' kernels inherit these, so they write where this run collates from
    os.environ["IDL_REPORTS_DIR"] = str(out_dir)
    runtimes_file = out_dir / "results" / "_runtimes.json"
    speeds_file = out_dir / "results" / "_speed.json"
    runtimes: dict[str, float] = {}
    speeds: dict[str, dict[str, float]] = {}
    if runtimes_file.exists():
        runtimes = json.loads(runtimes_file.read_text(encoding="utf-8"))
    if speeds_file.exists():
        speeds = json.loads(speeds_file.read_text(encoding="utf-8"))
    measured = None
    if paths and profile.name == "full" and not args.no_probe:
        from .speed import describe

        print("Timing this machine (under a minute) ...", flush=True)
        measured = run_speed_probe()
        if measured:
            print(describe(measured, [p.stem for p in paths]), flush=True)
    failures = []
    for path in paths:
        print(f"\n=== {path.stem}: running ...", flush=True)
        try:
            seconds = execute_notebook(path, out_dir / "notebooks", html=not args.no_html)
        except KeyboardInterrupt as exc:
            print(f"\n=== {exc}. Finished notebooks and trained models are kept; run the same "
                  "command again to resume.", file=sys.stderr, flush=True)
            return 130
        except Exception as exc:  # report every failure, then fail at the end
            print(f"=== {path.stem}: FAILED: {type(exc).__name__}: {str(exc)[-2000:]}",
                  file=sys.stderr, flush=True)
            failures.append(path.stem)
            continue
        runtimes[path.stem] = seconds
        atomic_write_json(runtimes_file, runtimes)
        if measured:
            speeds[path.stem] = measured
        else:  # an old probe would describe another run's machine
            speeds.pop(path.stem, None)
        atomic_write_json(speeds_file, speeds)
        print(f"=== {path.stem}: done in {seconds / 60:.1f} min", flush=True)
    ordered = {k: runtimes[k] for k in sorted(runtimes)}
    results = collate(ordered, speeds)
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "RESULTS.md", results_markdown(results, ordered))
    print("\nSummary (wall time per notebook):")
    for name, seconds in ordered.items():
        print(f"  {name:<28} {seconds / 60:6.1f} min")
    print(f"  {'total':<28} {sum(ordered.values()) / 60:6.1f} min")
    print(f"Wrote {out_dir / 'results.json'} and {out_dir / 'RESULTS.md'}")
    if failures:
        print(f"FAILED notebooks: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
