"""``make reproduce``: run every notebook at full scale and publish the results.

For each ``notebooks/NN_*.ipynb`` (in order) this executes the notebook with nbclient under
the active profile (``full`` from ``make reproduce``), then writes -- atomically --

* ``reports/notebooks/<name>.ipynb`` and ``.html``: the executed notebook and a rendering;
* ``reports/results.json``: every notebook's numbers with provenance and wall time;
* ``reports/RESULTS.md``: the tables each notebook saved under ``reports/tables/``, plus
  runtimes and provenance, ready to copy into a report.

Under the ``full`` profile it first runs the speed probe (:mod:`idl_utils.tools.speed`, under a
minute), prints how long the run should take on this machine, and records the probe beside
each notebook's wall time. Trained models are cached (:mod:`idl_utils.cache`), so an
interrupted run resumes where it stopped and a second run only re-evaluates. ``results.json``
of two runs on one machine is identical except for measurements of the machine (see
:func:`without_timings`).

With ``--jobs 2`` (what ``make reproduce`` uses on a machine without a GPU) two notebooks run
at once, each in its own process with its own kernel. On two CPU cores this shortens the
whole run because much of a small model's training step is single-threaded Python that
leaves the other core idle; each notebook's numbers are the same as when it runs alone (each
kernel keeps TensorFlow's thread settings and deterministic ops; a test checks it for the
smoke profile). Per-notebook wall times then include the sharing, and ``results.json``
records the elapsed time of the whole run beside them.

Each notebook's start and finish are also noted in ``reports/results/_this_checkout.json``
(git-ignored; :mod:`idl_utils.tools.run_record`): that record is how ``make compare`` and
``make export`` tell this checkout's run from the committed reference.

Usage: ``python -m idl_utils.tools.reproduce [--only 02_text_to_text ...] [--jobs N] [--no-html]
[--no-probe] [--notebooks DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..config import PROGRESS_ENV, PROJECT_ROOT, get_profile, reports_dir
from ..provenance import hardware, package_versions
from ..results import atomic_write_json, atomic_write_text, markdown_table
from . import run_record

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def notebook_paths(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks (``NN_*.ipynb``) of ``folder`` (default: the kit's) in run order,
    optionally only those whose stem is in ``only``."""
    paths = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SystemExit(f"No notebooks (NN_name.ipynb) in {folder}")
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


def cell_times(path: Path) -> list[dict[str, Any]]:
    """The code cells of an executed notebook with their wall seconds, read from the timestamps
    Jupyter records in each cell's metadata (``iopub.execute_input`` to ``shell.execute_reply``),
    in notebook order: ``{"cell": n, "seconds": s, "first_line": ...}`` with ``n`` counting code
    cells from 1, as the progress lines of a run do. Cells without timestamps are left out."""
    from datetime import datetime

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out, n = [], 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        n += 1
        stamps = cell.get("metadata", {}).get("execution", {})
        begin, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if not (begin and end):
            continue
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        first = next((ln.strip() for ln in source.splitlines() if ln.strip() and not ln.startswith("#")), "")
        out.append({"cell": n, "seconds": round(seconds, 1), "first_line": first[:70]})
    return out


def slowest_cells_markdown(names: list[str], folder: Path, top: int = 5) -> list[str]:
    """RESULTS.md's "Where the time went": for each notebook executed into ``folder``, its
    ``top`` slowest code cells with their share of the notebook's cell time."""
    lines: list[str] = []
    for name in names:
        path = folder / f"{name}.ipynb"
        if not path.exists():
            continue
        cells = cell_times(path)
        total = sum(c["seconds"] for c in cells)
        if not cells or total <= 0:
            continue
        rows = [{"cell": c["cell"], "minutes": f"{c['seconds'] / 60:.1f}",
                 "share": f"{c['seconds'] / total:.0%}", "starts with": f"`{c['first_line']}`"}
                for c in sorted(cells, key=lambda c: -c["seconds"])[:top]]
        lines += [f"**{name}** ({total / 60:.1f} min in {len(cells)} code cells):", "",
                  markdown_table(rows), ""]
    return lines


