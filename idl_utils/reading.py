"""Notebook 03's trained models, each from a recipe and cached under a key built from it.

* :class:`ReaderRecipe` and :func:`trained_reader` -- the image-to-text reader (glyph CNN,
  pretrained on labelled glyphs, then the course's LSTM encoder-decoder trained end to end).
* :func:`trained_text_twin` -- the same encoder-decoder on one-hot text, trained the same way.
* :func:`trained_warm_reader` -- a reader for longer queries that starts from a trained one
  (:func:`idl_utils.image_seq_models.warm_start`).
* :class:`ColumnReaderRecipe` and :func:`trained_column_reader` -- the column reader
  (:mod:`idl_utils.column_reader`: the glyph CNN's symbol probabilities into notebook 02's
  column cell), and :func:`column_reader_row`, its row of the splits table.
* :func:`answer_row` and :func:`judge_ceiling` -- the rows of the notebook's tables;
  :class:`JudgeReadings` reads each test query once for the ceilings of many splits.

Every cache key is built here from the recipe, the split and the glyph bank, so a notebook
never writes one by hand and a changed setting always trains a new model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from .column_model import COLUMN_MODEL_DEFAULTS, column_recipe
from .column_reader import (
    ColumnQueryImages,
    build_column_reader,
    build_glyph_classifier,
    glyph_classifier,
    pretrain_glyph_classifier,
    train_column_reader,
    widen_column_reader,
)
from .glyphs import GlyphBank, MnistQueryImages
from .image_seq_models import (
    build_glyph_encoder,
    build_image_to_text_model,
    build_text_twin_model,
    train_reader,
    warm_start,
)
from .judge import glyph_dataset, read_text
from .queries import QuerySet, Split, exact_match, per_char_accuracy
from .seq_models import CourseText, TrainConfig, how_training_ended, predict_answers, train_seq_model

#: labelled glyphs per symbol the reader's CNN is pretrained on
PRETRAIN_GLYPHS_PER_SYMBOL = 300


@dataclass(frozen=True)
class ReaderRecipe:
    """How an image-to-text reader is built and trained; every field is in its cache key.

    ``features`` per glyph from the CNN, ``layers`` encoder LSTMs of ``units``; ``redraw``
    gives training queries new MNIST images every epoch, ``augment`` shifts and tilts glyphs
    while training; ``pretrain_epochs`` passes of the CNN over labelled glyphs first."""

    digits: int = 2
    units: int = 128
    layers: int = 1
    features: int = 128
    augment: bool = True
    redraw: bool = True
    pretrain_epochs: int = 1
    train: TrainConfig = field(default_factory=TrainConfig)

    def with_(self, **changes: Any) -> ReaderRecipe:
        """A copy with ``changes`` (e.g. ``recipe.with_(layers=2)``)."""
        return replace(self, **changes)


def _n_queries(split: Split) -> int:
    return len(split.train) + len(split.val) + len(split.test)


def _data_key(split: Split, bank: GlyphBank, *, mode: str, mnist_source: str, seed: int) -> dict[str, Any]:
    return {"n": _n_queries(split), "split": split.name, "seed": seed, "mode": mode,
            "bank": bank.name, "bank_size": len(bank), "mnist": mnist_source}


def reader_key(recipe: ReaderRecipe, split: Split, bank: GlyphBank, *, mode: str, mnist_source: str,
               seed: int) -> dict[str, Any]:
    """The cache key of a reader trained by ``recipe`` on ``split`` with images from ``bank``
    (``mode``: the split mode the banks came from, e.g. ``"honest"``)."""
    return {"model": "image_to_text_reader", "digits": recipe.digits, "units": recipe.units,
            "layers": recipe.layers, "features": recipe.features, "augment": recipe.augment,
            "redraw": recipe.redraw, "pretrain": recipe.pretrain_epochs,
            **_data_key(split, bank, mode=mode, mnist_source=mnist_source, seed=seed),
            **recipe.train.as_dict()}


def build_reader(recipe: ReaderRecipe, *, seed: int = 0) -> keras.Model:
    """A fresh reader for ``recipe`` (seeded): glyph CNN -> encoder LSTMs -> decoder."""
    from .config import set_seed

    set_seed(seed)
    encoder = build_glyph_encoder(recipe.features, augment=recipe.augment, seed=seed)
    return build_image_to_text_model(recipe.digits, units=recipe.units, encoder_layers=recipe.layers,
                                     glyph_encoder=encoder)


def trained_reader(recipe: ReaderRecipe, split: Split, bank: GlyphBank, *, mode: str,
                   mnist_source: str, seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: a reader trained by ``recipe`` on ``split`` with query images from
    ``bank`` (its CNN first pretrained on labelled glyphs of the same bank; the epoch with the
    best validation exact match kept), or loaded from the model cache."""
    from .cache import load_or_train

    if recipe.redraw and not recipe.train.streaming:
        raise ValueError("a reader that redraws its images every epoch needs streamed batches: "
                         "give its recipe TrainConfig(streaming=True)")
    rep = MnistQueryImages(bank, seed=seed, redraw=recipe.redraw)

    def train(model: keras.Model) -> dict[str, Any]:
        glyphs, labels = glyph_dataset(bank, n_per_symbol=PRETRAIN_GLYPHS_PER_SYMBOL, seed=seed)
        return train_reader(model, rep, split.train, split.val, recipe.train, glyphs, labels,
                            pretrain_epochs=recipe.pretrain_epochs, seed=seed)

    key = reader_key(recipe, split, bank, mode=mode, mnist_source=mnist_source, seed=seed)
    return load_or_train(f"i2t_reader_{recipe.layers}", key,
                         build=lambda: build_reader(recipe, seed=seed), train=train)


