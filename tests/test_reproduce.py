import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from idl_utils.config import PROJECT_ROOT
from idl_utils.tools.reproduce import notebook_paths, without_timings

ROOT = Path(__file__).resolve().parent.parent


def test_without_timings_strips_measurements_only():
    data = {"acc": 0.9, "train_seconds": 3.0, "rows": [{"peak_memory_gib": 1.2, "epochs": 4}],
            "wall_seconds": 9, "machine_speed": {"gan_step_ms": 340.0, "lstm_step_ms": 19.0}}
    assert without_timings(data) == {"acc": 0.9, "rows": [{"epochs": 4}], "machine_speed": {}}
    # how a run was made (one notebook at a time or two) is not what it found
    assert without_timings({"acc": 0.9, "last_run": {"jobs": 2}}) == {"acc": 0.9}
    # a timing summarised over seeds is still a timing; a result's summary is still a result
    seeds = {"exact_match_mean": 0.99, "exact_match_std": 0.01, "train_seconds_max": 8.7,
             "train_seconds_mean": 8.0, "peak_memory_gib_max": 1.1}
    assert without_timings(seeds) == {"exact_match_mean": 0.99, "exact_match_std": 0.01}


def test_notebook_selection(tmp_path):
    assert [p.stem for p in notebook_paths(["02_text_to_text"])] == ["02_text_to_text"]
    with pytest.raises(SystemExit, match="Unknown notebook"):
        notebook_paths(["99_nope"])
    assert [p.stem for p in notebook_paths(folder=_tiny_notebooks(tmp_path))] == list(TINY_NOTEBOOKS)
    with pytest.raises(SystemExit, match="No notebooks"):
        notebook_paths(folder=tmp_path / "empty")


# Two small seeded notebooks written the kit's way (setup call, results, a table and a
# figure). The first trains the kit's LSTM on arithmetic queries and the kit's GAN on random
# images; the second is NumPy only (a seeded bootstrap of the queries), so the determinism
# test below starts TensorFlow in two kernels per run, not four, and still runs two notebooks
# at once. Each runs in seconds, instead of re-running notebooks that nbmake already runs.
TINY_NOTEBOOKS = {
    "01_tiny_models": """\
import keras
import matplotlib.pyplot as plt
import numpy as np
from idl_utils.generative import GAN
from idl_utils.notebook import start_notebook
from idl_utils.queries import make_queries
from idl_utils.results import record_results, save_fig, save_table
from idl_utils.seq_models import AlignedReversed, build_kit_model

P = start_notebook("01_tiny_models", seed=42)
rep = AlignedReversed()
queries = make_queries(2).subset(np.arange(0, 10000, 25))
x, y = rep.encode_inputs(queries), rep.encode_targets(queries)
model = build_kit_model(2, units=32)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x[:300], y[:300], epochs=3, batch_size=50, verbose=0)
per_char = float((np.argmax(model(x[300:]), -1) == np.argmax(y[300:], -1)).mean())  # eager: no tracing
save_table([{"model": "kit", "per_char": per_char}], "01_tiny_text_scores", title="Tiny text")
fig, ax = plt.subplots()
ax.plot(history.history["loss"])
save_fig(fig, "tiny_text_loss")

images = np.random.default_rng(42).random((64, 16, 16, 3), dtype=np.float32)
gan = GAN(image_size=16, latent_dim=16, width=8, seed=42)
gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
gan_history = gan.fit(images, epochs=2, batch_size=16, verbose=0)
noise = np.random.default_rng(1).normal(size=(4, 16)).astype("float32")
samples = np.asarray(gan.generator(noise, training=False))
record_results("01_tiny_models", {
    "kit": {"per_char": per_char, "test_queries": 100, "loss": history.history["loss"]},
    "gan": {"final_losses": {k: float(v[-1]) for k, v in gan_history.history.items()},
            "sample_mean": float(samples.mean())}}, seed=42)
""",
    "02_tiny_numpy": """\
import numpy as np
from idl_utils.queries import make_queries
from idl_utils.results import record_results, save_table

queries = make_queries(2)
rng = np.random.default_rng(42)
answers = queries.results
means = [float(answers[rng.integers(0, len(answers), 500)].mean()) for _ in range(20)]
save_table([{"bootstraps": len(means), "mean": float(np.mean(means))}], "02_tiny_numpy", title="Tiny numpy")
record_results("02_tiny_numpy", {"bootstrap_means": means}, seed=42)
""",
}


