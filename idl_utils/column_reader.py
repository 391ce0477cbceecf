"""The column reader: notebook 02's column model reading handwritten queries.

Notebook 03's course reader turns glyph features into an answer with a generic LSTM
encoder-decoder; the column reader keeps the structure of written arithmetic instead:

1. **a glyph classifier** (the reader's glyph CNN, :func:`~idl_utils.image_seq_models.build_glyph_encoder`,
   with a softmax over the 13 glyph classes on top) reads every image of the query:
   ``(n, 2d+1, 28, 28)`` -> ``(n, 2d+1, 13)`` symbol probabilities;
2. :class:`GlyphColumns` (no weights) parses those probabilities into the column model's
   inputs, ``(n, d+1, 23)`` in the layout of :func:`~idl_utils.column_model.column_features`:
   a query is written left-aligned (``'5+37 '``), so which image holds the ones digit of
   ``b`` depends on how long the operands are. Every layout (``a`` of 1..d digits, the
   operator, ``b`` of 1..d digits, blanks) gets a probability from the glyph probabilities
   (digit, operator or blank at each position), and each column's digit is the
   layout-weighted digit distribution at the position that layout puts it: its expected
   value (``/ 9``) and its soft one-hot; the operator's sign is ``p('+') - p('-')`` over
   their sum at the operator's position;
3. **the column model's cell** (:class:`~idl_utils.column_model.ColumnArithmetic`, the very
   layer :func:`~idl_utils.column_model.build_column_model` makes, not a copy) computes the
   answer: ``(n, d+2, 13)``, digits of ``|a op b|`` ones first, then the sign, decoded like
   :class:`~idl_utils.column_model.ColumnDigits`.

Training has three stages: the glyph classifier is pretrained on labelled glyphs, as the
course reader's CNN is (:func:`pretrain_glyph_classifier`; one classifier per glyph bank serves
every split, :func:`idl_utils.reading.pretrained_glyph_classifier`); then
(:func:`train_column_reader`) the column cell learns from the answers
on the classifier's (frozen) reading of the training queries' images, with the column
model's own recipe (several starts, a high learning rate); then the whole reader is trained
end to end from the answers at a low learning rate, the training images redrawn every epoch.
(Adam is blind to the scale of a gradient, so one optimiser cannot give the pretrained CNN a
rate 100 times smaller than the column cell's: hence the stages.)

When answering (``hard_inference=True``, the default) each image counts as its most likely
symbol and the query as its most likely layout, as the column model rounds its carries: an
image that is 60% a ``4`` and 40% a ``9`` is read as a ``4``, not as their mean ``6``.

No weight depends on the number of digits (the classifier reads one image at a time, the
cell one column), so :func:`widen_column_reader` answers 3-digit queries with the weights
trained on 2-digit ones. :class:`ColumnQueryImages` is its representation for the kit's
training loop and :func:`~idl_utils.seq_models.predict_answers`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from .column_model import (
    COLUMN_MODEL_DEFAULTS,
    N_FEATURES,
    ColumnDigits,
    build_column_model,
    column_layer,
    named_layer,
)
from .glyphs import BLANK, IMAGE_SIZE, MINUS, PLUS, MnistQueryImages, render_queries
from .image_seq_models import build_glyph_encoder, pretrain_glyph_encoder
from .queries import SUPPORTED_DIGITS, VOCAB, QuerySet, exact_match
from .seq_models import TrainConfig, train_seq_model
from .training import PROGRESS

_ROLES = 3  # what a query position can hold: a digit, the operator, a blank


def _check_digits(digits: Any) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int) or digits not in SUPPORTED_DIGITS:
        raise ValueError(f"digits must be one of {SUPPORTED_DIGITS} (the digits of an operand), "
                         f"got {digits!r}")
    return digits


def query_layouts(digits: int) -> dict[str, np.ndarray]:
    """Every way a left-aligned ``digits``-digit query can be written: ``a`` with ``k`` digits
    and ``b`` with ``m`` (1 to ``digits`` each), ``K = digits**2`` layouts over ``L = 2d+1``
    positions and ``C = d+1`` columns. Returns ``float32`` arrays:
    ``roles`` ``(K, L, 3)`` (one-hot: digit, operator, blank at each position), ``a`` and ``b``
    ``(K, C, L)`` (column ``c`` of the operand reads position ``l``: ones first), ``a_zero``
    and ``b_zero`` ``(K, C)`` (columns beyond the operand, which hold a 0) and ``operator``
    ``(K, L)`` (the operator's position)."""
    digits = _check_digits(digits)
    length, columns = 2 * digits + 1, digits + 1
    shapes = [(k, m) for k in range(1, digits + 1) for m in range(1, digits + 1)]
    out = {"roles": np.zeros((len(shapes), length, _ROLES)),
           "a": np.zeros((len(shapes), columns, length)), "b": np.zeros((len(shapes), columns, length)),
           "a_zero": np.zeros((len(shapes), columns)), "b_zero": np.zeros((len(shapes), columns)),
           "operator": np.zeros((len(shapes), length))}
    for i, (k, m) in enumerate(shapes):
        role = np.full(length, 2)
        role[:k], role[k], role[k + 1:k + 1 + m] = 0, 1, 0
        out["roles"][i] = np.eye(_ROLES)[role]
        out["operator"][i, k] = 1
        for c in range(columns):  # column c is 10**c: the ones sit just left of the operator / blanks
            if c < k:
                out["a"][i, c, k - 1 - c] = 1
            else:
                out["a_zero"][i, c] = 1
            if c < m:
                out["b"][i, c, k + m - c] = 1
            else:
                out["b_zero"][i, c] = 1
    return {name: array.astype(np.float32) for name, array in out.items()}


class GlyphColumns(keras.layers.Layer):
    """Glyph probabilities ``(n, 2d+1, 13)`` -> the column model's inputs ``(n, d+1, 23)``
    (see the module docstring). Training: soft (layouts weighted by their probability, digits
    by theirs). Answering with ``hard_inference``: the most likely layout, digits and
    operator, so one-hot glyph probabilities give exactly
    :func:`~idl_utils.column_model.column_features` of the query either way."""

    def __init__(self, digits: int, *, hard_inference: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.digits, self.hard_inference = _check_digits(digits), bool(hard_inference)
        self.layouts = query_layouts(self.digits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "digits": self.digits, "hard_inference": self.hard_inference}

    def build(self, input_shape):
        expected = (2 * self.digits + 1, len(VOCAB))
        if tuple(input_shape[-2:]) != expected:
            raise ValueError(f"GlyphColumns({self.digits}) reads glyph probabilities (n, {expected[0]}, "
                             f"{expected[1]}) for {self.digits}-digit queries, got {tuple(input_shape)}")

    def call(self, probs, training=None):
        eps = 1e-7
        t = {name: ops.convert_to_tensor(array) for name, array in self.layouts.items()}
        digit_p = probs[..., :10]
        digit_mass = ops.sum(digit_p, axis=-1)
        op_mass = probs[..., PLUS] + probs[..., MINUS]
        role_p = ops.stack([digit_mass, op_mass, probs[..., BLANK]], axis=-1)
        layout_score = ops.einsum("nlr,klr->nk", ops.log(role_p + eps), t["roles"])
        if self.hard_inference and not training:
            weight = ops.one_hot(ops.argmax(layout_score, axis=-1), len(self.layouts["roles"]))
            digit_p = ops.one_hot(ops.argmax(digit_p, axis=-1), 10)
            sign_at = ops.where(probs[..., PLUS] >= probs[..., MINUS], 1.0, -1.0)
        else:
            # a softmax written out: 1-digit queries have a single layout (Keras warns on one)
            weight = ops.exp(layout_score - ops.max(layout_score, axis=-1, keepdims=True))
            weight = weight / ops.sum(weight, axis=-1, keepdims=True)
            digit_p = digit_p / (digit_mass[..., None] + eps)
            sign_at = (probs[..., PLUS] - probs[..., MINUS]) / (op_mass + eps)
        zero = ops.convert_to_tensor(np.eye(10, dtype=np.float32)[0])

        def operand(name: str):
            per_layout = ops.einsum("kcl,nld->nkcd", t[name], digit_p)
            empty = ops.einsum("nk,kc->nc", weight, t[f"{name}_zero"])
            return ops.einsum("nk,nkcd->ncd", weight, per_layout) + empty[..., None] * zero

        a, b = operand("a"), operand("b")
        sign = ops.sum(ops.einsum("nk,kl->nl", weight, t["operator"]) * sign_at, axis=-1)
        values = ops.convert_to_tensor(np.arange(10, dtype=np.float32) / 9.0)
        sign = ops.broadcast_to(sign[:, None, None], ops.shape(a[..., :1]))
        return ops.concatenate([ops.sum(a * values, axis=-1, keepdims=True),
                                ops.sum(b * values, axis=-1, keepdims=True), sign, a, b], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.digits + 1, N_FEATURES)


#: the glyph classifiers a column reader can have (:func:`build_glyph_classifier`)
GLYPH_CNNS = ("course", "bn")


def build_glyph_classifier(features: int = 128, *, augment: bool = True, seed: int = 0,
                           cnn: str = "course", name: str = "glyph_classifier") -> keras.Model:
    """A 13-class glyph classifier, ``(n, 28, 28)`` -> ``(n, 13)`` softmax (layer
    ``glyph_class``). ``cnn="course"``: the course reader's glyph CNN
    (:func:`~idl_utils.image_seq_models.build_glyph_encoder`, ``features`` wide, ``augment``:
    random shifts and tilts while training) with a softmax on top. ``cnn="bn"``: the wider,
    batch-normalised :func:`~idl_utils.judge.build_glyph_cnn` (always augmented; ``features``
    and ``augment`` do not apply), more accurate on real handwriting. Either way it is another
    network than the judge, with its own seed and training run."""
    if cnn not in GLYPH_CNNS:
        raise ValueError(f"unknown glyph classifier cnn={cnn!r}; accepted: {', '.join(GLYPH_CNNS)}")
    if cnn == "bn":
        from .judge import build_glyph_cnn

        return build_glyph_cnn(seed=seed, name=name)
    encoder = build_glyph_encoder(features, augment=augment, seed=seed)
    head = keras.layers.Dense(len(VOCAB), activation="softmax", name="glyph_class")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE), name="glyph")
    return keras.Model(inputs, head(encoder(inputs)), name=name)


