"""The kit's one training loop: compile, fit with the Keras progress bar, time the run,
measure its peak memory and hand back the history as JSON.

Every model family trains through :func:`fit_timed` -- the sequence models
(:func:`idl_utils.seq_models.train_seq_model`, which the image models use too), the judge,
the glyph CNN's pre-training and the generative models -- so what a training record holds
is the same everywhere::

    record = fit_timed(model, x, y, epochs=5, batch_size=128,
                       compile_args={"optimizer": keras.optimizers.Adam(1e-3),
                                     "loss": "sparse_categorical_crossentropy"})
    record["history"]["loss"]   # one float per epoch
    record["epochs_run"], record["seconds"], record["peak_memory_gib"]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import keras

from .config import STEPS_PER_EXECUTION

#: How often :func:`peak_memory` samples the resident memory (seconds).
MEMORY_SAMPLE_SECONDS = 0.05
_largest_sample_gib = 0.0  # over every peak_memory() block of this process so far


def _rss_gib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


@contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Sample this process's resident memory every 50 ms while the block runs; afterwards
    ``out["peak_gib"]`` holds the largest sample in GiB, rounded to 0.01 (TensorFlow, data
    and everything else the process holds included). This is the kit's one way of measuring
    memory: every training record's ``peak_memory_gib`` comes from it::

        with peak_memory() as mem:
            model.fit(...)
        mem["peak_gib"]
    """
    global _largest_sample_gib
    out, stop = {"peak_gib": 0.0}, threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out["peak_gib"] = max(out["peak_gib"], _rss_gib())
            stop.wait(MEMORY_SAMPLE_SECONDS)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        peak = max(out["peak_gib"], _rss_gib())
        _largest_sample_gib = max(_largest_sample_gib, peak)
        out["peak_gib"] = round(peak, 2)


def peak_memory_gib() -> float:
    """The largest resident memory of this process seen so far, in GiB: the peak of every
    training run measured by :func:`peak_memory` in this process, or the memory it holds now
    if that is more. (After training from the model cache only the latter is left; the
    training record's ``peak_memory_gib`` keeps the training run's own peak.)"""
    return max(_largest_sample_gib, _rss_gib())


def history_to_json(history: keras.callbacks.History | Mapping[str, Sequence[Any]]) -> dict[str, list[float]]:
    """Per-epoch metrics of a Keras ``History`` (or its ``.history`` dict) as plain floats,
    ready for ``json.dump``: ``{"loss": [0.52, 0.31, ...], ...}``."""
    logs = history.history if isinstance(history, keras.callbacks.History) else history
    return {name: [float(v) for v in values] for name, values in logs.items()}


def fit_timed(model: keras.Model, x: Any, y: Any = None, *, epochs: int,
              compile_args: Mapping[str, Any] | None = None,
              steps_per_execution: int | None = None,
              callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = "auto",
              **fit_kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` on ``x`` (arrays, a ``tf.data.Dataset`` or a ``keras.utils.PyDataset``)
    and ``y`` for ``epochs`` with the Keras progress output (``verbose``), timing the fit and
    sampling its peak memory. Other keyword arguments go to ``model.fit`` (``batch_size``,
    ``shuffle``, ``validation_data``, ...).

    ``compile_args`` (e.g. ``{"optimizer": ..., "loss": ...}``) compiles the model first, with
    ``steps_per_execution`` batches per compiled call (``None``: the kit's
    :data:`idl_utils.config.STEPS_PER_EXECUTION`, set here for every model family; it saves
    Python overhead per step and gives the same numbers); ``compile_args=None`` fits a model
    compiled already.

    Returns a JSON-able record: ``history`` (metric -> one float per epoch), ``epochs_run``
    (fewer than ``epochs`` when a callback stopped early), ``seconds`` (wall time of the fit)
    and ``peak_memory_gib`` (the process's resident memory at its peak during the fit).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if steps_per_execution is None:
        steps_per_execution = STEPS_PER_EXECUTION
    if steps_per_execution < 1:
        raise ValueError(f"steps_per_execution must be >= 1, got {steps_per_execution}")
    if compile_args is not None:
        model.compile(**compile_args, steps_per_execution=steps_per_execution)
    elif not model.compiled:
        raise ValueError(f"{model.name} is not compiled: pass compile_args "
                         "(e.g. {'optimizer': 'adam', 'loss': 'mse'}) or compile it first")
    with peak_memory() as mem:
        start = time.perf_counter()
        history = model.fit(x, y, epochs=epochs, callbacks=list(callbacks), verbose=verbose, **fit_kwargs)
        seconds = time.perf_counter() - start
    hist = history_to_json(history)
    return {"history": hist, "epochs_run": len(history.epoch), "seconds": seconds,
            "peak_memory_gib": mem["peak_gib"]}