def _tiny_notebooks(folder: Path) -> Path:
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    for name, code in TINY_NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}"),
                                             nbformat.v4.new_code_cell(code)])
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def _reproduce(tmp: Path, name: str, *args: str) -> dict:
    env = {**os.environ, "IDL_PROFILE": "smoke", "IDL_REPORTS_DIR": str(tmp / name / "reports"),
           "IDL_CACHE_DIR": str(tmp / name / "cache")}
    done = subprocess.run([sys.executable, "-m", "idl_utils.tools.reproduce", "--no-html", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((tmp / name / "reports" / "results.json").read_text())


def test_reproduce_is_deterministic_and_complete(tmp_path):
    """Two runs from scratch (separate model caches), one notebook at a time and two at once,
    give the same results.json, timings and memory readings aside; and the run leaves the
    executed notebooks, figures and tables. (Every notebook of the kit runs under nbmake.)"""
    folder = ["--notebooks", str(_tiny_notebooks(tmp_path / "notebooks"))]
    first = _reproduce(tmp_path, "a", *folder, "--jobs", "1")
    second = _reproduce(tmp_path, "b", *folder, "--jobs", "2")
    assert set(first["notebooks"]) == set(TINY_NOTEBOOKS)
    assert without_timings(first) == without_timings(second)
    assert first["last_run"]["jobs"] == 1 and second["last_run"]["jobs"] == 2
    assert second["last_run"]["elapsed_seconds"] > 0
    nb = first["notebooks"]["01_tiny_models"]
    assert nb["provenance"]["seed"] == 42 and nb["provenance"]["profile"] == "smoke"
    assert nb["wall_seconds"] > 0 and first["total_wall_seconds"] > 0
    # the models trained: a loss that fell, losses and samples that are numbers
    loss = nb["results"]["kit"]["loss"]
    assert len(loss) == 3 and loss[-1] < loss[0]
    assert 0 < nb["results"]["gan"]["sample_mean"] < 1
    assert len(set(first["notebooks"]["02_tiny_numpy"]["results"]["bootstrap_means"])) > 1
    assert "2 at a time" in (tmp_path / "b" / "reports" / "RESULTS.md").read_text()
    out = tmp_path / "a" / "reports"
    assert {p.name for p in (out / "notebooks").glob("*.ipynb")} == {f"{n}.ipynb" for n in TINY_NOTEBOOKS}
    assert (out / "figures" / "tiny_text_loss.png").exists()
    assert "**Tiny text**" in (out / "RESULTS.md").read_text()
    # and make compare agrees, to the last digit
    from idl_utils.tools.compare import main as compare

    assert compare([str(out / "results.json"), str(tmp_path / "b" / "reports" / "results.json"),
                    "--exact"]) == 0
    # each run left the record that tells make compare and make export it ran here
    from idl_utils.tools import run_record

    record = run_record.read_record(out)
    assert {n: e["status"] for n, e in record["notebooks"].items()} == dict.fromkeys(TINY_NOTEBOOKS, "done")
    assert record["notebooks"]["01_tiny_models"]["commit"] == run_record.current_commit()
    assert run_record.not_made_here(out, first, TINY_NOTEBOOKS, check_notebooks=True) == {}


def test_a_run_keeps_the_runtimes_another_run_wrote_meanwhile(tmp_path):
    """Two reproduce commands into the same reports (one per notebook, run side by side): the
    one finishing last must not put back the runtimes file it read when it started."""
    import nbformat

    folder = tmp_path / "notebooks"
    folder.mkdir()
    # the notebook plays the other run: it finishes while this one is still going
    code = """\
import json, os, pathlib
f = pathlib.Path(os.environ["IDL_REPORTS_DIR"]) / "results" / "_runtimes.json"
f.parent.mkdir(parents=True, exist_ok=True)
runtimes = json.loads(f.read_text()) if f.exists() else {}
f.write_text(json.dumps({**runtimes, "99_other_run": 12.5}))
"""
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]),
                   folder / "01_meanwhile.ipynb")
    results = _reproduce(tmp_path, "a", "--notebooks", str(folder))
    runtimes = json.loads((tmp_path / "a" / "reports" / "results" / "_runtimes.json").read_text())
    assert set(runtimes) == {"01_meanwhile", "99_other_run"} and runtimes["99_other_run"] == 12.5
    assert results["total_wall_seconds"] >= 12.5


