"""A digit drawer for text-to-image: compute the answer, then draw each digit by hand.

The course's text-to-image model (:mod:`idl_utils.image_seq_models`) must learn the
arithmetic *and* the handwriting in one deterministic network, so for a given answer digit it
draws the average of the handwritings it saw: grey, and every ``7`` alike. The drawer splits
the job in two:

1. the **column model** (:mod:`idl_utils.column_model`) computes the answer's characters from
   the query text (it learns exact arithmetic from a few hundred examples);
2. a **class-conditional generator**, a conditional VAE (:class:`ConditionalVAE`) built with
   the kit's :func:`~idl_utils.builders.build_conv_net` / :func:`~idl_utils.builders.build_deconv_net`
   and trained on MNIST *training* digits, draws each answer digit from its own noise, so two
   ``7`` differ. The ``'-'`` sign and the blank come from the kit's glyph drawing
   (:func:`~idl_utils.glyphs.draw_operators`), as in :func:`~idl_utils.glyphs.render_answers`.

**Padding.** The builders work at powers of two, so digits are padded from 28x28 to 32x32
(:func:`pad_digits`) for training and cropped back (:func:`crop_digits`) when drawn.

**Post-processing, stated openly.** A VAE's decoder outputs the *mean* of its pixel
distribution, which is soft at the edges of strokes. The drawer passes it through one fixed
contrast curve (:func:`sharpen`, a logistic curve through 0 and 1). Its steepness is chosen
after training, once, so that the grey share of digits the generator draws matches that of
the MNIST *training* digits it learned from (:func:`fit_sharpness`); test digits are never
used. ``sharpness=None`` in :class:`DrawerRecipe` switches it off.

**Diversity** (:func:`same_digit_diversity`): the mean Euclidean distance between two of ten
drawings of the same digit, averaged over the digits; the same for ten real MNIST digits of a
class gives the reference.

Use :func:`trained_drawer` (cached through :func:`idl_utils.cache.load_or_train`) and
:meth:`DigitDrawer.draw`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from .builders import build_conv_net, build_deconv_net
from .column_model import ColumnDigits, column_recipe, widen_column_model
from .config import set_seed
from .generative import Sampling
from .glyphs import BLANK, IMAGE_SIZE, MINUS, GlyphBank, hash_keys, query_ids
from .glyphs import draw_operators as _draw_operators
from .image_seq_models import grey_share
from .queries import QuerySet, Split, text_to_indices
from .seq_models import predict_answers
from .training import PROGRESS, fit_timed

N_DIGITS = 10
PADDED_SIZE = 32                       # the builders' nearest power of two above 28
_PAD = (PADDED_SIZE - IMAGE_SIZE) // 2
#: steepness values :func:`fit_sharpness` chooses from (0 = the decoder's mean as it is)
SHARPNESS_GRID = (0.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 22.0, 27.0, 33.0, 40.0)
_DRAW_ROLE = 5                          # hash role of the drawer's noise (glyphs uses 1-4)


# --------------------------------------------------------------------------- images
def pad_digits(images: np.ndarray) -> np.ndarray:
    """``(n, 28, 28)`` digits (``uint8`` 0-255 or floats in [0, 1]) -> ``(n, 32, 32, 1)``
    ``float32`` in [0, 1], two blank pixels on every side."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected (n, 28, 28) digits, got {images.shape}")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    out = np.zeros((len(images), PADDED_SIZE, PADDED_SIZE, 1), dtype=np.float32)
    out[:, _PAD:_PAD + IMAGE_SIZE, _PAD:_PAD + IMAGE_SIZE, 0] = images.astype(np.float32) / scale
    return out