def _assemble(digits: int, classifier: keras.Model, arithmetic: keras.layers.Layer, *,
              hard_inference: bool, name: str) -> keras.Model:
    inputs = keras.Input((2 * digits + 1, IMAGE_SIZE, IMAGE_SIZE), name="query_images")
    probs = keras.layers.TimeDistributed(classifier, name="read_glyphs")(inputs)
    columns = GlyphColumns(digits, hard_inference=hard_inference, name="glyph_columns")(probs)
    return keras.Model(inputs, arithmetic(columns), name=name)


def build_column_reader(digits: int = 2, *, features: int = 128, augment: bool = True, seed: int = 0,
                        cnn: str = "course", name: str = "column_reader",
                        **column_settings: Any) -> keras.Model:
    """A fresh column reader for ``digits``-digit queries: query images ``(n, 2d+1, 28, 28)`` ->
    answer probabilities ``(n, d+2, 13)`` (:class:`ColumnQueryImages` decodes them).

    ``features``, ``augment`` and ``cnn`` shape the glyph classifier (:func:`build_glyph_classifier`);
    ``column_settings`` are :func:`~idl_utils.column_model.build_column_model`'s
    (default :data:`~idl_utils.column_model.COLUMN_MODEL_DEFAULTS`); its ``hard_inference``
    also makes :class:`GlyphColumns` read each image as its most likely symbol when answering."""
    digits = _check_digits(digits)
    unknown = set(column_settings) - set(COLUMN_MODEL_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown column model setting(s) {sorted(unknown)}; accepted: "
                         f"{', '.join(COLUMN_MODEL_DEFAULTS)}")
    settings = {**COLUMN_MODEL_DEFAULTS, **column_settings}
    arithmetic = column_layer(build_column_model(digits, **settings))
    classifier = build_glyph_classifier(features, augment=augment, seed=seed, cnn=cnn)
    return _assemble(digits, classifier, arithmetic, hard_inference=settings["hard_inference"],
                     name=name)


