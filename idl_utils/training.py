"""The kit's one training loop: compile, fit with one progress bar, time the run, measure its
peak memory and hand back the history as JSON.

Every model family trains through :func:`fit_timed` -- the sequence models
(:func:`idl_utils.seq_models.train_seq_model`, which the image models use too), the judge,
the glyph CNN's pre-training and the generative models -- so what a training record holds
is the same everywhere::

    record = fit_timed(model, x, y, epochs=5, batch_size=128,
                       compile_args={"optimizer": keras.optimizers.Adam(1e-3),
                                     "loss": "sparse_categorical_crossentropy"})
    record["history"]["loss"]   # one float per epoch
    record["epochs_run"], record["seconds"], record["peak_memory_gib"]

What a training prints (:data:`PROGRESS_ENV`, ``IDL_PROGRESS``): ``bar`` (default) one progress
bar over the epochs, gone when training ends, then one summary line (epochs, best validation
score, seconds); ``summary`` only the summary line (what ``make test`` and ``make reproduce``
use, so the saved notebooks hold one line per training); ``keras`` Keras' own log, one line
per epoch. The full per-epoch history is in the returned record (and the model cache), not in
the notebook.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import keras

from .config import STEPS_PER_EXECUTION, progress_mode

#: ``verbose`` value of :func:`fit_timed` meaning "the kit's progress output" (see the module doc).
PROGRESS = "progress"
#: Validation scores a summary line reports as "best ... at epoch N" (higher is better), in order
#: of preference; other runs report their last epoch's losses.
SUMMARY_SCORES = {"val_exact": "validation exact match", "val_accuracy": "validation accuracy"}

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


def _format_metric(value: float, name: str = "") -> str:
    """A score in [0, 1] as a percentage; a loss (``name`` ends in ``loss``) or anything else
    as a plain number (a loss of 0.67 is not 67%)."""
    if name.endswith("loss") or not 0.0 <= value <= 1.0:
        return f"{value:.4g}"
    return f"{value:.2%}"


def training_summary(name: str, history: Mapping[str, Sequence[float]], *, epochs_run: int,
                     epochs: int, seconds: float) -> str:
    """One line about a finished training: epochs run (and whether it stopped early), the best
    validation score and its epoch (:data:`SUMMARY_SCORES`), else the last epoch's losses, and
    the wall time.

    >>> training_summary("course_lstm", {"loss": [0.9, 0.5], "val_exact": [0.41, 0.62]},
    ...                  epochs_run=2, epochs=2, seconds=12.3)
    'course_lstm: 2 epochs, 12 s; best validation exact match 62.00% at epoch 2'
    >>> training_summary("gan", {"g_loss": [0.9, 0.6692]}, epochs_run=2, epochs=2, seconds=3)
    'gan: 2 epochs, 3 s; last epoch g_loss 0.6692'
    """
    run = f"{epochs_run} epochs"
    if epochs_run < epochs:
        run = f"{epochs_run} of {epochs} epochs (stopped early)"
    text = f"{name}: {run}, {seconds:.0f} s"
    score = next((key for key in SUMMARY_SCORES if history.get(key)), None)
    if score is not None:
        values = [float(v) for v in history[score]]
        ties = [float(v) for v in history.get("val_per_char", [])]  # how the checkpoint breaks ties
        ties = ties if len(ties) == len(values) else [0.0] * len(values)
        best = max(range(len(values)), key=lambda i: (values[i], ties[i]))
        return text + f"; best {SUMMARY_SCORES[score]} {_format_metric(values[best])} at epoch {best + 1}"
    losses = [key for key in history if key.endswith("loss") and history[key]][:3]
    if losses:
        text += "; last epoch " + ", ".join(f"{k} {_format_metric(float(history[k][-1]), k)}" for k in losses)
    return text


class TrainingProgress(keras.callbacks.Callback):
    """The kit's training output: a progress bar over the epochs (``mode="bar"``, tqdm: a widget
    in Jupyter when ipywidgets is installed, text otherwise; it disappears when training ends)
    and one summary line at the end (:func:`training_summary`). ``mode="summary"`` prints only
    the line. The headline score of each epoch shows beside the bar."""

    def __init__(self, epochs: int, *, name: str | None = None, mode: str = "bar"):
        super().__init__()
        self.epochs, self.name, self.mode = epochs, name, mode
        self.bar, self.logs, self.epochs_run = None, {}, 0

    def on_train_begin(self, logs=None):
        self.start, self.logs, self.epochs_run = time.perf_counter(), {}, 0
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.epochs, unit="epoch", leave=False, file=sys.stdout,
                            desc=self.name or self.model.name, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_run = epoch + 1
        for key, value in (logs or {}).items():
            self.logs.setdefault(key, []).append(float(value))
        if self.bar is not None:
            shown = {k: _format_metric(v[-1], k) for k, v in self.logs.items()
                     if k in SUMMARY_SCORES or k == "loss"}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(training_summary(self.name or self.model.name, self.logs, epochs_run=self.epochs_run,
                               epochs=self.epochs, seconds=time.perf_counter() - self.start), flush=True)


def fit_timed(model: keras.Model, x: Any, y: Any = None, *, epochs: int,
              compile_args: Mapping[str, Any] | None = None,
              steps_per_execution: int | None = None,
              callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = PROGRESS,
              name: str | None = None, **fit_kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` on ``x`` (arrays, a ``tf.data.Dataset`` or a ``keras.utils.PyDataset``)
    and ``y`` for ``epochs``, timing the fit and sampling its peak memory. Other keyword
    arguments go to ``model.fit`` (``batch_size``, ``shuffle``, ``validation_data``, ...).

    ``verbose``: :data:`PROGRESS` (default) prints what ``$IDL_PROGRESS`` asks for (a progress
    bar and one summary line, naming the run ``name`` or the model's name; see the module doc);
    ``0`` prints nothing; ``1`` or ``2`` is Keras' own output.

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
    callbacks = list(callbacks)
    if verbose == PROGRESS:
        mode = progress_mode()
        if mode == "keras":
            verbose = 2
        else:
            # last, so it sees the logs the other callbacks added (val_exact)
            callbacks.append(TrainingProgress(epochs, name=name, mode=mode))
            verbose = 0
    with peak_memory() as mem:
        start = time.perf_counter()
        history = model.fit(x, y, epochs=epochs, callbacks=callbacks, verbose=verbose, **fit_kwargs)
        seconds = time.perf_counter() - start
    hist = history_to_json(history)
    return {"history": hist, "epochs_run": len(history.epoch), "seconds": seconds,
            "peak_memory_gib": mem["peak_gib"]}


def _all_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """``layer``'s layers, those of nested models and wrapped layers (``TimeDistributed``) too."""
    for inner in getattr(layer, "layers", None) or ([layer.layer] if hasattr(layer, "layer") else []):
        yield inner
        yield from _all_layers(inner)


def average_batch_norm(net: keras.Model, batches: Iterable[Any]) -> int:
    """Set every batch-normalisation layer of ``net`` to the plain average of its batch mean
    and variance over ``batches`` (each an input ``net`` accepts, run with ``training=True``),
    instead of the moving averages training left: those follow the weights with a lag (Keras'
    momentum 0.99 remembers about the last 100 steps), which matters when the weights kept
    moving until the end, or when training was short. Frozen layers are unfrozen for the
    passes; every setting is restored afterwards. Returns the number of layers set (0: none)."""
    norms = [layer for layer in _all_layers(net) if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    # a frozen batch norm ignores training=True
    saved = [(layer.momentum, layer.trainable) for layer in norms]
    try:
        for layer in norms:
            layer.trainable = True
        for i, batch in enumerate(batches):
            # momentum 1 - 1/(i+1): after k batches the moving statistics are their plain average
            for layer in norms:
                layer.momentum = i / (i + 1.0)
            net(batch, training=True)
    finally:
        for layer, (momentum, trainable) in zip(norms, saved, strict=True):
            layer.momentum, layer.trainable = momentum, trainable
    return len(norms)