def trained_text_twin(recipe: ReaderRecipe, split: Split, *,
                      seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: the reader's encoder-decoder (``recipe``'s digits, units and
    training; one encoder layer) on one-hot text, trained on ``split``, or from the cache.
    Beside the reader it isolates what reading handwriting costs."""
    from .cache import load_or_train
    from .config import set_seed

    train_cfg = recipe.train

    def build() -> keras.Model:
        set_seed(seed)
        return build_text_twin_model(recipe.digits, units=recipe.units)

    key = {"model": "text_twin", "digits": recipe.digits, "units": recipe.units,
           "n": _n_queries(split), "split": split.name, "seed": seed, **train_cfg.as_dict()}
    return load_or_train("i2t_text_twin", key, build=build,
                         train=lambda m: train_seq_model(m, CourseText(), split.train, split.val,
                                                         train_cfg, seed=seed))


def trained_warm_reader(recipe: ReaderRecipe, split: Split, bank: GlyphBank, *,
                        start: ReaderRecipe, start_split: Split, mode: str, mnist_source: str,
                        seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: a reader for ``recipe.digits``-digit queries that starts from the
    reader :func:`trained_reader` makes of ``start`` and ``start_split`` (no reader weight
    depends on the number of digits, see :func:`~idl_utils.image_seq_models.warm_start`), then
    trains by ``recipe`` on ``split`` without pretraining (its CNN already reads); or loaded
    from the cache, keyed by its recipe and the starting reader's key."""
    from .cache import config_key, load_or_train

    rep = MnistQueryImages(bank, seed=seed, redraw=recipe.redraw)
    start_key = reader_key(start, start_split, bank, mode=mode, mnist_source=mnist_source, seed=seed)

    def build() -> keras.Model:
        source, _ = trained_reader(start, start_split, bank, mode=mode, mnist_source=mnist_source,
                                   seed=seed)
        model = build_reader(recipe, seed=seed)
        warm_start(model, source)
        return model

    key = {**reader_key(recipe, split, bank, mode=mode, mnist_source=mnist_source, seed=seed),
           "warm_start": config_key(start_key)}
    return load_or_train(f"i2t_reader_{recipe.digits}digit", key, build=build,
                         train=lambda m: train_seq_model(m, rep, split.train, split.val, recipe.train,
                                                         seed=seed))


