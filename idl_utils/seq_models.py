"""Encoder-decoder LSTMs for arithmetic queries: the course baseline and the kit's model.

Two ways to show a query to a network (a *representation*), each with an encoder for inputs
and targets and a decoder from predictions back to the canonical answer string, so both are
scored by the same exact-match metric on the same strings:

* :class:`CourseText` -- the course notebook's: the padded query ``'81+24'`` one-hot,
  character by character, left to right; the answer ``'105'`` likewise.
* :class:`AlignedReversed` -- the kit's: digits of both operands written under each other,
  least significant first (``81+24`` -> steps ``(1,4,+) (8,2,+) (0,0,+) (0,0,+)``), and the
  answer reversed too (``'5010 '``: digits of ``|105|`` from the ones up, then the sign).
  Each output digit then depends on the inputs at its own step plus a carry from the step
  before -- the way people add -- instead of on characters at far-apart positions.

Models: :func:`build_course_model` (LSTM -> RepeatVector -> LSTM -> softmax, the assignment's
baseline) and :func:`build_kit_model` (a bidirectional encoder read step-aligned by an LSTM
decoder). Both take ``encoder_layers`` for the depth study.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import keras
import numpy as np

from .queries import (
    VOCAB,
    QuerySet,
    decode_text,
    digits_to_text,
    encode_text,
    exact_match,
    per_char_accuracy,
    text_to_indices,
)
from .training import PROGRESS, fit_timed

_EYE = np.eye(len(VOCAB), dtype=np.float32)
_MINUS, _PAD = VOCAB.index("-"), VOCAB.index(" ")


class Representation(Protocol):
    """How queries become arrays and predictions become answer strings."""

    name: str

    def input_shape(self, digits: int) -> tuple[int, ...]: ...
    def output_shape(self, digits: int) -> tuple[int, ...]: ...
    def encode_inputs(self, qs: QuerySet) -> np.ndarray: ...
    def encode_targets(self, qs: QuerySet) -> np.ndarray: ...
    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray: ...


@dataclass(frozen=True)
class CourseText:
    """The course's representation: padded strings, one-hot per character.
    Inputs ``(n, 2d+1, 13)``, targets ``(n, d+1, 13)``."""

    name: str = "course_text"

    def input_shape(self, digits: int) -> tuple[int, int]:
        return (2 * digits + 1, len(VOCAB))

    def output_shape(self, digits: int) -> tuple[int, int]:
        return (digits + 1, len(VOCAB))

    def encode_inputs(self, qs: QuerySet) -> np.ndarray:
        return encode_text(qs.queries, qs.query_length)

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        return encode_text(qs.answers, qs.answer_length)

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        return decode_text(scores)


def _digits_lsb_first(values: np.ndarray, width: int) -> np.ndarray:
    """``(n,)`` non-negative ints -> ``(n, width)`` decimal digits, ones first."""
    powers = 10 ** np.arange(width, dtype=np.int64)
    return (np.asarray(values, dtype=np.int64)[:, None] // powers) % 10


@dataclass(frozen=True)
class AlignedReversed:
    """The kit's representation: operands aligned digit by digit, least significant first.

    Inputs ``(n, d+2, 41)``: at step ``i`` the one-hot of digit ``i`` of ``a``, digit ``i`` of
    ``b`` and the operator, then both digits' values scaled to [0, 1] (two extra zero steps give
    room for a carry and the sign).
    Targets ``(n, d+2, 13)``: digits of ``|a op b|`` from the ones up, then ``'-'`` or ``' '``.
    """

    name: str = "aligned_reversed"

    def input_shape(self, digits: int) -> tuple[int, int]:
        return (digits + 2, 3 * len(VOCAB) + 2)

    def output_shape(self, digits: int) -> tuple[int, int]:
        return (digits + 2, len(VOCAB))

    def encode_inputs(self, qs: QuerySet) -> np.ndarray:
        steps = qs.digits + 2
        a = _digits_lsb_first(qs.a, steps)
        b = _digits_lsb_first(qs.b, steps)
        op = np.repeat(text_to_indices(qs.op, 1), steps, axis=1)
        # the digits' values too: a carry is the threshold a_i + b_i + carry >= 10, a straight
        # line in values but a lookup table in one-hots
        values = np.stack([a, b], axis=-1).astype(np.float32) / 9.0
        return np.concatenate([_EYE[a], _EYE[b], _EYE[op], values], axis=-1)

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        result = qs.results.astype(np.int64)
        digits = _digits_lsb_first(np.abs(result), qs.digits + 1)
        sign = np.where(result < 0, _MINUS, _PAD)[:, None]
        return _EYE[np.concatenate([digits, sign], axis=1)]

    def describe(self, qs: QuerySet) -> list[str]:
        """Each query's input steps as text, ``'(1,4,+) (8,2,+) (0,0,+) (0,0,+)'`` for
        ``81+24``: digit ``i`` of ``a``, of ``b``, and the operator."""
        steps = qs.digits + 2
        a, b = _digits_lsb_first(qs.a, steps), _digits_lsb_first(qs.b, steps)
        return [" ".join(f"({x},{y},{op})" for x, y in zip(da, db, strict=True))
                for da, db, op in zip(a, b, qs.op, strict=True)]

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        """``(n, d+2, 13)`` scores -> answer strings padded to ``d+1`` characters (``'-48'``,
        ``'105'``). Never cut: a wrong answer with a digit in the top column and a minus
        (``'-105'`` for 2-digit operands) keeps all ``d+2`` characters, and every digit of a
        long answer is kept (the digits are never turned into a fixed-size integer)."""
        magnitude, negative, valid = self.decode_digits(scores)
        # A malformed answer is a real mistake: keep it visible ('?'-free) by writing a
        # character that can never match the true answer.
        text = np.where(valid, digits_to_text(magnitude, negative), "+")
        width = max(digits + 1, int(np.strings.str_len(text).max(initial=0)))
        return np.strings.ljust(text, digits + 1).astype(f"<U{width}")

    @staticmethod
    def decode_digits(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, L+1, 13)`` scores -> the answers' digits ``(n, L)`` ones first (a non-digit
        read as 9), ``negative`` ``(n,)`` and ``valid`` ``(n,)``: false where a digit step
        holds a non-digit or the sign step is neither ``'-'`` nor blank."""
        idx = np.asarray(scores).argmax(axis=-1)
        mag_idx, sign_idx = idx[:, :-1], idx[:, -1]
        valid = (mag_idx <= 9).all(axis=1) & ((sign_idx == _MINUS) | (sign_idx == _PAD))
        return np.minimum(mag_idx, 9).astype(np.uint8), sign_idx == _MINUS, valid