def crop_digits(images: np.ndarray) -> np.ndarray:
    """``(n, 32, 32, 1)`` -> ``(n, 28, 28)``: the inverse of :func:`pad_digits`."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (PADDED_SIZE, PADDED_SIZE, 1):
        raise ValueError(f"expected (n, 32, 32, 1) images, got {images.shape}")
    return images[:, _PAD:_PAD + IMAGE_SIZE, _PAD:_PAD + IMAGE_SIZE, 0]


def sharpen(images: np.ndarray, sharpness: float) -> np.ndarray:
    """A fixed contrast curve on pixels in [0, 1]: the logistic ``1 / (1 + exp(-k (p - 0.5)))``
    rescaled so 0 stays 0 and 1 stays 1 (``k = sharpness``). It pushes soft stroke edges towards
    ink or paper; it never moves a stroke. ``sharpness=0`` returns the images unchanged."""
    if sharpness < 0:
        raise ValueError(f"sharpness must be >= 0, got {sharpness}")
    images = np.asarray(images, dtype=np.float32)
    if sharpness == 0:
        return images
    lo, hi = 1 / (1 + np.exp(sharpness / 2)), 1 / (1 + np.exp(-sharpness / 2))
    curved = 1 / (1 + np.exp(-sharpness * (images - 0.5)))
    return ((curved - lo) / (hi - lo)).astype(np.float32)


def fit_sharpness(drawn: np.ndarray, real: np.ndarray,
                  grid: tuple[float, ...] = SHARPNESS_GRID) -> float:
    """The steepness from ``grid`` whose :func:`sharpen` brings the grey share of the generator's
    ``drawn`` digits closest to that of the ``real`` ones (use *training* digits: this is a
    setting, and choosing it on test digits would tune on the test)."""
    target = grey_share(real)
    return float(min(grid, key=lambda k: abs(grey_share(sharpen(drawn, k)) - target)))


# --------------------------------------------------------------------------- the generator
class ConditionalVAE(keras.Model):
    """A class-conditional VAE on 32x32 grey digits (keras-io's VAE shape: ``train_step`` and
    loss trackers, the kit's seeded :class:`~idl_utils.generative.Sampling`).

    Encoder: :func:`~idl_utils.builders.build_conv_net` on the image with its label as ten
    constant one-hot planes, ``(32, 32, 11)`` -> mean and log-variance of ``q(z | x, y)``
    ``(2 * latent_dim,)``. Decoder: :func:`~idl_utils.builders.build_deconv_net` with
    ``n_classes=10``: ``[z (latent_dim,), label]`` -> ``(32, 32, 1)`` in [0, 1]. Loss per image:
    binary cross-entropy summed over pixels + ``beta`` x KL to N(0, I). Since the decoder is
    told the digit, ``z`` is free to hold the handwriting: drawing a digit means choosing its
    label and a ``z`` from the prior."""

    def __init__(self, latent_dim: int = 16, *, width: int = 32, beta: float = 1.0, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.latent_dim, self.beta = int(latent_dim), float(beta)
        self.encoder = build_conv_net((PADDED_SIZE, PADDED_SIZE, 1 + N_DIGITS), 2 * self.latent_dim,
                                      width=width, name="encoder")
        self.decoder = build_deconv_net(self.latent_dim, image_size=PADDED_SIZE, channels=1,
                                        width=width, n_classes=N_DIGITS, name="decoder")
        self.sampling = Sampling(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.recon_loss_tracker, self.kl_loss_tracker]

    def _encode(self, x, labels, training: bool):
        planes = ops.one_hot(ops.cast(labels, "int32"), N_DIGITS)[:, None, None, :]
        planes = ops.broadcast_to(planes, (ops.shape(x)[0], PADDED_SIZE, PADDED_SIZE, N_DIGITS))
        stats = self.encoder(ops.concatenate([x, planes], axis=-1), training=training)
        # the log-variance is clipped so an early, wild step cannot overflow exp()
        return stats[:, :self.latent_dim], ops.clip(stats[:, self.latent_dim:], -12.0, 8.0)

    def call(self, inputs, training=False):
        """Reconstruct ``[images (n, 32, 32, 1), labels (n,)]`` through the posterior mean."""
        x, labels = inputs
        z_mean, _ = self._encode(x, labels, training)
        return self.decoder([z_mean, labels], training=training)

    def train_step(self, data):
        x, labels = data
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self._encode(x, labels, True)
            z = self.sampling([z_mean, z_log_var])
            recon = self.decoder([z, labels], training=True)
            bce = keras.losses.binary_crossentropy(x, recon, axis=-1)  # (n, 32, 32)
            recon_loss = ops.mean(ops.sum(bce, axis=(1, 2)))
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
            kl_loss = ops.mean(kl)
            loss = recon_loss + self.beta * kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        for tracker, value in zip(self.metrics, (loss, recon_loss, kl_loss), strict=True):
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> ConditionalVAE:
        """Build every layer (the cache loads weights into a built model)."""
        import warnings

        with warnings.catch_warnings():
            # Keras warns that a subclassed model has no build(); calling it builds every layer
            warnings.filterwarnings("ignore", message=r"`build\(\)` was called on layer")
            self([np.zeros((1, PADDED_SIZE, PADDED_SIZE, 1), "float32"), np.zeros((1,), "int32")])
        zeros = np.zeros((1, self.latent_dim), "float32")
        self.sampling([zeros, zeros])
        return self


def draw_digits(model: ConditionalVAE, labels: np.ndarray, noise: np.ndarray, *,
                temperature: float = 1.0, sharpness: float = 0.0,
                batch_size: int = 1024) -> np.ndarray:
    """Digits of class ``labels`` ``(n,)`` drawn from standard-normal ``noise``
    ``(n, latent_dim)`` (scaled by ``temperature``, the prior's spread), cropped to 28x28 and
    passed through :func:`sharpen`: ``(n, 28, 28)`` ``float32`` in [0, 1]."""
    labels = np.asarray(labels).astype("int32").reshape(-1)
    noise = np.asarray(noise, dtype=np.float32)
    if noise.shape != (len(labels), model.latent_dim):
        raise ValueError(f"need noise ({len(labels)}, {model.latent_dim}) for {len(labels)} labels, "
                         f"got {noise.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= N_DIGITS):
        raise ValueError(f"labels must be digits 0-9, got {labels.min()}..{labels.max()}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if len(labels) == 0:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    out = model.decoder.predict([temperature * noise, labels], batch_size=batch_size, verbose=0)
    return sharpen(crop_digits(out), sharpness)


def noise_for(keys: np.ndarray, latent_dim: int, seed: int) -> np.ndarray:
    """Standard-normal noise ``(n, latent_dim)``, one row per integer key in ``keys`` ``(n,)``,
    a function of ``(seed, key)`` only: a glyph gets the same handwriting in any batch."""
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    h = hash_keys(seed, _DRAW_ROLE, keys[:, None], np.arange(2 * latent_dim)[None, :])
    u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u1, u2 = u[:, :latent_dim], u[:, latent_dim:]
    return (np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)).astype(np.float32)  # Box-Muller


# --------------------------------------------------------------------------- recipe and training
@dataclass(frozen=True)
class DrawerRecipe:
    """How the drawer is trained; every field is part of its cache key.

    Generator: ``latent_dim``, ``width`` (the builders' first width), ``beta`` (KL weight),
    ``epochs``, ``batch_size``, ``learning_rate`` (Adam, cosine decay to 5%), ``n_train``
    (MNIST training digits used, ``None``: all of the bank). Drawing: ``temperature`` (the
    prior's spread), ``sharpen`` (fit the contrast curve of :func:`fit_sharpness`, or not).
    Column model: ``column_epochs`` (``None``: :func:`~idl_utils.column_model.column_recipe`'s
    own schedule) and ``column_restarts``."""

    latent_dim: int = 16
    width: int = 16
    beta: float = 1.0
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 2e-3
    n_train: int | None = None
    temperature: float = 0.5
    sharpen: bool = True
    column_epochs: int | None = None
    column_restarts: int = 3

    def with_(self, **changes: Any) -> DrawerRecipe:
        """A copy with ``changes`` (e.g. ``recipe.with_(epochs=1)``)."""
        return replace(self, **changes)


def train_digit_generator(model: ConditionalVAE, bank: GlyphBank, recipe: DrawerRecipe, *,
                          seed: int = 0, verbose: int | str = PROGRESS) -> dict[str, Any]:
    """Train ``model`` on the digits of ``bank`` (the first ``recipe.n_train``, reshuffled every
    epoch, seeded with ``seed``), then choose the contrast curve on the same training digits
    (:func:`fit_sharpness`). Returns :func:`~idl_utils.training.fit_timed`'s record plus
    ``sharpness`` and ``n_train``."""
    n = len(bank) if recipe.n_train is None else min(recipe.n_train, len(bank))
    if n < recipe.batch_size:
        raise ValueError(f"{n} training digits is fewer than one batch of {recipe.batch_size}")
    images, labels = pad_digits(bank.images[:n]), bank.labels[:n].astype("int32")
    # arrays, shuffled by Keras every epoch (an index permutation): a tf.data shuffle buffer
    # of every padded digit cost tens of seconds per epoch on a 2-core machine
    set_seed(seed)
    steps = recipe.epochs * -(-n // recipe.batch_size)
    rate = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, steps, alpha=0.05)
    record = fit_timed(model, images, labels, epochs=recipe.epochs, batch_size=recipe.batch_size,
                       shuffle=True, verbose=verbose, name="digit generator (conditional VAE)",
                       compile_args={"optimizer": keras.optimizers.Adam(rate)})
    sharpness = 0.0
    if recipe.sharpen:
        pick = np.random.default_rng([seed, 3]).choice(n, min(n, 2000), replace=False)
        drawn = draw_digits(model, labels[pick], noise_for(pick, model.latent_dim, seed + 1),
                            temperature=recipe.temperature)
        sharpness = fit_sharpness(drawn, bank.images[pick].astype(np.float32) / 255.0)
    return {**record, "sharpness": sharpness, "n_train": n}


def trained_digit_generator(bank: GlyphBank, recipe: DrawerRecipe, *, mnist_source: str, seed: int = 0,
                            verbose: int | str = PROGRESS) -> tuple[ConditionalVAE, dict[str, Any]]:
    """``(model, record)``: the drawer's conditional VAE trained on ``bank`` (MNIST training
    digits), or loaded from the model cache. ``record["sharpness"]`` is its contrast curve."""
    from .cache import load_or_train

    key = {"bank": bank.name, "n_bank": len(bank), "mnist": mnist_source, "seed": seed,
           **{k: v for k, v in asdict(recipe).items() if not k.startswith("column")}}

    def build() -> ConditionalVAE:
        set_seed(seed)
        return ConditionalVAE(recipe.latent_dim, width=recipe.width, beta=recipe.beta,
                              seed=seed).build_all()

    return load_or_train("drawer_cvae", key, build=build,
                         train=lambda m: train_digit_generator(m, bank, recipe, seed=seed,
                                                               verbose=verbose))


@dataclass
class DigitDrawer:
    """The column model and the digit generator, together: query text -> answer glyphs.

    ``column_model`` answers queries of any length (it is widened to the query's digits);
    ``generator`` draws the answer's digits with ``temperature`` and ``sharpness``
    (:func:`draw_digits`)."""

    column_model: keras.Model
    generator: ConditionalVAE
    temperature: float = 1.0
    sharpness: float = 0.0

    def answers(self, qs: QuerySet) -> np.ndarray:
        """The column model's answer strings for ``qs``, padded like ``qs.answers``."""
        model = widen_column_model(self.column_model, qs.digits)
        return predict_answers(model, ColumnDigits(), qs)

    def draw_text(self, answers: np.ndarray, keys: np.ndarray, *, seed: int = 0) -> np.ndarray:
        """Answer strings ``(n,)`` of equal length ``L`` -> glyphs ``(n, L, 28, 28)``: digits from
        the generator, ``'-'`` drawn as :func:`~idl_utils.glyphs.render_answers` draws it,
        blanks empty. ``keys`` ``(n,)`` (e.g. :func:`~idl_utils.glyphs.query_ids`) and ``seed``
        fix each glyph's handwriting; another ``seed`` draws the same answers anew."""
        idx = text_to_indices(answers, len(answers[0]) if len(answers) else 0)
        keys = np.asarray(keys, dtype=np.int64)
        if keys.shape != (len(idx),):
            raise ValueError(f"need one key per answer: {len(idx)} answers, keys {keys.shape}")
        n, length = idx.shape
        glyph_keys = keys[:, None] * length + np.arange(length)[None, :]
        out = np.zeros((n, length, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        digit = idx < 10
        out[digit] = draw_digits(self.generator, idx[digit],
                                 noise_for(glyph_keys[digit], self.generator.latent_dim, seed),
                                 temperature=self.temperature, sharpness=self.sharpness)
        minus = idx == MINUS
        if minus.any():
            out[minus] = _draw_operators(idx[minus], hash_keys(seed, _DRAW_ROLE, glyph_keys[minus]))
        unknown = ~(digit | minus | (idx == BLANK))
        if unknown.any():
            raise ValueError("answers hold only digits, '-' and blanks")
        return out

    def draw(self, qs: QuerySet, *, seed: int = 0) -> np.ndarray:
        """Answer glyphs ``(n, d+1, 28, 28)`` for the queries of ``qs``: the column model's
        answers, drawn by :meth:`draw_text` (the query's own key, so ``seed`` alone varies
        the handwriting)."""
        if len(qs) == 0:
            raise ValueError("no queries to draw answers for")
        return self.draw_text(self.answers(qs), query_ids(qs), seed=seed)


def trained_drawer(split: Split, bank: GlyphBank, recipe: DrawerRecipe, *, mnist_source: str,
                   seed: int = 0, verbose: int | str = PROGRESS) -> tuple[DigitDrawer, dict[str, Any]]:
    """``(drawer, info)``: the column model trained on ``split`` (selected on its validation
    queries, :func:`~idl_utils.column_model.column_recipe`) and the digit generator trained on
    ``bank`` (MNIST training digits), each from the model cache if trained before.
    ``info``: ``seconds`` (both trainings), ``column_seconds``, ``generator_seconds``,
    ``sharpness``, ``column_val_exact`` and the generator's ``history``."""
    from .benchmark import train_and_score

    column = column_recipe(split.train.digits, len(split.train), restarts=recipe.column_restarts)
    column = column.with_train(epochs=recipe.column_epochs, verbose=0)
    run = train_and_score(column, split, seed=seed)
    generator, gen_info = trained_digit_generator(bank, recipe, mnist_source=mnist_source, seed=seed,
                                                  verbose=verbose)
    drawer = DigitDrawer(run.model, generator, recipe.temperature, gen_info["sharpness"])
    return drawer, {"seconds": run.row["train_seconds"] + gen_info["seconds"],
                    "column_seconds": run.row["train_seconds"],
                    "generator_seconds": gen_info["seconds"], "sharpness": gen_info["sharpness"],
                    "column_exact": run.row["exact_match"], "history": gen_info["history"],
                    "epochs_run": gen_info["epochs_run"], "epochs": recipe.epochs,
                    "cached": gen_info.get("cached", False)}


# --------------------------------------------------------------------------- diversity
def mean_pairwise_distance(images: np.ndarray) -> float:
    """Mean Euclidean distance between two different images of ``images`` ``(k, 28, 28)``
    (``k >= 2``), pixels in [0, 1]."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    k = len(flat)
    if k < 2:
        raise ValueError(f"need at least 2 images to compare, got {k}")
    sq = np.sum(flat ** 2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * flat @ flat.T, 0.0)
    return float(np.sqrt(d2)[np.triu_indices(k, 1)].mean())


def same_digit_diversity(by_digit: np.ndarray) -> float:
    """``(10, sets, k, 28, 28)`` or ``(10, k, 28, 28)`` images, grouped by digit -> the mean
    pairwise distance within each group of ``k``, averaged over groups and digits."""
    by_digit = np.asarray(by_digit)
    if by_digit.ndim == 4:
        by_digit = by_digit[:, None]
    if by_digit.ndim != 5 or by_digit.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected (digits, sets, k, 28, 28) images, got {by_digit.shape}")
    return float(np.mean([mean_pairwise_distance(group) for sets in by_digit for group in sets]))


def real_digits_by_class(bank: GlyphBank, k: int = 10, sets: int = 10, *,
                         seed: int = 0) -> np.ndarray:
    """``sets`` random groups of ``k`` different real digits per class from ``bank``:
    ``(10, sets, k, 28, 28)`` in [0, 1]."""
    rng = np.random.default_rng([seed, 17])
    out = np.empty((N_DIGITS, sets, k, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for d in range(N_DIGITS):
        pool = np.flatnonzero(bank.labels == d)
        if len(pool) < k:
            raise ValueError(f"bank {bank.name!r} has {len(pool)} images of {d}, fewer than k={k}")
        for s in range(sets):
            out[d, s] = bank.images[rng.choice(pool, k, replace=False)] / 255.0
    return out


def drawn_digits_by_class(drawer: DigitDrawer, k: int = 10, sets: int = 10, *,
                          seed: int = 0) -> np.ndarray:
    """Each digit drawn ``k`` times, in ``sets`` groups, as the drawer draws answer digits:
    ``(10, sets, k, 28, 28)``."""
    labels = np.repeat(np.arange(N_DIGITS), sets * k)
    noise = noise_for(np.arange(len(labels)) + 10**12, drawer.generator.latent_dim, seed)
    images = draw_digits(drawer.generator, labels, noise, temperature=drawer.temperature,
                         sharpness=drawer.sharpness)
    return images.reshape(N_DIGITS, sets, k, IMAGE_SIZE, IMAGE_SIZE)


def diversity_report(drawer: DigitDrawer, real: GlyphBank, k: int = 10, sets: int = 10, *,
                     seed: int = 0) -> dict[str, float]:
    """Same-digit diversity of the drawer against real digits of ``real`` (:func:`same_digit_diversity`
    of :func:`drawn_digits_by_class` and :func:`real_digits_by_class`): ``{"drawer", "real",
    "ratio"}`` (drawer / real)."""
    mine = same_digit_diversity(drawn_digits_by_class(drawer, k, sets, seed=seed))
    theirs = same_digit_diversity(real_digits_by_class(real, k, sets, seed=seed))
    return {"drawer": mine, "real": theirs, "ratio": mine / theirs}