def _finetune_default() -> TrainConfig:
    return TrainConfig(epochs=6, batch_size=64, learning_rate=3e-4, lr_schedule="cosine",
                       streaming=True)


@dataclass(frozen=True)
class ColumnReaderRecipe:
    """How a column reader is built and trained (:func:`trained_column_reader`); every field is
    in its cache key.

    ``features`` per glyph in the classifier's CNN, ``augment`` shifts and tilts glyphs while
    training, ``cnn`` the classifier's design (``"course"`` or ``"bn"``, see
    :func:`~idl_utils.column_reader.build_glyph_classifier`), ``pretrain_epochs`` passes of the
    classifier over labelled glyphs. The column
    cell then learns on the classifier's reading with :func:`~idl_utils.column_model.column_recipe`'s
    schedule for the training queries (``restarts`` starts; ``column_epochs`` replaces its
    number of epochs, e.g. for a quick test); ``finetune`` trains the whole
    reader end to end (``epochs=0``: not at all), ``redraw`` giving the training queries new
    images every epoch (which needs ``finetune.streaming``)."""

    digits: int = 2
    features: int = 128
    augment: bool = True
    cnn: str = "course"
    # one run each on full MNIST, 50/50, seed 42 (tools/column_reader_splits, 2026-12-07): 1 or 5
    # passes then 4 end-to-end epochs gave 93.3% / 96.3% test exact match, 10 passes then 6 97.0%
    pretrain_epochs: int = 10
    restarts: int = 3
    column_epochs: int | None = None
    redraw: bool = True
    finetune: TrainConfig = field(default_factory=_finetune_default)

    def with_(self, **changes: Any) -> ColumnReaderRecipe:
        """A copy with ``changes`` (e.g. ``recipe.with_(restarts=1)``)."""
        return replace(self, **changes)

    def column_train(self, n_train: int) -> TrainConfig:
        """How the column cell trains on ``n_train`` queries read by the classifier."""
        recipe = column_recipe(self.digits, n_train, restarts=self.restarts)
        return recipe.with_train(epochs=self.column_epochs).train


def _cnn_key(recipe: ColumnReaderRecipe) -> dict[str, Any]:
    # the course CNN's keys stay as they were before the choice existed; the batch-normalised
    # CNN is named "judge" in its key: it was the judge's candidate design when its readers
    # were first cached
    if recipe.cnn == "course":
        return {}
    from .judge import GLYPH_CNN_WIDTHS

    return {"cnn": "judge" if recipe.cnn == "bn" else recipe.cnn, "cnn_widths": list(GLYPH_CNN_WIDTHS),
            "cnn_fit": "warmup-cosine-3e-3-bn"}


def column_reader_key(recipe: ColumnReaderRecipe, split: Split, bank: GlyphBank, *, mode: str,
                      mnist_source: str, seed: int) -> dict[str, Any]:
    """The cache key of a column reader trained by ``recipe`` on ``split`` with images from
    ``bank`` (``mode``: the split mode the banks came from)."""
    return {"model": "column_reader", "digits": recipe.digits, "features": recipe.features,
            "augment": recipe.augment, "pretrain": recipe.pretrain_epochs, "redraw": recipe.redraw,
            **_cnn_key(recipe),
            "column": {**COLUMN_MODEL_DEFAULTS,
                       **recipe.column_train(len(split.train)).as_dict()},
            **_data_key(split, bank, mode=mode, mnist_source=mnist_source, seed=seed),
            "finetune": recipe.finetune.as_dict()}