def column_settings(reader: keras.Model) -> dict[str, Any]:
    """The column model settings (:data:`~idl_utils.column_model.COLUMN_MODEL_DEFAULTS`' keys)
    of a column reader or column model."""
    config = column_layer(reader).get_config()
    return {key: config[key] for key in COLUMN_MODEL_DEFAULTS}


def _glyph_columns(reader: keras.Model) -> GlyphColumns:
    return named_layer(reader, "glyph_columns", GlyphColumns, "a column reader", "build_column_reader")


def glyph_classifier(reader: keras.Model) -> keras.Model:
    """The glyph classifier inside a column ``reader`` (layer ``read_glyphs``)."""
    _glyph_columns(reader)
    return reader.get_layer("read_glyphs").layer


def widen_column_reader(reader: keras.Model, digits: int) -> keras.Model:
    """The trained column ``reader`` for ``digits``-digit queries, with the same weights: the
    very same glyph classifier (shared, not copied) and a column cell of the new width holding
    the trained cell's weights (each checked to keep its shape). The reader itself if it
    already has that width. A column model with one cell per column (``shared=False``) has no
    weights for the columns it never had, so it cannot be widened."""
    digits = _check_digits(digits)
    if _glyph_columns(reader).digits == digits:
        return reader
    layer, settings = column_layer(reader), column_settings(reader)
    if not settings["shared"]:
        raise ValueError("a column reader with one cell per column (shared=False) has weights for "
                         f"{layer.columns} columns only and cannot be widened: train a shared one")
    arithmetic = column_layer(build_column_model(digits, **settings))
    for old, new in zip(layer.weights, arithmetic.weights, strict=True):
        if tuple(old.shape) != tuple(new.shape):
            raise ValueError(f"weight {old.path} {old.shape} does not match {new.path} {new.shape}")
    arithmetic.set_weights(layer.get_weights())
    return _assemble(digits, glyph_classifier(reader), arithmetic,
                     hard_inference=settings["hard_inference"], name=reader.name)


