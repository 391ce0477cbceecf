"""How fast is this machine at the kit's work, and how long will ``make reproduce`` take here?

Machines sold as "2 CPU cores" differ a lot. Of two 2-core machines that both report "AMD
EPYC", one trained the kit's LSTMs 2.6x and its GAN 5x slower than the other: a full first
run took about 50 minutes on the faster one, and would take about two hours on the slower.
A short probe (under a minute, most of it starting TensorFlow and building two models) times
the two kinds of training step the notebooks spend their time in:

* ``gan_step_ms``: one training step of notebook 01's GAN (32x32 images, width 48, batch 32;
  convolutions);
* ``lstm_step_ms``: one training step of notebook 02's kit LSTM (batch 64; small matrix
  products and Python overhead, like every sequence model of notebooks 02-04).

:func:`estimate_minutes` scales each notebook's measured first-run time (empty model cache,
:data:`CALIBRATION`) by the ratio of this machine's probe to the calibration machine's. It is
a rough guide: each notebook is treated as all-GAN or all-LSTM, and a machine shared with
others drifts (one here probed 301 ms and, half an hour later, 511 ms per GAN step). It is
good enough to tell "about an hour" from "about three". ``make reproduce`` prints the
estimate before it starts and records the probe beside each notebook's wall time, so every
published time says how fast its machine was.

Usage: ``python -m idl_utils.speed`` (``make speed``); its last line is the probe as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from .config import STEPS_PER_EXECUTION, set_seed

# First-run minutes of each notebook (full profile, empty model cache) on the slower kind of
# 2-core "AMD EPYC" machine, measured there in November 2026, and the probe of that kind
# (median of three probes, 2026-11-23: GAN 301-341 ms, LSTM 17.0 ms). 04: 15.6 min, measured
# the same day as the probe; 02: 30.8 min and 03: 37.9 min, measured in earlier sessions on
# machines of the same kind; 01: about 49 min, its GANs and scoring in one run (39.5 min) plus
# its autoencoders (9.3 min) from an earlier one.
CALIBRATION: dict[str, Any] = {
    "probe": {"gan_step_ms": 320.0, "lstm_step_ms": 17.0},
    "minutes": {
        "01_generative_models": (49.0, "gan_step_ms"),
        "02_text_to_text": (30.8, "lstm_step_ms"),
        "03_image_to_text": (37.9, "lstm_step_ms"),
        "04_text_to_image": (15.6, "lstm_step_ms"),
    },
}

# How much longer a notebook takes when ``make reproduce`` runs another one beside it on two
# cores (placeholder until measured).
PARALLEL_SLOWDOWN = 1.4


def _time_fit(model, data, steps: int, repeats: int) -> float:
    """Seconds per step of ``model.fit`` over ``steps`` batches: the median of ``repeats``
    timed calls (a shared machine has hiccups), after one untimed call that traces and
    compiles the step function."""
    model.fit(data, epochs=1, steps_per_epoch=min(steps, STEPS_PER_EXECUTION), verbose=0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        times.append((time.perf_counter() - start) / steps)
    return float(np.median(times))


def probe(*, gan_steps: int = 10, lstm_steps: int = 100, repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Time training steps of notebook 01's GAN (``gan_steps`` per timed call) and of notebook
    02's kit LSTM (``lstm_steps``), on data of the right shapes; ``repeats`` timed calls each.
    Returns the median milliseconds per step: ``{"gan_step_ms": ..., "lstm_step_ms": ...}``.
    Steps are rounded up to whole multiples of :data:`~idl_utils.config.STEPS_PER_EXECUTION`,
    as the notebooks run them."""
    import keras
    import tensorflow as tf

    from .generative import GAN
    from .queries import make_queries
    from .seq_models import AlignedReversed, build_kit_model

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
    gan_seconds = _time_fit(gan, gan_data, whole(gan_steps), repeats)

    rep = AlignedReversed()
    queries = make_queries(2).subset(np.arange(64 * 8))
    x, y = rep.encode_inputs(queries), rep.encode_targets(queries)
    lstm = build_kit_model(2, units=128)
    lstm.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                 steps_per_execution=STEPS_PER_EXECUTION)
    lstm_data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(64, drop_remainder=True)
    lstm_seconds = _time_fit(lstm, lstm_data, whole(lstm_steps), repeats)
    return {"gan_step_ms": round(gan_seconds * 1000, 1), "lstm_step_ms": round(lstm_seconds * 1000, 2)}


def estimate_minutes(measured: dict[str, float],
                     calibration: dict[str, Any] | None = None) -> dict[str, float]:
    """First-run minutes of each notebook on a machine whose probe gave ``measured``:
    the calibration machine's minutes times ``measured[kind] / calibration[kind]``."""
    calibration = calibration or CALIBRATION
    missing = {kind for _, kind in calibration["minutes"].values()} - set(measured)
    if missing:
        raise ValueError(f"probe result lacks {sorted(missing)}; run idl_utils.speed.probe()")
    return {name: round(minutes * measured[kind] / calibration["probe"][kind], 1)
            for name, (minutes, kind) in calibration["minutes"].items()}


def parallel_minutes(minutes: dict[str, float], jobs: int,
                     slowdown: float = PARALLEL_SLOWDOWN) -> float:
    """Elapsed minutes when the notebooks (in this order, taking ``minutes`` each when alone)
    run ``jobs`` at a time, each started as soon as a slot frees: a notebook that shares the
    machine takes ``slowdown`` times longer. Never more than running them one by one."""
    if jobs <= 1 or len(minutes) <= 1:
        return sum(minutes.values())
    free_at = [0.0] * jobs
    for length in minutes.values():
        slot = free_at.index(min(free_at))
        free_at[slot] += length * slowdown
    return min(max(free_at), sum(minutes.values()))


def describe(measured: dict[str, float], notebooks: list[str] | None = None,
             jobs: int = 1) -> str:
    """A few lines for a person: the probe, the estimated first run per notebook and, with
    ``jobs`` > 1, the whole run's elapsed time when that many notebooks run at once."""
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
                         f"{parallel_minutes(estimate, jobs):6.0f} min")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    measured = probe()
    print(describe(measured), flush=True)
    print(json.dumps(measured))  # last line: what make reproduce records
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