def test_collate_only_rebuilds_the_summary_from_saved_results(tmp_path, monkeypatch):
    from idl_utils.results import atomic_write_json, record_results, save_table
    from idl_utils.tools.reproduce import main

    monkeypatch.setenv("IDL_REPORTS_DIR", str(tmp_path))
    record_results("02_text_to_text", {"kit": {"exact_match": 0.99}}, seed=42)
    save_table([{"model": "kit", "exact_match": 0.99}], "02_splits", title="Splits")
    atomic_write_json(tmp_path / "results" / "_runtimes.json", {"02_text_to_text": 60.0})
    speed = {"gan_step_ms": 340.5, "lstm_step_ms": 19.25}
    atomic_write_json(tmp_path / "results" / "_speed.json", {"02_text_to_text": speed})
    assert main(["--collate-only"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["notebooks"]["02_text_to_text"]["results"]["kit"]["exact_match"] == 0.99
    assert results["notebooks"]["02_text_to_text"]["wall_seconds"] == 60.0
    assert results["notebooks"]["02_text_to_text"]["machine_speed"] == speed
    text = (tmp_path / "RESULTS.md").read_text()
    assert "**Splits**" in text and "| 02_text_to_text | 60 | 340.5 | 19.25 |" in text
    assert "from the cache" in text and "make speed" in text
    # each notebook names the machine that made its numbers, SIMD extensions included
    from idl_utils.provenance import hardware

    simd = " ".join(hardware()["cpu_features"]) or "unknown"
    assert ", machine: " in text and f"SIMD {simd}" in text


def test_machine_summary_handles_old_and_new_records():
    from idl_utils.tools.reproduce import machine_summary

    old = {"processor": "AMD EPYC", "cpu_count": 2, "memory_gib": 23.5, "gpus": []}
    assert machine_summary(old) == "AMD EPYC, 2 cores, 23.5 GiB, GPU: none"
    new = dict(old, cpu_features=["avx", "fma"], gpus=["/physical_device:GPU:0"])
    assert machine_summary(new) == "AMD EPYC, 2 cores, 23.5 GiB, SIMD avx fma, GPU: /physical_device:GPU:0"
    assert machine_summary({}) == "not recorded"


def test_sigterm_stops_the_run_and_its_kernel(tmp_path):
    """``kill`` on a running reproduce must end it (and the notebook's kernel) promptly,
    not count the notebook as failed and carry on with the next one."""
    import signal
    import time

    import nbformat

    started = tmp_path / "started"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('x')\ntime.sleep(120)")])
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "sleeper.ipynb")
    notebook, out_dir = str(tmp_path / "nb" / "sleeper.ipynb"), str(tmp_path / "out")
    script = ("from pathlib import Path\n"
              "from idl_utils.tools.reproduce import execute_notebook\n"
              f"execute_notebook(Path({notebook!r}), Path({out_dir!r}), html=False)\n"
              "print('carried on')\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the kernel never started"
        time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    kernels_before = children.stdout.split()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "carried on" not in out
    assert "stopped by a signal" in err
    time.sleep(1)
    assert kernels_before
    for pid in kernels_before:  # the kernel went with it
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def _sleeper(folder: Path, name: str, started: Path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('x')\ntime.sleep(120)")])
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def test_parallel_run_stops_every_notebook_and_kernel_on_kill(tmp_path):
    """``kill`` on a run with two notebooks at once stops both child processes and their
    kernels, reports the stop and does not start the notebook still waiting."""
    import signal
    import time

    (tmp_path / "nb").mkdir()
    flags = [tmp_path / f"started{i}" for i in range(3)]
    paths = [str(_sleeper(tmp_path / "nb", f"sleeper{i}", flags[i])) for i in range(3)]
    script = ("import sys\nfrom pathlib import Path\n"
              "from idl_utils.tools.reproduce import run_parallel\n"
              f"failed, stopped = run_parallel([Path(p) for p in {paths!r}], 2, html=False,"
              " on_done=lambda p, s: print('done', p))\n"
              "print('stopped' if stopped else 'carried on', failed)\n")
    env = {**os.environ, "IDL_REPORTS_DIR": str(tmp_path / "out")}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (flags[0].exists() and flags[1].exists()):
        assert proc.poll() is None and time.monotonic() < deadline, "the notebooks never started"
        time.sleep(0.2)
    descendants, parents = [], [str(proc.pid)]
    while parents:  # the child processes, their kernels, and so on
        found = subprocess.run(["pgrep", "-P", ",".join(parents)], capture_output=True,
                               text=True).stdout.split()
        descendants += found
        parents = found
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "stopped" in out and "done" not in out, (out, err)
    assert not flags[2].exists()  # the third never started
    time.sleep(1)
    assert len(descendants) >= 4  # two children, two kernels
    for pid in descendants:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()


def test_default_jobs_is_two_on_a_cpu_only_machine(monkeypatch):
    from idl_utils.tools import reproduce

    monkeypatch.setattr(reproduce.shutil, "which", lambda name: None)
    monkeypatch.setattr(reproduce.os, "cpu_count", lambda: 2)
    assert reproduce.default_jobs() == 2
    monkeypatch.setattr(reproduce.os, "cpu_count", lambda: 1)
    assert reproduce.default_jobs() == 1
    monkeypatch.setattr(reproduce.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(reproduce.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    assert reproduce.default_jobs() == 1


def test_jobs_below_one_is_a_clear_error(capsys):
    from idl_utils.tools.reproduce import main

    with pytest.raises(SystemExit):
        main(["--jobs", "0", "--collate-only"])
    assert "--jobs 0: give 1" in capsys.readouterr().err


def _timed_cell(source: str, begin: str | None, end: str | None) -> dict:
    stamps = {"iopub.execute_input": begin, "shell.execute_reply": end} if begin else {}
    return {"cell_type": "code", "source": source, "metadata": {"execution": stamps},
            "outputs": [], "execution_count": None}


def test_cell_times_reads_each_code_cells_timestamps(tmp_path):
    from idl_utils.tools.reproduce import cell_times, slowest_cells_markdown

    nb = {"cells": [
        {"cell_type": "markdown", "source": "# title", "metadata": {}},
        _timed_cell("import numpy", "2026-12-05T05:00:00.000000Z", "2026-12-05T05:00:01.500000Z"),
        _timed_cell("# a comment first\nmodel = train()", "2026-12-05T05:00:02Z", "2026-12-05T05:02:02Z"),
        _timed_cell("never ran", None, None),
        _timed_cell(["plot(", "x)"], "2026-12-05T05:02:03Z", "2026-12-05T05:02:13Z"),
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "09_demo.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert cell_times(path) == [
        {"cell": 1, "seconds": 1.5, "first_line": "import numpy"},
        {"cell": 2, "seconds": 120.0, "first_line": "model = train()"},
        {"cell": 4, "seconds": 10.0, "first_line": "plot(x)"},
    ]
    text = "\n".join(slowest_cells_markdown(["09_demo", "missing"], tmp_path, top=2))
    assert "09_demo** (2.2 min in 3 code cells)" in text and "missing" not in text
    assert text.index("model = train()") < text.index("plot(x)") and "import numpy" not in text
    assert "91%" in text  # 120 of 131.5 seconds


def test_cell_times_of_a_published_run_add_up_to_its_wall_time():
    from idl_utils.tools.reproduce import cell_times

    results = json.loads((PROJECT_ROOT / "reports" / "results.json").read_text(encoding="utf-8"))
    for name, nb in results["notebooks"].items():
        cells = cell_times(PROJECT_ROOT / "reports" / "notebooks" / f"{name}.ipynb")
        total = sum(c["seconds"] for c in cells)
        # the kernel's start-up and the writing of outputs are outside the cells
        assert 0.8 * nb["wall_seconds"] < total <= nb["wall_seconds"], (name, total, nb["wall_seconds"])
