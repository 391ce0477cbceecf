"""The judge: a separate classifier for the 13 glyph classes (10 digits, '+', '-', blank).

It is trained on training-set glyphs only (MNIST training digits, freshly drawn operators,
blanks) and tested on MNIST *test* digits, and is used for two things:

* the **ceiling** of image-to-text: a query can only be answered if every glyph in it is read
  correctly, so the share of test queries the judge reads completely bounds any reader;
* the **score** of text-to-image: read the generated answer glyphs and compare with the true
  answer, per glyph and per whole answer.

It is its own model (own architecture, own seed), never shared with the image-to-text reader,
so it stays an independent referee.
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from .glyphs import BLANK, GLYPH_CLASSES, IMAGE_SIZE, MINUS, PLUS, GlyphBank, draw_operators, hash_keys
from .queries import decode_text
from .training import PROGRESS, average_batch_norm, fit_timed

JUDGE_SEED_OFFSET = 7919  # the judge's operator glyphs and weights never reuse the reader's seed
#: training glyphs whose batch statistics :func:`fit_glyph_cnn` keeps after training
BN_GLYPHS = 4096


def glyph_dataset(bank: GlyphBank, *, n_per_symbol: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled single glyphs: every digit image of ``bank`` plus ``n_per_symbol`` drawn '+',
    '-' and blanks (some blanks with faint noise, as generated images have).
    Returns images ``(n, 28, 28)`` ``float32`` in [0, 1] and labels ``(n,)`` in 0..12."""
    if n_per_symbol < 1:
        raise ValueError(f"n_per_symbol must be >= 1, got {n_per_symbol}")
    digits = bank.images.astype(np.float32) / 255.0
    keys = np.arange(n_per_symbol)
    plus = draw_operators(np.full(n_per_symbol, PLUS), hash_keys(seed, 11, keys))
    minus = draw_operators(np.full(n_per_symbol, MINUS), hash_keys(seed, 12, keys))
    rng = np.random.default_rng([seed, 13])
    blank = rng.uniform(0, 1, (n_per_symbol, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    blank *= rng.uniform(0, 0.15, (n_per_symbol, 1, 1)).astype(np.float32) * (keys % 2)[:, None, None]
    x = np.concatenate([digits, plus, minus, blank])
    y = np.concatenate([bank.labels.astype(np.int64), np.full(n_per_symbol, PLUS),
                        np.full(n_per_symbol, MINUS), np.full(n_per_symbol, BLANK)])
    return x, y


#: the convolution widths of :func:`build_glyph_cnn`: a 5x5 stride-2 layer, a 3x3 layer, a 3x3
#: stride-2 layer
GLYPH_CNN_WIDTHS = (32, 64, 128)
#: what the judge is and how it is fitted, in the cache key of every model the judge selects
#: (notebook 04's generators, :func:`judge_key`): another design must retrain them
JUDGE_DESIGN = {"arch": "judge-cnn-32-64", "lr": "cosine-1e-3"}
#: the design every cache entry made before :data:`JUDGE_DESIGN` was in the keys was judged by
_FIRST_JUDGE_DESIGN = {"arch": "judge-cnn-32-64", "lr": "cosine-1e-3"}


def judge_key() -> dict[str, Any]:
    """The judge's part of the cache key of a model it selects: its design, or nothing for the
    first design (the one entries were judged by before the design was in the keys)."""
    return {} if JUDGE_DESIGN == _FIRST_JUDGE_DESIGN else {"judge": dict(JUDGE_DESIGN)}


def build_judge(*, seed: int = 0, name: str = "judge") -> keras.Model:
    """A small CNN (two conv + pooling blocks), ``(n, 28, 28)`` -> ``(n, 13)`` softmax; random shifts and
    rotations while training make it robust to where a generated glyph sits.

    Why not the more accurate :func:`build_glyph_cnn`? Measured on notebook 04's full run
    (2026-12-07): trained the same way, that network read 99.52% of the MNIST test digits
    (this one 99.33%), but only 57% of the digits drawn by the course's text-to-image
    generators, which this one reads at 97%: batch normalisation fitted to crisp handwriting
    mis-scales blurred strokes. An examiner of generated glyphs has to read them as a person
    would, so the judge stays this design.

    A second candidate was measured the same day (branch ``judge2``, chosen on the last 5,000
    MNIST training digits, crisp and blurred): the same wider network with *group*
    normalisation (per glyph, so no batch statistics) and trained on blurred, greyed glyphs.
    It read 99.48% of the validation digits (this judge 99.36%), 99.46% at Gaussian blur sigma
    1.5 (this judge 98.14%), 99.58% of the test digits, and at least as many of the generators'
    answer digits as this judge. It was rejected too: normalising each glyph makes it blind to
    *how much* ink there is, so it read 5.0% of the mse generator's empty answer positions
    (faint ghosts of 3-9% ink, which a person sees as blank) as digits, against 0.1% for this
    judge. (Plain, this design with those degradations read 99.28% of the validation digits.)"""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE), name="glyph")
    x = keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1))(inputs)
    x = keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed)(x)
    x = keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed + 1)(x)
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3, seed=seed + 2)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(len(GLYPH_CLASSES), activation="softmax", name="glyph_class")(x)
    return keras.Model(inputs, outputs, name=name)