MEASUREMENT_SUFFIXES = ("seconds", "memory_gib", "_ms")
#: summaries of a measurement over seeds (``train_seconds_max``) are measurements too
SUMMARY_SUFFIXES = ("_mean", "_std", "_min", "_max", "_median")
#: records of how a run was made (parallel jobs, elapsed time), not of what it found
RUN_RECORD_KEYS = ("last_run",)


def is_measurement(key: str) -> bool:
    """Is ``key`` a reading of the machine (a time, a memory peak), perhaps summarised over
    seeds (``train_seconds_max``), rather than a result?"""
    for suffix in SUMMARY_SUFFIXES:
        if key.endswith(suffix):
            key = key[: -len(suffix)]
            break
    return key.endswith(MEASUREMENT_SUFFIXES)


def without_timings(obj: Any) -> Any:
    """``obj`` without measurements of the machine (keys ending in ``seconds``,
    ``memory_gib`` or ``_ms``, also with ``_mean``/``_std``/``_min``/``_max``/``_median``
    after them): what must be identical between two runs of the same seed on the same machine."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items()
                if not is_measurement(k) and k not in RUN_RECORD_KEYS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def collate(runtimes: dict[str, float], speeds: dict[str, dict[str, float]] | None = None,
            last_run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Gather ``reports/results/*.json`` into one results document. ``speeds``: the speed
    probe of the machine that last ran each notebook (:mod:`idl_utils.tools.speed`); ``last_run``:
    how the latest ``make reproduce`` ran (notebooks, parallel jobs, elapsed seconds)."""
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
        **({"last_run": last_run} if last_run else {}),
    }


def machine_summary(hw: dict[str, Any]) -> str:
    """One line for a provenance ``hardware`` record: CPU, cores, memory, SIMD, GPU."""
    if not hw:
        return "not recorded"
    simd = hw.get("cpu_features")
    simd_text = f", SIMD {' '.join(simd) if simd else 'unknown'}" if simd is not None else ""
    return (f"{hw.get('processor')}, {hw.get('cpu_count')} cores, {hw.get('memory_gib')} GiB"
            f"{simd_text}, GPU: {', '.join(hw.get('gpus') or []) or 'none'}")


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, or ``{}`` when there is no such file yet."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def run_speed_probe(side_by_side: bool = False) -> dict[str, float] | None:
    """The speed probe, in a child process (so this one never loads TensorFlow), with its
    side-by-side probe when ``side_by_side`` (for a run of several notebooks at once); None,
    with a message, if it fails: a probe must never stop a run."""
    command = [sys.executable, "-m", "idl_utils.tools.speed"] + ([] if side_by_side else ["--alone"])
    try:
        done = subprocess.run(command, capture_output=True,
                              text=True, timeout=900, check=True, cwd=PROJECT_ROOT)
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
        last = results.get("last_run")
        if last and last.get("elapsed_seconds") is not None:
            at_once = (f", {last['jobs']} at a time (each notebook's wall time above includes "
                       "sharing the machine)" if last.get("jobs", 1) > 1 else ", one at a time")
            lines += ["", f"The latest run executed {len(last['notebooks'])} notebook(s)"
                      f"{at_once}, in {last['elapsed_seconds'] / 60:.1f} min elapsed."]
        profile = slowest_cells_markdown(list(runtimes), out_dir / "notebooks")
        if profile:
            lines += ["", "## Where the time went", "",
                      "The slowest code cells of each notebook's latest run (from the executed "
                      "notebooks in `notebooks/`): where to look first to make a run shorter.", "",
                      *profile]
    env = results["environment"]
    lines += ["## Environment", "",
              f"Collated on: {machine_summary(env['hardware'])}.", "",
              ", ".join(f"{k} {v}" for k, v in env["versions"].items()), ""]
    return "\n".join(lines)


def _report_failure(stem: str, exc: BaseException) -> None:
    print(f"=== {stem}: FAILED: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr,
          flush=True)