def pretrained_glyph_classifier(recipe: ColumnReaderRecipe, bank: GlyphBank, *, mnist_source: str,
                                seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: the column reader's glyph classifier (``recipe``'s features and
    augmentation) pretrained for ``recipe.pretrain_epochs`` on labelled glyphs of ``bank``, or
    loaded from the model cache: every split's reader of the same bank starts from it."""
    from .cache import load_or_train
    from .config import set_seed

    def build() -> keras.Model:
        set_seed(seed)
        return build_glyph_classifier(recipe.features, augment=recipe.augment, seed=seed,
                                      cnn=recipe.cnn)

    def train(model: keras.Model) -> dict[str, Any]:
        glyphs, labels = glyph_dataset(bank, n_per_symbol=PRETRAIN_GLYPHS_PER_SYMBOL, seed=seed)
        return pretrain_glyph_classifier(model, glyphs, labels, epochs=recipe.pretrain_epochs, seed=seed)

    key = {"model": "glyph_classifier", "features": recipe.features, "augment": recipe.augment,
           **_cnn_key(recipe),
           "pretrain": recipe.pretrain_epochs, "glyphs_per_symbol": PRETRAIN_GLYPHS_PER_SYMBOL,
           "bank": bank.name, "bank_size": len(bank), "mnist": mnist_source, "seed": seed}
    return load_or_train("glyph_classifier", key, build=build, train=train)