REPRESENTATIONS: dict[str, Representation] = {
    "course_text": CourseText(),
    "aligned_reversed": AlignedReversed(),
}


def get_representation(name: str) -> Representation:
    if name not in REPRESENTATIONS:
        raise ValueError(f"Unknown representation {name!r}. Accepted: {', '.join(REPRESENTATIONS)}")
    return REPRESENTATIONS[name]


# --------------------------------------------------------------------------- models
def lstm_layer(units: int, *, return_sequences: bool, name: str, unroll: bool = True) -> keras.layers.LSTM:
    """The LSTM every sequence model of the kit is built from. ``unroll=True`` (default):
    the kit's sequences are 3-9 steps long, and unrolled LSTMs run about 1.35x faster on CPU."""
    return keras.layers.LSTM(units, return_sequences=return_sequences, unroll=unroll, name=name)


def build_course_model(
    digits: int = 2, *, units: int = 256, encoder_layers: int = 1, unroll: bool = True,
    name: str = "course_lstm",
):
    """The assignment's baseline: ``LSTM(units)`` encoder (``encoder_layers`` deep) ->
    ``RepeatVector`` -> ``LSTM(units)`` decoder -> time-distributed softmax over 13 chars.
    Input ``(n, 2d+1, 13)``, output ``(n, d+1, 13)`` probabilities."""
    if encoder_layers < 1:
        raise ValueError(f"encoder_layers must be >= 1, got {encoder_layers}")
    rep = CourseText()
    inputs = keras.Input(rep.input_shape(digits), name="query")
    x = inputs
    for i in range(encoder_layers):
        last = i == encoder_layers - 1
        x = lstm_layer(units, return_sequences=not last, unroll=unroll, name=f"encoder_{i + 1}")(x)
    x = keras.layers.RepeatVector(rep.output_shape(digits)[0], name="repeat")(x)
    x = lstm_layer(units, return_sequences=True, unroll=unroll, name="decoder")(x)
    outputs = keras.layers.TimeDistributed(
        keras.layers.Dense(len(VOCAB), activation="softmax"), name="char_softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def build_kit_model(
    digits: int = 2, *, units: int = 128, encoder_layers: int = 1, dropout: float = 0.0,
    context: str = "per_step", unroll: bool = True, name: str = "kit_lstm",
):
    """The kit's encoder-decoder for :class:`AlignedReversed` inputs.

    Encoder: ``encoder_layers`` bidirectional LSTMs over the aligned digit steps. Its backward
    direction reads from the most significant digit, which is what decides the sign of a
    difference and whether to compute ``a-b`` or ``b-a``.

    Decoder: an LSTM that at step ``i`` sees the digits of column ``i`` (a skip connection
    around the encoder) plus the encoder's context, and writes digit ``i`` of the answer; its
    own recurrence can carry the carry. ``context="per_step"`` (default) hands step ``i`` the
    encoder's output at step ``i``; ``context="global"`` hands every step the same summary
    (the encoder's final states, repeated as the course's ``RepeatVector`` does). In tuning
    on the 10/90 split the global summary removed every sign error but learned carries far
    worse (about 91% against 97% exact match), so per-step context is the default.
    Input ``(n, d+2, 41)``, output ``(n, d+2, 13)``.
    """
    if encoder_layers < 1:
        raise ValueError(f"encoder_layers must be >= 1, got {encoder_layers}")
    if context not in ("global", "per_step"):
        raise ValueError(f"context must be 'global' or 'per_step', got {context!r}")
    rep = AlignedReversed()
    steps = rep.input_shape(digits)[0]
    inputs = keras.Input(rep.input_shape(digits), name="aligned_digits")
    x = inputs
    for i in range(encoder_layers):
        last = i == encoder_layers - 1
        x = keras.layers.Bidirectional(
            lstm_layer(units, return_sequences=not (last and context == "global"), unroll=unroll,
                  name=f"lstm_{i + 1}"),
            name=f"encoder_{i + 1}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    if context == "global":
        x = keras.layers.RepeatVector(steps, name="repeat_context")(x)
    x = keras.layers.Concatenate(name="column_digits_and_context")([inputs, x])
    x = lstm_layer(units, return_sequences=True, unroll=unroll, name="decoder")(x)
    outputs = keras.layers.Dense(len(VOCAB), activation="softmax", name="char_softmax")(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- data
class QueryBatches(keras.utils.PyDataset):
    """Batches ``(x, y)`` of queries encoded on the fly, so 2,000,000 three-digit queries
    never sit in memory as one-hot arrays (728 MB for the course representation). The order is
    reshuffled every epoch from ``seed``, so training stays reproducible."""

    def __init__(self, qs: QuerySet, rep: Representation, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0):
        super().__init__()
        if len(qs) == 0:
            raise ValueError("cannot make batches from an empty query set")
        self.qs, self.rep, self.batch_size = qs, rep, int(batch_size)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.qs))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.qs))

    def __len__(self) -> int:
        return math.ceil(len(self.qs) / self.batch_size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        part = self.qs.subset(idx)
        # representations that vary with the epoch (redrawn glyph images) say so by for_epoch
        rep = self.rep.for_epoch(self.epoch) if hasattr(self.rep, "for_epoch") else self.rep
        return rep.encode_inputs(part), rep.encode_targets(part)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()


# --------------------------------------------------------------------------- training
@dataclass
class TrainConfig:
    """Hyper-parameters for :func:`train_seq_model` (all recorded with the results)."""

    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0  # > 0 uses AdamW (decoupled weight decay)
    patience: int | None = None  # early stopping on validation exact match; None = off
    lr_schedule: str = "constant"  # "cosine" (decays over the epochs) or "plateau" (halves when
    # validation exact match stalls for plateau_patience epochs)
    plateau_patience: int = 4
    max_seconds: float | None = None  # stop after the epoch in which this budget runs out
    streaming: bool = False  # encode batches on the fly (3-digit) instead of arrays up front
    keep: str = "best"  # weights to keep: the "best" validation epoch, or the "last" one
    # restarts > 1: train that many candidates from different initial weights for a
    # restart_fraction of the epochs each, keep the one best on the validation queries and
    # train it on for the rest of the epochs (see train_seq_model)
    restarts: int = 1
    restart_fraction: float = 0.2
    verbose: int | str = PROGRESS  # what training prints (idl_utils.training); not part of the config

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        del out["verbose"]  # output only: the same weights either way, so not in the cache key
        if self.restarts == 1:  # a single start: recorded (and cache-keyed) as before restarts existed
            del out["restarts"], out["restart_fraction"]
        if self.lr_schedule != "plateau":
            del out["plateau_patience"]
        return out


LR_SCHEDULES = ("constant", "cosine", "plateau")


class ExactMatchCheckpoint(keras.callbacks.Callback):
    """After every epoch: exact-match and per-character accuracy on the validation queries
    (logged as ``val_exact`` and ``val_per_char``); keeps the weights of the best epoch (the
    higher exact match; per character breaks ties, which matters where a few dozen
    validation queries are nearly all wrong), stops early after ``patience`` epochs without
    improvement or once ``max_seconds`` of training are spent. Model selection therefore never
    looks at the test set."""

    def __init__(self, rep: Representation, val: QuerySet, *, patience: int | None = None,
                 max_seconds: float | None = None, batch_size: int = 2048):
        super().__init__()
        self.rep, self.val, self.x_val = rep, val, rep.encode_inputs(val)
        self.patience, self.max_seconds, self.batch_size = patience, max_seconds, batch_size
        self.best, self.best_chars, self.best_epoch, self.best_weights, self.wait = -1.0, -1.0, 0, None, 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        scores = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        answers = self.rep.decode(scores, self.val.digits)
        score = exact_match(answers, self.val.answers)
        chars = per_char_accuracy(answers, self.val.answers)
        if logs is not None:
            logs["val_exact"], logs["val_per_char"] = score, chars
        if (score, chars) > (self.best, self.best_chars):
            self.best, self.best_chars, self.best_epoch, self.wait = score, chars, epoch + 1, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
        out_of_patience = self.patience is not None and self.wait >= self.patience
        out_of_time = (self.max_seconds is not None
                       and time.perf_counter() - self.start > self.max_seconds)
        if out_of_patience or out_of_time:
            self.model.stop_training = True

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


@dataclass(frozen=True)
class Recipe:
    """A model and how to train it: ``build()`` makes the model, ``train`` configures fitting."""

    name: str
    representation: Representation
    model_kwargs: dict[str, Any]
    train: TrainConfig
    digits: int
    builder: Any = None  # a model builder ``f(digits, **model_kwargs)``; None: course or kit

    def build(self):
        builder = self.builder or (build_course_model if self.name == "course" else build_kit_model)
        return builder(self.digits, **self.model_kwargs)

    def with_train(self, **changes: Any) -> Recipe:
        """The same recipe with some training settings changed, e.g. ``epochs=2``; ``None``
        values are ignored, so ``recipe.with_train(epochs=P.choose(smoke=2, ..., full=None))``
        keeps the recipe's own schedule outside the smoke profile."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))

    def config(self) -> dict[str, Any]:
        """Everything that determines the trained weights (the cache key, with data/seed)."""
        return {"model": self.name, "digits": self.digits, "representation": self.representation.name,
                **self.model_kwargs, **self.train.as_dict()}


#: How the kit trains the course's baseline to convergence (see :func:`course_recipe`).
COURSE_BATCH = 64
COURSE_LEARNING_RATE = 3e-3
#: Early stopping waits this many updates (at least ``COURSE_MIN_PATIENCE`` epochs) for the
#: validation exact match to improve: patience in epochs would be 10x shorter in updates at
#: 5/95 than at 50/50, too short for a model that needs thousands of updates to take off.
COURSE_PATIENCE_UPDATES = 2000
COURSE_MIN_PATIENCE = 10
#: The epoch cap, in updates: far beyond where any split's validation curve stops improving.
COURSE_MAX_UPDATES = 60_000


def course_recipe(digits: int = 2, n_train: int = 9_000, *, converge: bool = True,
                  epochs: int | None = None, units: int = 256, encoder_layers: int = 1,
                  max_seconds: float | None = None) -> Recipe:
    """The assignment's baseline, ``LSTM(units)`` encoder-decoder with Adam.

    ``converge=True`` (default): trained as a careful student would, to convergence on the
    validation queries -- batches of :data:`COURSE_BATCH`, the learning rate halved whenever
    validation exact match stalls for a third of the patience (``lr_schedule="plateau"``),
    early stopping after
    :data:`COURSE_PATIENCE_UPDATES` updates without improvement, the best epoch's weights
    restored, and an epoch cap of :data:`COURSE_MAX_UPDATES` updates (``epochs`` replaces it).
    ``converge=False``: the course notebook's own schedule, batches of 128 for a fixed
    ``epochs`` (default 50), whether or not validation still improves (named
    ``"course_as_given"``). 3-digit data is encoded on the fly."""
    model = {"units": units, "encoder_layers": encoder_layers}
    if not converge:
        return Recipe("course_as_given", CourseText(), model,
                      TrainConfig(epochs=epochs or 50, batch_size=128, learning_rate=1e-3,
                                  max_seconds=max_seconds, streaming=digits == 3), digits,
                      builder=build_course_model)
    steps = max(1, math.ceil(n_train / COURSE_BATCH))
    patience = max(COURSE_MIN_PATIENCE, math.ceil(COURSE_PATIENCE_UPDATES / steps))
    return Recipe("course", CourseText(), model,
                  TrainConfig(epochs=epochs or math.ceil(COURSE_MAX_UPDATES / steps),
                              batch_size=COURSE_BATCH, learning_rate=COURSE_LEARNING_RATE,
                              lr_schedule="plateau", plateau_patience=max(3, patience // 3),
                              patience=patience, max_seconds=max_seconds,
                              streaming=digits == 3), digits)


def kit_recipe(digits: int = 2, n_train: int = 10_000, *, encoder_layers: int = 1,
               epochs: int | None = None, max_seconds: float | None = None) -> Recipe:
    """The kit's model and training recipe: aligned-reversed inputs, a bidirectional encoder
    whose per-step context joins the raw column digits at the decoder, dropout 0.3, Adam with
    a cosine-decayed learning rate, small batches for small data, and the *final* weights
    kept (a cosine schedule ends converged; the best-validation epoch on a few hundred
    validation queries is mostly noise: 98.1% against 97.6% test exact match at 10/90).
    Epochs scale inversely with the training set (about 5,700 updates for every 2-digit
    split), so each run stays short."""
    if epochs is None:
        epochs = int(min(150, max(10, 100 * 1800 / max(n_train, 1))))
    batch = 32 if n_train <= 20_000 else 256
    return Recipe(
        "kit", AlignedReversed(),
        {"units": 128, "dropout": 0.3, "context": "per_step", "encoder_layers": encoder_layers},
        TrainConfig(epochs=epochs, batch_size=batch, learning_rate=3e-3, lr_schedule="cosine",
                    max_seconds=max_seconds, streaming=digits == 3, keep="last"),
        digits,
    )


def _validation_score(record: dict[str, Any]) -> tuple[float, float]:
    """How a restart candidate is ranked: its last epoch's validation exact match, then (for
    ties, common on a few dozen validation queries) the lower validation loss."""
    history = record["history"]
    return history["val_exact"][-1], -history.get("val_loss", [0.0])[-1]


def pick_best_start(model, fit_candidate: Any, restarts: int) -> list[dict[str, Any]]:
    """Train ``restarts`` candidates with ``fit_candidate(candidate) -> training record`` --
    ``model`` as it is, then copies of it with fresh initial weights
    (``keras.models.clone_model`` draws them from the seeded random generator) -- and load
    the weights of the one with the best last-epoch validation exact match (ties: the lower
    validation loss) into ``model``. Returns one record per candidate: ``candidate``,
    ``val_exact``, ``val_loss``, ``epochs_run``, ``seconds``, ``peak_memory_gib``, ``picked``."""
    records, best, best_weights = [], None, None
    for i in range(restarts):
        candidate = model if i == 0 else keras.models.clone_model(model)
        record = fit_candidate(candidate)
        score = _validation_score(record)
        records.append({"candidate": i, "val_exact": score[0], "val_loss": -score[1],
                        "epochs_run": record["epochs_run"], "seconds": record["seconds"],
                        "peak_memory_gib": record.get("peak_memory_gib"), "picked": False})
        if best is None or score > best[1]:
            best, best_weights = (i, score), candidate.get_weights()
    model.set_weights(best_weights)
    records[best[0]]["picked"] = True
    return records


def train_seq_model(model, rep: Representation, train: QuerySet, val: QuerySet,
                    cfg: TrainConfig, *, seed: int = 0,
                    loss: str | Sequence[str] = "categorical_crossentropy",
                    loss_weights: Sequence[float] | None = None,
                    metrics: Sequence[str] = ("accuracy",), validation_loss: bool = True,
                    predict_batch_size: int = 2048,
                    steps_per_execution: int | None = None, name: str | None = None) -> dict[str, Any]:
    """Compile and fit ``model`` on ``train`` with the kit's loop (:func:`idl_utils.training.fit_timed`),
    selecting weights by validation exact match: after every epoch ``rep.decode`` turns the
    model's predictions for ``val`` into answer strings (logged as ``val_exact``), and
    ``cfg.keep="best"`` restores the best epoch's weights at the end.

    ``loss``, ``loss_weights`` and ``metrics`` go to ``compile`` (a list of losses for a model
    with several outputs); ``validation_loss=False`` skips Keras' validation losses (only
    ``val_exact`` is logged), for targets that are costly to encode; ``predict_batch_size`` is
    the batch of the validation predictions. ``steps_per_execution`` changes speed only.