def default_jobs() -> int:
    """Notebooks to run at once: 2 on a CPU-only machine with at least 2 cores, else 1 (two
    kernels would compete for one GPU's memory; one core gains nothing)."""
    if shutil.which("nvidia-smi") or (os.cpu_count() or 1) < 2:
        return 1
    return 2


def _run_child(path: Path, out_dir: Path, result_file: Path, *, html: bool) -> int:
    """``--child``: execute one notebook for a parallel parent and leave its wall seconds in
    ``result_file``; the parent does all the bookkeeping."""
    try:
        seconds = execute_notebook(path, out_dir / "notebooks", html=html)
    except KeyboardInterrupt as exc:
        print(f"=== {exc}", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:
        _report_failure(path.stem, exc)
        return 1
    atomic_write_json(result_file, {"seconds": seconds})
    return 0


def run_parallel(paths: list[Path], jobs: int, *, html: bool, on_done: Any,
                 on_start: Any = None) -> tuple[list[str], bool]:
    """Run ``paths`` in order, at most ``jobs`` at a time, each in a child process with its
    own kernel. ``on_start(path)`` and ``on_done(path, seconds)`` are called in this process
    as each one starts and finishes.
    Returns ``(failed stems, interrupted)``; on Ctrl-C or ``kill`` every child is stopped
    (their kernels with them) and finished notebooks are kept."""
    pending = list(paths)
    running: dict[str, tuple[subprocess.Popen, Path, Path]] = {}
    failures: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="idl-reproduce-"))
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):  # kill -> the same clean stop as Ctrl-C
        raise KeyboardInterrupt("stopped by a signal (kill)")

    signal.signal(signal.SIGTERM, stop)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                path = pending.pop(0)
                result_file = scratch / f"{path.stem}.json"
                print(f"\n=== {path.stem}: running ({len(running) + 1} of {jobs} at a time) ...",
                      flush=True)
                if on_start:
                    on_start(path)
                cmd = [sys.executable, "-m", "idl_utils.tools.reproduce", "--child", str(path),
                       "--result-file", str(result_file)] + ([] if html else ["--no-html"])
                running[path.stem] = (subprocess.Popen(cmd, cwd=PROJECT_ROOT), path, result_file)
            time.sleep(0.5)
            for stem, (proc, path, result_file) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[stem]
                if proc.returncode == 0 and result_file.exists():
                    seconds = json.loads(result_file.read_text(encoding="utf-8"))["seconds"]
                    on_done(path, seconds)
                elif proc.returncode == 130:
                    raise KeyboardInterrupt(f"{stem}: stopped by a signal")
                else:
                    print(f"=== {stem}: FAILED (exit code {proc.returncode}, see above)",
                          file=sys.stderr, flush=True)
                    failures.append(stem)
        return failures, False
    except KeyboardInterrupt:
        for proc, _, _ in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # nbclient shuts its kernel down
        for proc, _, _ in running.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return failures, True
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="notebook stems to run (default: all)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks to run at once (default: 2 on a CPU-only machine with "
                             "2 or more cores, else 1)")
    parser.add_argument("--no-html", action="store_true", help="skip HTML renderings")
    parser.add_argument("--no-probe", action="store_true",
                        help="skip the speed probe and run-time estimate (full profile only)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, metavar="DIR",
                        help="folder of NN_name.ipynb notebooks to run (default: notebooks/)")
    parser.add_argument("--collate-only", action="store_true",
                        help="run no notebook; rebuild results.json and RESULTS.md from reports/")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 (one notebook at a time) or more")

    profile = get_profile()
    out_dir = reports_dir()
    if args.child:
        return _run_child(args.child, out_dir, args.result_file, html=not args.no_html)
    paths = [] if args.collate_only else notebook_paths(args.only, args.notebooks)
    jobs = min(args.jobs or default_jobs(), max(len(paths), 1))
    print(f"Reproducing {len(paths)} notebook(s) with profile '{profile.name}' -> {out_dir}"
          + (f", {jobs} at a time" if jobs > 1 else ""), flush=True)
    # the notebooks' kernels inherit these, so they write where this run collates from
    os.environ["IDL_REPORTS_DIR"] = str(out_dir)
    # a saved notebook holds one summary line per training, not a progress bar's redraws
    os.environ.setdefault(PROGRESS_ENV, "summary")
    runtimes_file = out_dir / "results" / "_runtimes.json"
    speeds_file = out_dir / "results" / "_speed.json"
    run_file = out_dir / "results" / "_run.json"
    measured = None
    if paths and profile.name == "full" and not args.no_probe:
        from .speed import describe

        print(f"Timing this machine ({'about a minute' if jobs > 1 else 'under a minute'}) ...",
              flush=True)
        measured = run_speed_probe(side_by_side=jobs > 1)
        if measured:
            print(describe(measured, [p.stem for p in paths], jobs=jobs), flush=True)

    commit = run_record.current_commit()

    def start(path: Path) -> None:
        run_record.notebook_started(out_dir, path.stem, commit)

    def done(path: Path, seconds: float) -> None:
        run_record.notebook_finished(out_dir, path.stem, ok=True)
        # read now, not when this run started: another run into the same reports (another
        # notebook) may have finished meanwhile, and its entries must stay
        runtimes, speeds = _read_json(runtimes_file), _read_json(speeds_file)
        runtimes[path.stem] = seconds
        atomic_write_json(runtimes_file, runtimes)
        if measured:
            speeds[path.stem] = measured
        else:  # an old probe would describe another run's machine
            speeds.pop(path.stem, None)
        atomic_write_json(speeds_file, speeds)
        print(f"=== {path.stem}: done in {seconds / 60:.1f} min", flush=True)

    resume = ("Finished notebooks and trained models are kept; run the same command again to "
              "resume.")
    started = time.perf_counter()
    failures: list[str] = []
    if jobs > 1:
        failures, interrupted = run_parallel(paths, jobs, html=not args.no_html, on_done=done,
                                             on_start=start)
        for stem in failures:
            run_record.notebook_finished(out_dir, stem, ok=False)
        if interrupted:
            print(f"\n=== Stopped (Ctrl-C or kill). {resume}", file=sys.stderr, flush=True)
            return 130
    for path in paths if jobs == 1 else []:
        print(f"\n=== {path.stem}: running ...", flush=True)
        start(path)
        try:
            seconds = execute_notebook(path, out_dir / "notebooks", html=not args.no_html)
        except KeyboardInterrupt as exc:
            print(f"\n=== {exc}. {resume}", file=sys.stderr, flush=True)
            return 130
        except Exception as exc:  # report every failure, then fail at the end
            _report_failure(path.stem, exc)
            run_record.notebook_finished(out_dir, path.stem, ok=False)
            failures.append(path.stem)
            continue
        done(path, seconds)
    elapsed = time.perf_counter() - started
    last_run = None
    if paths:
        last_run = {"notebooks": [p.stem for p in paths], "jobs": jobs,
                    "elapsed_seconds": round(elapsed, 1)}
        atomic_write_json(run_file, last_run)
    elif run_file.exists():
        last_run = json.loads(run_file.read_text(encoding="utf-8"))
    runtimes, speeds = _read_json(runtimes_file), _read_json(speeds_file)
    ordered = {k: runtimes[k] for k in sorted(runtimes)}
    results = collate(ordered, speeds, last_run)
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "RESULTS.md", results_markdown(results, ordered))
    print("\nSummary (wall time per notebook):")
    for name, seconds in ordered.items():
        print(f"  {name:<28} {seconds / 60:6.1f} min")
    print(f"  {'sum':<28} {sum(ordered.values()) / 60:6.1f} min")
    if paths:
        print(f"  {'elapsed, this run':<28} {elapsed / 60:6.1f} min"
              + (f" ({jobs} notebooks at a time)" if jobs > 1 else ""))
    print(f"Wrote {out_dir / 'results.json'} and {out_dir / 'RESULTS.md'}")
    if failures:
        print(f"FAILED notebooks: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
