"""How fast is this machine at the kit's work, and how long will ``make reproduce`` take here?

Machines sold as "2 CPU cores" differ a lot. Of two 2-core machines that both report "AMD
EPYC", one trained the kit's LSTMs 2.6x and its GAN 5x slower than the other: a full first
run (one notebook at a time) took 71 minutes on the faster one, and about two hours on the
slower.
A short probe (under a minute, most of it starting TensorFlow and building two models) times
the two kinds of training step the notebooks spend their time in:

* ``gan_step_ms``: one training step of notebook 01's GAN (32x32 images, width 48, batch 32;
  convolutions);
* ``lstm_step_ms``: one training step of notebook 02's kit LSTM (batch 64; small matrix
  products and Python overhead, like every sequence model of notebooks 02-04).

:func:`estimate_minutes` scales each notebook's measured first-run time (empty model cache,
:data:`CALIBRATION`) by the ratio of this machine's probe to the calibration machine's. It is
a rough guide: each notebook is treated as all-GAN, all-LSTM or a mix, and a machine shared with
others drifts (one here probed 301 ms and, half an hour later, 511 ms per GAN step). It is
good enough to tell "about an hour" from "about three". ``make reproduce`` prints the
estimate before it starts and records the probe beside each notebook's wall time, so every
published time says how fast its machine was.

Two notebooks side by side (``make reproduce``'s default on two cores) do not each run at the
speed of one alone, and how much they slow each other down depends on the machine: on one
2-core kind each notebook ran 1.3-1.9x longer than alone; on a 2-core AMD EPYC with AVX2, two
probes timed at the same moment each took 2.0x as long per step as one alone, for both kinds
of step (its two "cores" give about one core's throughput to two busy processes). So ``make
speed`` also runs the probe twice at once (:func:`shared_probe`; the two start each timed part
together) and :func:`parallel_minutes` uses each notebook's own slowdown. A notebook is not all
training steps, so this is an upper bound: in that machine's full two-at-a-time run the
notebooks took 1.5-1.9x their time alone, and the estimate came out 8% long.

Usage: ``python -m idl_utils.tools.speed`` (``make speed``); its last line is the probe as JSON
(``--alone``: skip the side-by-side probe).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from ..config import STEPS_PER_EXECUTION, set_seed

# First-run minutes of each notebook (full profile, empty model cache, one notebook at a time,
# from a fresh clone) on the faster kind of 2-core "AMD EPYC" machine (with AVX-512), measured
# in one run on 2026-11-30, and the probe of that machine (the median of three probes that day:
# GAN 126-127 ms; LSTM 6.7, 12.6 and 12.7 ms -- the LSTM step is the noisier reading). Each
# notebook scales with the step it spends its time in; 03 and 04 (convolutional glyph encoders
# and decoders around LSTMs) with both, as the geometric mean of the two ratios. Checked
# against the slower kind (GAN 320 ms, LSTM 17.0 ms), where the same scaling predicts 55, 28,
# 39 and 14 min against about 49, 30.8, 37.9 and 15.6 min measured there.
# 02, 03 and 04 changed since (02: seeds and the column model; 03/04: full MNIST, a
# 60,000-digit judge, cosine schedules): their minutes are their first run on 2026-12-01 on a
# 2-core Intel Xeon (probe GAN 255 ms, LSTM 13.5 ms; 42.1, 43.1 and 12.9 min, one at a time,
# from an empty model cache) scaled back to the probe above. 02's full profile was cut since
# (depth 1-2 layers, the 3-digit course baseline 3 epochs): 42.1 min less the 7.3 min that run
# spent training what was cut, i.e. 34.8 min at LSTM 13.5 ms. (Its re-run on 2026-12-01 took
# 42.5 min, but shared the machine for its first 15 min, so it does not calibrate.) 03's
# 3-digit reader now starts from the 2-digit one: 43.1 - 16.9 + 9.5 = 35.7 min on that machine.
# 01 (GAN width 32 and a conditional GAN beside it, the course comparison at 4 epochs): its first
# run on 2026-12-07 on a 2-core Intel Xeon with AVX-512 (probe GAN 255 ms), 35.4 min alone,
# scaled back.
# 02 (the column model on every split): its first run on 2026-12-06 on the same AMD kind, alone,
# from an empty model cache (probe LSTM 11.9 ms): 42.7 min, i.e. 45.2 min at 12.6 ms. (The
# earlier 32.5 min, scaled from an Intel run, made that run's estimate 27% short.)
CALIBRATION: dict[str, Any] = {
    "probe": {"gan_step_ms": 126.0, "lstm_step_ms": 12.6},
    "minutes": {
        "01_generative_models": (17.5, "gan_step_ms"),
        "02_text_to_text": (45.2, "lstm_step_ms"),
        "03_image_to_text": (24.3, "both"),
        "04_text_to_image": (8.8, "both"),
    },
}
KINDS = ("gan_step_ms", "lstm_step_ms")

# How much longer a notebook takes when ``make reproduce`` runs another one beside it, when the
# side-by-side probe is missing (it failed, or an old record): fitted to the calibration
# machine's two-at-a-time run (2026-11-30: 56.8 min of notebooks against 71.4 one at a time;
# 01 took 1.87x as long as alone, 02 1.38x, 03 1.31x, 04 1.58x).
PARALLEL_SLOWDOWN = 1.35
# The share of the side-by-side probe's slowdown that a notebook feels: a notebook also prepares
# data, scores, draws and writes, which two processes share with less contention than two
# training loops. Fitted to the full two-at-a-time run of 2026-12-05 on the AMD AVX2 kind (probes
# 2.01x side by side; 107.5 min elapsed against 127 min one at a time): 0.65. With the probe's
# whole factor (1.0) that run's estimate was 128 min, 19% long.
SHARED_EFFECT = 0.65
SHARED = "_shared"  # suffix of the side-by-side probe's keys: "gan_step_ms_shared", ...


def _time_fit(model, data, steps: int, repeats: int, wait=None) -> float:
    """Seconds per step of ``model.fit`` over ``steps`` batches: the median of ``repeats``
    timed calls (a shared machine has hiccups), after one untimed call that traces and
    compiles the step function, then ``wait()`` if given (see :func:`_barrier`)."""
    model.fit(data, epochs=1, steps_per_epoch=min(steps, STEPS_PER_EXECUTION), verbose=0)
    if wait is not None:
        wait()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return float(np.median(times))


def _barrier(folder: str, name: str, parties: int = 2, timeout: float = 300) -> None:
    """Wait until ``parties`` processes have reached the point called ``name`` (each leaves a
    file in ``folder``), so that side-by-side probes time the same kind of step at the same
    time; after ``timeout`` seconds, go on anyway."""
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, f"{name}.{os.getpid()}"), "w").close()
    deadline = time.monotonic() + timeout
    while (sum(f.startswith(name + ".") for f in os.listdir(folder)) < parties
           and time.monotonic() < deadline):
        time.sleep(0.05)


def probe(*, gan_steps: int = 10, lstm_steps: int = 100, repeats: int = 3, seed: int = 0,
          sync_dir: str | None = None) -> dict[str, float]:
    """Time training steps of notebook 01's GAN (``gan_steps`` per timed call) and of notebook
    02's kit LSTM (``lstm_steps``), on data of the right shapes; ``repeats`` timed calls each.
    Returns the median milliseconds per step: ``{"gan_step_ms": ..., "lstm_step_ms": ...}``.
    Steps are rounded up to whole multiples of :data:`~idl_utils.config.STEPS_PER_EXECUTION`,
    as the notebooks run them. ``sync_dir``: a folder shared with another probe running at the
    same time; the two start each timed part together."""
    import keras
    import tensorflow as tf

    from ..generative import GAN
    from ..queries import make_queries
    from ..seq_models import AlignedReversed, build_kit_model

    def whole(n: int) -> int:
        return max(1, -(-n // STEPS_PER_EXECUTION)) * STEPS_PER_EXECUTION

    set_seed(seed)
    rng = np.random.default_rng(seed)
    images = rng.random((32 * 8, 32, 32, 3), dtype=np.float32)
    gan = GAN(image_size=32, latent_dim=128, width=48, seed=seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                steps_per_execution=STEPS_PER_EXECUTION)
    gan_data = tf.data.Dataset.from_tensor_slices(images).repeat().batch(32, drop_remainder=True)
    def wait(name):
        return None if sync_dir is None else (lambda: _barrier(sync_dir, name))

    gan_seconds = _time_fit(gan, gan_data, whole(gan_steps), repeats, wait("gan"))

    rep = AlignedReversed()
    queries = make_queries(2).subset(np.arange(64 * 8))
    x, y = rep.encode_inputs(queries), rep.encode_targets(queries)
    lstm = build_kit_model(2, units=128)
    lstm.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                 steps_per_execution=STEPS_PER_EXECUTION)
    lstm_data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(64, drop_remainder=True)
    lstm_seconds = _time_fit(lstm, lstm_data, whole(lstm_steps), repeats, wait("lstm"))
    return {"gan_step_ms": round(gan_seconds * 1000, 1), "lstm_step_ms": round(lstm_seconds * 1000, 2)}


def estimate_minutes(measured: dict[str, float],
                     calibration: dict[str, Any] | None = None) -> dict[str, float]:
    """First-run minutes of each notebook on a machine whose probe gave ``measured``:
    the calibration machine's minutes times ``measured[kind] / calibration[kind]`` for the
    kind of step the notebook spends its time in ("both": the geometric mean of the two)."""
    calibration = calibration or CALIBRATION
    missing = set(KINDS) - set(measured)
    if missing:
        raise ValueError(f"probe result lacks {sorted(missing)}; run idl_utils.tools.speed.probe()")
    ratio = {kind: measured[kind] / calibration["probe"][kind] for kind in KINDS}
    ratio["both"] = float(np.sqrt(ratio["gan_step_ms"] * ratio["lstm_step_ms"]))
    return {name: round(minutes * ratio[kind], 1)
            for name, (minutes, kind) in calibration["minutes"].items()}


def slowdowns(measured: dict[str, float],
              calibration: dict[str, Any] | None = None) -> dict[str, float]:
    """How many times longer each notebook takes beside another one than alone, from the
    side-by-side probe in ``measured`` (``gan_step_ms_shared`` / ``gan_step_ms`` for a GAN
    notebook, the LSTM ratio for an LSTM one, their geometric mean for "both"; a notebook
    feels :data:`SHARED_EFFECT` of the probe's extra time), or
    :data:`PARALLEL_SLOWDOWN` for every notebook when ``measured`` has no side-by-side probe."""
    calibration = calibration or CALIBRATION
    if not all(kind + SHARED in measured for kind in KINDS):
        return {name: PARALLEL_SLOWDOWN for name in calibration["minutes"]}
    ratio = {kind: measured[kind + SHARED] / measured[kind] for kind in KINDS}
    ratio["both"] = float(np.sqrt(ratio["gan_step_ms"] * ratio["lstm_step_ms"]))
    return {name: round(1.0 + SHARED_EFFECT * (ratio[kind] - 1.0), 3)
            for name, (_, kind) in calibration["minutes"].items()}


def parallel_minutes(minutes: dict[str, float], jobs: int,
                     slowdown: float | dict[str, float] = PARALLEL_SLOWDOWN) -> float:
    """Elapsed minutes when the notebooks (in this order, taking ``minutes`` each when alone)
    run ``jobs`` at a time, each started as soon as a slot frees. While two or more run, each
    progresses ``slowdown`` times slower than alone (one factor, or one per notebook, as from
    :func:`slowdowns`); the last one left runs at full speed. This can be longer than one at
    a time, on a machine where sharing costs more than it gives."""
    if jobs <= 1 or len(minutes) <= 1:
        return sum(minutes.values())
    factor = slowdown if isinstance(slowdown, dict) else dict.fromkeys(minutes, slowdown)
    waiting = list(minutes)
    left: dict[str, float] = {}  # running notebook -> minutes of alone-speed work left
    now = 0.0
    while waiting or left:
        while waiting and len(left) < jobs:
            name = waiting.pop(0)
            left[name] = minutes[name]
        rate = {name: 1.0 / factor.get(name, PARALLEL_SLOWDOWN) if len(left) > 1 else 1.0
                for name in left}
        step = min(work / rate[name] for name, work in left.items())
        now += step
        for name in list(left):
            left[name] -= step * rate[name]
            if left[name] <= 1e-9:
                del left[name]
    return now


def describe(measured: dict[str, float], notebooks: list[str] | None = None,
             jobs: int = 1) -> str:
    """A few lines for a person: the probe, the estimated first run per notebook and, with
    ``jobs`` > 1, the whole run's elapsed time when that many notebooks run at once (with the
    slowdowns of the side-by-side probe when ``measured`` has it)."""
    estimate = estimate_minutes(measured)
    if notebooks is not None:
        estimate = {k: v for k, v in estimate.items() if k in notebooks}
    ref = CALIBRATION["probe"]
    lines = [f"Speed probe: GAN step {measured['gan_step_ms']:.0f} ms "
             f"(calibration machine {ref['gan_step_ms']:.0f}), LSTM step "
             f"{measured['lstm_step_ms']:.1f} ms (calibration machine {ref['lstm_step_ms']:.1f}).",
             "Estimated first run on this machine (full profile, empty model cache; rough: a shared "
             "machine's speed drifts; cached models make re-runs much faster):"]
    lines += [f"  {name:<28} {minutes:6.0f} min" for name, minutes in estimate.items()]
    if len(estimate) > 1:
        lines.append(f"  {'total, one at a time':<28} {sum(estimate.values()):6.0f} min")
        if jobs > 1:
            lines.append(f"  {f'elapsed, {jobs} at a time':<28} "
                         f"{parallel_minutes(estimate, jobs, slowdowns(measured)):6.0f} min")
    if all(kind + SHARED in measured for kind in KINDS):
        factors = slowdowns(measured).values()
        lines.append(f"Two probes side by side: GAN step {measured['gan_step_ms' + SHARED]:.0f} ms, "
                     f"LSTM step {measured['lstm_step_ms' + SHARED]:.1f} ms each: two notebooks at "
                     f"once each take about {min(factors):.2f}-{max(factors):.2f}x as long as alone.")
    return "\n".join(lines)


def shared_probe(timeout: float = 600, repeats: int = 3) -> dict[str, float] | None:
    """Run :func:`probe` in two processes at once, as ``make reproduce`` runs two notebooks,
    and return the mean of their step times under ``gan_step_ms_shared`` and
    ``lstm_step_ms_shared``; None if either process fails (a probe never stops a run)."""
    sync_dir = tempfile.mkdtemp(prefix="idl-speed-")
    command = [sys.executable, "-m", "idl_utils.tools.speed", "--alone", "--sync-dir", sync_dir,
               "--repeats", str(repeats)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(2)]
    readings = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                return None
            readings.append(json.loads(out.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError):
        for proc in procs:
            proc.kill()
        return None
    finally:
        shutil.rmtree(sync_dir, ignore_errors=True)
    return {kind + SHARED: round(float(np.mean([r[kind] for r in readings])), 2) for kind in KINDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alone", action="store_true",
                        help="only the one-process probe (no side-by-side probe, no estimate of a "
                             "two-at-a-time run)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per kind of step")
    parser.add_argument("--sync-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    measured = probe(repeats=args.repeats, sync_dir=args.sync_dir)
    if not args.alone:
        measured.update(shared_probe(repeats=args.repeats) or {})
    print(describe(measured, jobs=1 if args.alone else 2), flush=True)
    print(json.dumps(measured))  # last line: what make reproduce records
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