def trained_column_reader(recipe: ColumnReaderRecipe, split: Split, bank: GlyphBank, *, mode: str,
                          mnist_source: str, seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: a column reader trained by ``recipe`` on ``split`` with query images
    from ``bank`` (its glyph classifier pretrained on labelled glyphs of the same bank,
    :func:`pretrained_glyph_classifier`, then :func:`~idl_utils.column_reader.train_column_reader`),
    or loaded from the model cache.
    It reads queries of any length: :func:`~idl_utils.column_reader.widen_column_reader`."""
    from .cache import load_or_train
    from .config import set_seed

    if recipe.redraw and recipe.finetune.epochs and not recipe.finetune.streaming:
        raise ValueError("a column reader that redraws its images every epoch needs streamed batches: "
                         "give its recipe finetune=TrainConfig(streaming=True, ...)")
    rep = ColumnQueryImages(bank, seed=seed, redraw=recipe.redraw)

    def build() -> keras.Model:
        set_seed(seed)
        return build_column_reader(recipe.digits, features=recipe.features, augment=recipe.augment,
                                   seed=seed, cnn=recipe.cnn)

    def train(model: keras.Model) -> dict[str, Any]:
        classifier, pre = pretrained_glyph_classifier(recipe, bank, mnist_source=mnist_source, seed=seed)
        glyph_classifier(model).set_weights(classifier.get_weights())
        record = train_column_reader(model, rep, split.train, split.val,
                                     column_train=recipe.column_train(len(split.train)),
                                     finetune=recipe.finetune, seed=seed)
        # the pretraining counts in every reader's time, even when another split's run paid it
        return {**record, "pretrain_seconds": pre["seconds"], "pretrain_cached": pre["cached"],
                "seconds": record["seconds"] + pre["seconds"],
                "peak_memory_gib": max(record["peak_memory_gib"], pre.get("peak_memory_gib") or 0.0)}

    key = column_reader_key(recipe, split, bank, mode=mode, mnist_source=mnist_source, seed=seed)
    return load_or_train(f"column_reader_{recipe.digits}digit", key, build=build, train=train)


class JudgeReadings:
    """What ``judge`` reads in the query images ``rep`` draws, read once per query.

    A query's test images depend only on the query and the representation's bank and seed
    (not on the split it falls in), so the judge's ceilings of many splits of one query set
    need each query read once: :meth:`read` reads the queries it has not seen yet and keeps
    the result. ``rep`` must not redraw (test images are fixed)."""

    def __init__(self, judge: keras.Model, rep: MnistQueryImages) -> None:
        if getattr(rep, "redraw", False):
            raise ValueError("JudgeReadings needs fixed test images: give it a representation "
                             "with redraw=False")
        self.judge, self.rep = judge, rep
        self._read: dict[tuple[int, str], str] = {}

    def read(self, qs: QuerySet) -> np.ndarray:
        """The judge's reading of each query of ``qs`` ``(n,)`` (padded strings, as
        :func:`~idl_utils.judge.read_text`)."""
        keys = [(qs.digits, str(q)) for q in qs.queries]
        new: dict[tuple[int, str], int] = {}  # first position of each query not read yet
        for i, key in enumerate(keys):
            if key not in self._read and key not in new:
                new[key] = i
        if new:
            part = qs.subset(np.fromiter(new.values(), dtype=np.int64))
            self._read.update(zip(new, read_text(self.judge, self.rep.encode_inputs(part)), strict=True))
        return np.array([self._read[key] for key in keys])

    def ceiling(self, qs: QuerySet) -> float:
        """The share of ``qs`` whose every glyph the judge reads right."""
        return exact_match(self.read(qs), qs.queries)


def column_reader_row(reader: keras.Model, split: Split, test_bank: GlyphBank, *, seed: int = 0,
                      record: dict[str, Any] | None = None,
                      judge: keras.Model | JudgeReadings | None = None,
                      model: str = "column reader") -> dict[str, Any]:
    """A row of notebook 03's splits table for a column ``reader``: :func:`answer_row` of its
    answers to ``split.test`` (images from ``test_bank`` with ``seed``, as the course reader's
    test images) with the ``split``'s name, its training queries and, given the ``judge`` (or
    its :class:`JudgeReadings` of these test images, to read each query once across splits),
    ``ceiling``: the share of these test queries the judge reads completely right. A reader
    trained on other lengths answers with the same weights (widened)."""
    rep = ColumnQueryImages(test_bank, seed=seed)
    predicted = predict_answers(widen_column_reader(reader, split.test.digits), rep, split.test)
    row = answer_row(model, predicted, split.test.answers, split=split.name,
                     train_queries=len(split.train),
                     seconds=record["seconds"] if record is not None else "", record=record)
    if judge is not None:
        readings = judge if isinstance(judge, JudgeReadings) else JudgeReadings(judge, rep)
        row["ceiling"] = readings.ceiling(split.test)
    return row


def answer_row(model: str, predicted: np.ndarray, answers: np.ndarray, *, seconds: float | str = "",
               record: dict[str, Any] | None = None, **columns: Any) -> dict[str, Any]:
    """One row of a results table: ``model``, any extra ``columns`` (e.g. ``input=...``), exact
    match and per-character accuracy of ``predicted`` against ``answers``, training seconds,
    and, given the model's training ``record``, how its training ended (``stopped``: whether
    the validation curve was still rising, see
    :func:`~idl_utils.seq_models.how_training_ended`)."""
    row = {"model": model, **columns, "exact_match": exact_match(predicted, answers),
           "per_char": per_char_accuracy(predicted, answers),
           "train_seconds": round(float(seconds), 1) if seconds != "" else ""}
    if record is not None:
        row["stopped"] = how_training_ended(record)
    return row


def judge_ceiling(judge: keras.Model, images: np.ndarray, queries: np.ndarray,
                  digit_accuracy: float) -> dict[str, float]:
    """The best a reader of these query ``images`` could do, two estimates: the share of
    queries the ``judge`` reads completely right (every glyph), and the naive
    ``digit_accuracy ** k`` with ``k`` the digits in a query (``images.shape[1] - 1``)."""
    k = images.shape[1] - 1
    return {"judge_digit_accuracy": digit_accuracy, f"digit_accuracy^{k}": digit_accuracy ** k,
            "judge_reads_whole_query": exact_match(read_text(judge, images), queries)}