``name`` labels the run's progress output (default: the model's name).

    ``cfg.restarts > 1`` first trains that many candidates -- ``model`` and copies of it
    with fresh initial weights -- for ``round(cfg.restart_fraction * cfg.epochs)`` epochs
    (at least 1) each at the constant learning rate, keeps the one with the best validation
    exact match (ties: the lower validation loss; the test queries are never looked at) and
    trains it on for the remaining epochs: a cheap guard against an unlucky start
    (:func:`pick_best_start`). ``max_seconds`` bounds all of it (a candidate stops once the
    budget is spent, the final run gets what is left); ``patience`` applies to the final run.

    Returns a JSON-able dict: ``history`` (of the final run), ``epochs_run`` (the kept
    model's, restart epochs included), ``best_epoch``, ``best_val_exact``, ``n_val`` (the
    validation queries it was measured on), ``seconds`` (all
    candidates included), ``peak_memory_gib``, the training settings ``train`` and, with
    restarts, ``restarts``: one record per candidate (see :func:`pick_best_start`)."""
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"empty split: {len(train)} training and {len(val)} validation queries")
    if cfg.keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {cfg.keep!r}")
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {cfg.lr_schedule!r}")
    restart_epochs = max(1, round(cfg.restart_fraction * cfg.epochs))
    if cfg.restarts < 1 or (cfg.restarts > 1 and not restart_epochs < cfg.epochs):
        raise ValueError(f"restarts={cfg.restarts} with restart_fraction={cfg.restart_fraction} "
                         f"of {cfg.epochs} epochs: use restarts >= 1 and, with restarts > 1, at "
                         f"least 2 epochs and a restart_fraction below 1")
    fit_args = {"seed": seed, "loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                "validation_loss": validation_loss, "predict_batch_size": predict_batch_size,
                "steps_per_execution": steps_per_execution}
    if cfg.restarts > 1:
        # the candidates train quietly: one progress bar and summary, for the run that is kept
        trial = dataclasses.replace(cfg, epochs=restart_epochs, lr_schedule="constant",
                                    keep="last", patience=None, restarts=1, verbose=0)
        candidates = pick_best_start(
            model, lambda m: train_seq_model(m, rep, train, val, trial, **fit_args), cfg.restarts)
        spent = sum(c["seconds"] for c in candidates)
        rest = dataclasses.replace(
            cfg, epochs=cfg.epochs - restart_epochs, restarts=1,
            max_seconds=None if cfg.max_seconds is None else max(0.0, cfg.max_seconds - spent))
        label = f"{name or model.name} (best of {cfg.restarts} starts)"
        record = train_seq_model(model, rep, train, val, rest, **fit_args, name=label)
        kept = next(c for c in candidates if c["picked"])
        return {**record, "epochs_run": record["epochs_run"] + kept["epochs_run"],
                "seconds": record["seconds"] + spent,
                "peak_memory_gib": max([record.get("peak_memory_gib") or 0.0]
                                       + [c["peak_memory_gib"] or 0.0 for c in candidates]),
                "restarts": candidates, "train": cfg.as_dict()}
    steps = math.ceil(len(train) / cfg.batch_size) * cfg.epochs
    lr: Any = cfg.learning_rate
    if cfg.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps, alpha=0.02)
    optimizer = (keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay) if cfg.weight_decay
                 else keras.optimizers.Adam(lr))
    compile_args: dict[str, Any] = {"optimizer": optimizer, "loss": loss}
    if loss_weights is not None:
        compile_args["loss_weights"] = list(loss_weights)
    if metrics:
        compile_args["metrics"] = list(metrics)
    checkpoint = ExactMatchCheckpoint(rep, val, patience=cfg.patience, max_seconds=cfg.max_seconds,
                                      batch_size=predict_batch_size)
    callbacks: list[keras.callbacks.Callback] = [checkpoint]
    if cfg.lr_schedule == "plateau":  # after the checkpoint, which logs val_exact
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_exact", mode="max", factor=0.5, patience=cfg.plateau_patience,
            min_delta=1e-4, min_lr=cfg.learning_rate / 64))
    if cfg.streaming:
        data: Any = QueryBatches(train, rep, cfg.batch_size, seed=seed)
        fit_kwargs: dict[str, Any] = {}
    else:
        data = rep.encode_inputs(train)
        fit_kwargs = {"y": rep.encode_targets(train), "batch_size": cfg.batch_size,
                      "shuffle": True}
    if validation_loss:
        fit_kwargs["validation_data"] = (checkpoint.x_val, rep.encode_targets(val))
    record = fit_timed(model, data, epochs=cfg.epochs, compile_args=compile_args,
                       steps_per_execution=steps_per_execution, callbacks=callbacks,
                       verbose=cfg.verbose, name=name, **fit_kwargs)
    if cfg.keep == "best":
        checkpoint.restore_best()
    return {**record, "best_epoch": checkpoint.best_epoch, "best_val_exact": checkpoint.best,
            "n_val": len(val), "train": cfg.as_dict()}


#: two-sided noise band of a validation exact match, in binomial standard deviations
NOISE_BAND_SD = 2.0


def validation_noise(p: float, n_val: int) -> float:
    """:data:`NOISE_BAND_SD` binomial standard deviations of an exact match ``p`` measured on
    ``n_val`` validation queries, at least one query's worth (``1 / n_val``)."""
    if n_val < 1:
        raise ValueError(f"n_val must be >= 1, got {n_val}")
    return max(NOISE_BAND_SD * math.sqrt(max(p * (1 - p), 0.0) / n_val), 1.0 / n_val)