@dataclass(frozen=True)
class ColumnQueryImages(MnistQueryImages):
    """The column reader's representation: query images in, as for the course reader
    (:class:`~idl_utils.glyphs.MnistQueryImages`: rendered from ``bank`` with ``seed``,
    ``redraw`` for training), and the column model's targets and decoding
    (:class:`~idl_utils.column_model.ColumnDigits`): ``(n, d+2, 13)``, ones first, then the sign."""

    name: str = "column_query_images"

    def output_shape(self, digits: int) -> tuple[int, int]:
        return ColumnDigits().output_shape(digits)

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        return ColumnDigits().encode_targets(qs)

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        return ColumnDigits().decode(scores, digits)


def glyph_column_features(classifier: keras.Model, images: np.ndarray, *, hard: bool = False,
                          batch_size: int = 2048) -> np.ndarray:
    """The column model's inputs ``(n, d+1, 23)`` as the glyph ``classifier`` reads query
    ``images`` ``(n, 2d+1, 28, 28)``: soft, as the column cell sees them in training, or
    ``hard`` (each image its most likely symbol), as a reader sees them when answering."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] % 2 == 0 or images.shape[2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected query images (n, 2d+1, 28, 28), got {images.shape}")
    n, length = images.shape[:2]
    probs = classifier.predict(images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size,
                               verbose=0).reshape(n, length, len(VOCAB))
    return np.asarray(GlyphColumns((length - 1) // 2, hard_inference=hard)(probs))


@dataclass(frozen=True)
class ClassifiedColumns:
    """The column cell's training data: ``images``' queries (a
    :class:`ColumnQueryImages`) as the glyph ``classifier`` reads them, ``(n, d+1, 23)``
    (:func:`glyph_column_features`), with the column model's targets and decoding."""

    classifier: keras.Model
    images: ColumnQueryImages
    name: str = "classified_columns"

    def input_shape(self, digits: int) -> tuple[int, int]:
        return ColumnDigits().input_shape(digits)

    def output_shape(self, digits: int) -> tuple[int, int]:
        return ColumnDigits().output_shape(digits)

    def encode_inputs(self, qs: QuerySet) -> np.ndarray:
        return glyph_column_features(self.classifier, render_queries(qs, self.images.bank,
                                                                     seed=self.images.seed))

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        return ColumnDigits().encode_targets(qs)

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        return ColumnDigits().decode(scores, digits)