def build_glyph_cnn(*, seed: int = 0, widths: tuple[int, int, int] = GLYPH_CNN_WIDTHS,
                    name: str = "glyph_cnn_bn") -> keras.Model:
    """A more accurate 13-class glyph CNN than the judge, ``(n, 28, 28)`` -> ``(n, 13)`` softmax
    (the column reader's classifier, :func:`~idl_utils.column_reader.build_glyph_classifier`):
    three convolutions of ``widths`` filters (5x5 with stride 2 to 14x14, 3x3, 3x3 with stride 2
    to 7x7), each with batch normalisation and ReLU, then a dense layer of 128 and dropout;
    random shifts and small rotations while training. Fit it with :func:`fit_glyph_cnn`.

    Chosen on *validation* digits (the last 5,000 MNIST training digits held out, trained on the
    other 55,000, 12 epochs, seed 42; never on the test digits): widths 32-64-128 read 99.56%
    of them, 24-48-96 99.44% (707 s against 677 s, two processes sharing the 2 cores). On all
    60,000 training digits it read 99.52% of the test digits. It reads blurred glyphs far worse
    than the judge (see :func:`build_judge`): fine for reading real handwriting, not for
    examining generated glyphs."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE), name="glyph")
    x = keras.layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1))(inputs)
    x = keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed)(x)
    x = keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", seed=seed + 1)(x)
    for filters, kernel, stride in zip(widths, (5, 3, 3), (2, 1, 2), strict=True):
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Dropout(0.3, seed=seed + 2)(x)
    outputs = keras.layers.Dense(len(GLYPH_CLASSES), activation="softmax", name="glyph_class")(x)
    return keras.Model(inputs, outputs, name=name)


def fit_glyph_cnn(model: keras.Model, glyphs: np.ndarray, labels: np.ndarray, *, epochs: int,
                  seed: int, batch_size: int = 128, verbose: int | str = PROGRESS) -> dict[str, Any]:
    """Fit a :func:`build_glyph_cnn` on labelled ``glyphs``
    ``(n, 28, 28)``, ``labels`` (0-12), shuffled by ``seed``, with the kit's loop
    (:func:`idl_utils.training.fit_timed`): Adam, the learning rate warming up over the first
    tenth of the steps from 3e-4 to 3e-3, then decaying along a cosine to 1% of that (the
    schedule the design was chosen with). Then the batch-normalisation statistics are set to
    those of the final weights on the first :data:`BN_GLYPHS` shuffled glyphs
    (:func:`~idl_utils.training.average_batch_norm`). Returns the training record
    (``history``, ``epochs_run``, ``seconds``, ``peak_memory_gib``)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    x, y = glyphs[order], labels[order]
    steps = math.ceil(len(y) / batch_size) * epochs
    rate = keras.optimizers.schedules.CosineDecay(
        3e-4, steps, alpha=0.01, warmup_target=3e-3, warmup_steps=steps // 10)
    record = fit_timed(model, x, y, epochs=epochs, batch_size=batch_size, verbose=verbose,
                       compile_args={"optimizer": keras.optimizers.Adam(rate),
                                     "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]})
    # read with the batch statistics of the final weights, not the moving averages' lag
    start = time.perf_counter()
    calibration = x[:BN_GLYPHS]
    average_batch_norm(model, (calibration[i:i + 256] for i in range(0, len(calibration), 256)))
    return {**record, "seconds": record["seconds"] + time.perf_counter() - start}


def train_judge(model: keras.Model, bank: GlyphBank, *, seed: int, epochs: int = 15,
                batch_size: int = 128, n_per_symbol: int = 600,
                verbose: int | str = PROGRESS) -> dict[str, Any]:
    """Fit the judge on glyphs of ``bank`` (the training digits) with the kit's loop
    (:func:`idl_utils.training.fit_timed`), the learning rate decaying along a cosine to 5% of
    its start: on full MNIST it read a tenth of a point more test digits than a constant rate
    (measured once: 99.29% after 10 epochs on 55,000 training digits, against 99.19% on all
    60,000 with a constant rate), at no extra cost. Returns its record
    (``history``, ``epochs_run``, ``seconds``, ``peak_memory_gib``) plus ``n_train_glyphs``."""
    x, y = glyph_dataset(bank, n_per_symbol=n_per_symbol, seed=seed + JUDGE_SEED_OFFSET)
    order = np.random.default_rng(seed).permutation(len(y))
    steps = math.ceil(len(y) / batch_size) * epochs
    rate = keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05)
    record = fit_timed(model, x[order], y[order], epochs=epochs, batch_size=batch_size, verbose=verbose,
                       compile_args={"optimizer": keras.optimizers.Adam(rate),
                                     "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]})
    return {**record, "n_train_glyphs": len(y)}


def read_glyphs(judge: keras.Model, images: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Class indices for glyph images of shape ``(..., 28, 28)`` (leading shape kept)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2 or images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"the judge reads 28x28 glyphs, got images of shape {images.shape}")
    flat = images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if len(flat) == 0:
        raise ValueError("no glyphs to read")
    scores = judge.predict(flat, batch_size=batch_size, verbose=0)
    return scores.argmax(axis=-1).reshape(images.shape[:-2])


def read_text(judge: keras.Model, images: np.ndarray) -> np.ndarray:
    """Read image sequences ``(n, L, 28, 28)`` as padded strings ``(n,)``."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected image sequences (n, L, 28, 28), got {images.shape}")
    return decode_text(read_glyphs(judge, images))


def judge_accuracy(judge: keras.Model, bank: GlyphBank, *, seed: int,
                   n_per_symbol: int = 300) -> dict[str, Any]:
    """Held-out accuracy on ``bank`` (the *test* digits) and on freshly drawn operators and
    blanks: overall, digits only, per class (keys ``'0'``..``'9'``, ``'+'``, ``'-'``, ``'blank'``)."""
    x, y = glyph_dataset(bank, n_per_symbol=n_per_symbol, seed=seed + 2 * JUDGE_SEED_OFFSET)
    pred = read_glyphs(judge, x)
    per_class = {("blank" if c == " " else c): float(np.mean(pred[y == i] == i))
                 for i, c in enumerate(GLYPH_CLASSES)}
    return {"digits": float(np.mean(pred[y < 10] == y[y < 10])),
            "all_glyphs": float(np.mean(pred == y)), "per_class": per_class,
            "n_test_digits": int(np.sum(y < 10))}


def trained_judge(bank: GlyphBank, *, seed: int, epochs: int, n_per_symbol: int = 600,
                  verbose: int | str = PROGRESS) -> tuple[keras.Model, dict[str, Any]]:
    """The judge for ``bank``, from the model cache if this configuration was trained before
    (notebooks 03 and 04 share it), otherwise trained now. Returns ``(model, info)``."""
    from .cache import load_or_train
    from .config import set_seed

    config = {"bank": bank.name, "n_bank": len(bank), "seed": seed, "epochs": epochs,
              "n_per_symbol": n_per_symbol, **JUDGE_DESIGN}

    def build() -> keras.Model:
        set_seed(seed + JUDGE_SEED_OFFSET)  # its own seed: independent of the reader's
        return build_judge(seed=seed + JUDGE_SEED_OFFSET)

    return load_or_train("judge", config, build=build,
                         train=lambda m: train_judge(m, bank, seed=seed, epochs=epochs,
                                                     n_per_symbol=n_per_symbol, verbose=verbose))