def how_training_ended(record: dict[str, Any]) -> str:
    """How a training record (of :func:`train_seq_model`) ended, in words, so a table row says
    whether its model converged: early stopping (converged on validation), the epoch cap
    reached with the best epoch last (still improving: not converged), or a fixed schedule
    whose validation exact match still rose by more than its noise over the last tenth of the
    epochs (not converged) or did not (flat at the end)."""
    curve = [float(v) for v in record["history"].get("val_exact", [])]
    train = record.get("train") or {}
    epochs, ran, best = train.get("epochs"), record["epochs_run"], record.get("best_epoch")
    if train.get("patience") is not None:
        if ran < (epochs or ran + 1):
            return f"early stopping at epoch {ran} (best {best})"
        if best == ran:
            return f"epoch cap {ran} reached, still improving (not converged)"
        return f"epoch cap {ran} reached (best {best})"
    if len(curve) < 2 or not record.get("n_val"):
        return f"fixed {ran} epochs"
    window = max(1, len(curve) // 10)
    rise = curve[-1] - curve[-1 - window]
    if rise > validation_noise(curve[-1], record["n_val"]):
        return f"fixed {ran} epochs, still improving (not converged)"
    return f"fixed {ran} epochs, flat at the end"


def predict_answers(model, rep: Representation, qs: QuerySet, *, batch_size: int = 2048) -> np.ndarray:
    """Padded answer strings predicted for every query in ``qs`` (encoded in batches)."""
    if len(qs) == 0:
        raise ValueError("no queries to predict")
    expected = (None, *rep.input_shape(qs.digits))
    got = tuple(model.input_shape)
    if got != expected:
        raise ValueError(f"model expects inputs {got} but {rep.name} queries with "
                         f"digits={qs.digits} are {expected}: wrong model or representation")
    out = []
    for start in range(0, len(qs), 50_000):
        part = qs.subset(np.arange(start, min(start + 50_000, len(qs))))
        scores = model.predict(rep.encode_inputs(part), batch_size=batch_size, verbose=0)
        out.append(rep.decode(scores, qs.digits))
    return np.concatenate(out)
