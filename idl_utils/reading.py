"""Notebook 03's trained models, each from a recipe and cached under a key built from it.

* :class:`ReaderRecipe` and :func:`trained_reader` -- the image-to-text reader (glyph CNN,
  pretrained on labelled glyphs, then the course's LSTM encoder-decoder trained end to end).
* :func:`trained_text_twin` -- the same encoder-decoder on one-hot text, trained the same way.
* :func:`trained_warm_reader` -- a reader for longer queries that starts from a trained one
  (:func:`idl_utils.image_seq_models.warm_start`).
* :func:`answer_row` and :func:`judge_ceiling` -- the rows of the notebook's tables.

Every cache key is built here from the recipe, the split and the glyph bank, so a notebook
never writes one by hand and a changed setting always trains a new model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from .glyphs import GlyphBank, MnistQueryImages
from .image_seq_models import (
    build_glyph_encoder,
    build_image_to_text_model,
    build_text_twin_model,
    train_reader,
    warm_start,
)
from .judge import glyph_dataset, read_text
from .queries import Split, exact_match, per_char_accuracy
from .seq_models import CourseText, TrainConfig, how_training_ended, train_seq_model

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