def pretrain_glyph_classifier(classifier: keras.Model, glyphs: np.ndarray, labels: np.ndarray, *,
                              epochs: int, seed: int = 0, batch_size: int = 128,
                              verbose: int | str = PROGRESS) -> dict[str, Any]:
    """Pretrain a :func:`build_glyph_classifier` on labelled single ``glyphs`` ``(n, 28, 28)``,
    ``labels`` (0-12). The course CNN as the course reader's CNN is pretrained
    (:func:`~idl_utils.image_seq_models.pretrain_glyph_encoder`), keeping the classifier's own
    softmax; the batch-normalised CNN by :func:`~idl_utils.judge.fit_glyph_cnn`.
    Returns the training record."""
    names = {layer.name for layer in classifier.layers}
    if "glyph_cnn" not in names:
        from .judge import fit_glyph_cnn

        return fit_glyph_cnn(classifier, glyphs, labels, epochs=epochs, seed=seed,
                             batch_size=batch_size, verbose=verbose)
    return pretrain_glyph_encoder(classifier.get_layer("glyph_cnn"), glyphs, labels, epochs=epochs,
                                  batch_size=batch_size, seed=seed,
                                  head=classifier.get_layer("glyph_class"), verbose=verbose)


def train_column_reader(reader: keras.Model, rep: ColumnQueryImages, train: QuerySet, val: QuerySet, *,
                        column_train: TrainConfig, finetune: TrainConfig,
                        seed: int = 0) -> dict[str, Any]:
    """Train a column ``reader`` whose glyph classifier is pretrained
    (:func:`pretrain_glyph_classifier`) on ``train`` (images from ``rep``), selecting on ``val``:

    1. a column model of the reader's settings, by ``column_train`` (e.g.
       :func:`~idl_utils.column_model.column_recipe`'s, restarts included), on the classifier's
       reading of the training images (:class:`ClassifiedColumns`); its weights go into the
       reader's cell;
    2. the whole reader end to end by ``finetune`` (``epochs=0``: skip), its images from
       ``rep`` (redrawn every epoch if ``rep.redraw``, which needs ``streaming``); kept only
       if its best validation exact match beats the reader's after stage 1.

    Returns the last stage's training record (:func:`~idl_utils.seq_models.train_seq_model`)
    with ``column_seconds``, ``column_val_exact`` (after stage 1), ``finetune_kept``,
    ``column_stage`` (stage 1's record), the total ``seconds`` and the largest
    ``peak_memory_gib``."""
    if rep.redraw and finetune.epochs and not finetune.streaming:
        raise ValueError("a reader that redraws its images every epoch needs streamed batches: "
                         "give its finetune TrainConfig(streaming=True)")
    classifier = glyph_classifier(reader)
    digits = _glyph_columns(reader).digits
    column = build_column_model(digits, **column_settings(reader))
    column_record = train_seq_model(column, ClassifiedColumns(classifier, rep), train, val, column_train,
                                    seed=seed, name="column cell on read glyphs")
    column_layer(reader).set_weights(column_layer(column).get_weights())
    start = time.perf_counter()
    # the reader's answers, computed by its two parts (already traced) rather than by tracing it
    hard = column_settings(reader)["hard_inference"]
    columns = glyph_column_features(classifier, rep.encode_inputs(val), hard=hard)
    column_exact = exact_match(ColumnDigits().decode(column.predict(columns, batch_size=2048, verbose=0),
                                                     digits), val.answers)
    record, kept = column_record, False
    if finetune.epochs:
        column_weights = reader.get_weights()
        # selection is by validation exact match: Keras' validation loss would cost a pass a epoch
        record = train_seq_model(reader, rep, train, val, finetune, seed=seed, validation_loss=False,
                                 name="column reader end to end")
        kept = record["best_val_exact"] > column_exact
        if not kept:
            reader.set_weights(column_weights)
    # the end-to-end stage and the check before it
    seconds = column_record["seconds"] + time.perf_counter() - start
    peak = max(r.get("peak_memory_gib") or 0.0 for r in (column_record, record))
    return {**record, "column_seconds": column_record["seconds"],
            "column_val_exact": column_exact, "finetune_kept": kept,
            "column_stage": column_record, "seconds": seconds, "peak_memory_gib": peak}
