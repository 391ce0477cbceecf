"""Convolutional autoencoder, VAE and GAN as ``keras.Model`` subclasses (keras-io style).

Each model owns its ``train_step`` and loss trackers; all three are built from the same
:mod:`idl_utils.builders` (``build_conv_net`` down, ``build_deconv_net`` up), so they differ
only in what they learn:

* :class:`ConvAutoencoder` -- image -> code -> image, trained to reconstruct (no sampling).
* :class:`VAE` -- the encoder outputs a Gaussian ``N(mean, exp(log_var))``; a sample of it is
  decoded; loss = reconstruction + beta * KL(q(z|x) || N(0, I)), both tracked.
* :class:`GAN` -- a generator maps noise to images, a discriminator tells real from fake;
  separate optimisers, one-sided label smoothing and label noise as stabilisers. Options (off by
  default): an exponential moving average of the generator's weights (``ema_decay``) and
  DiffAugment before the discriminator (``diffaug``, :mod:`idl_utils.diffaugment`);
  :func:`discriminator_gap` checks whether the discriminator memorises the training images.

:func:`train_generative` fits any of them on an image array with a seeded shuffle and
returns a JSON-able record (history, seconds, seconds per epoch) for :func:`cache.load_or_train`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from .builders import (
    build_conv_net,
    build_course_conv_net,
    build_course_deconv_net,
    build_deconv_net,
    check_image_size,
    check_latent_dim,
)
from .diffaugment import diff_augment, parse_policy
from .training import PROGRESS, average_batch_norm, fit_timed


def _nets(image_size: int, latent_dim: int, encoder_out: int, *, course: bool, width: int,
          enc_out_activation: str | None = None, enc_norm: str = "batch", dropout: float = 0.0,
          enc_options: dict[str, Any] | None = None, dec_options: dict[str, Any] | None = None):
    check_image_size(image_size)
    check_latent_dim(latent_dim)
    depth = int(np.log2(image_size)) - 2
    if course:
        # the course's layers; a linear output (codes, mean/log-variance, logits) as the losses need
        enc = build_course_conv_net((image_size, image_size, 3), encoder_out, depth, enc_out_activation)
        dec = build_course_deconv_net(latent_dim, depth, "sigmoid")
    else:
        enc = build_conv_net((image_size, image_size, 3), encoder_out, None, enc_out_activation,
                             **{"width": width, **(enc_options or {})}, norm=enc_norm, dropout=dropout,
                             name="encoder")
        dec = build_deconv_net(latent_dim, None, "sigmoid", image_size=image_size,
                               **{"width": width, **(dec_options or {})}, name="decoder")
    return enc, dec


SIGMA_LOSSES = ("sigma", "sigma-optimal")   # the VAE's Gaussian likelihoods with one shared sigma
VAE_LOSSES = ("bce", "mse", *SIGMA_LOSSES)
MIN_LOG_SIGMA = -6.0                         # as Rybkin et al.: sigma never below exp(-6)


def _image_loss(x, y, kind: str):
    """Per-image reconstruction loss summed over pixels: ``(batch,)``."""
    if kind == "bce":
        per_pixel = keras.losses.binary_crossentropy(x[..., None], y[..., None])
    elif kind == "mse":
        per_pixel = ops.square(x - y)
    else:
        raise ValueError(f"reconstruction loss must be 'bce' or 'mse', got {kind!r}")
    return ops.sum(ops.reshape(per_pixel, (ops.shape(x)[0], -1)), axis=1)


# --------------------------------------------------------------------------- autoencoder

class ConvAutoencoder(keras.Model):
    """Deterministic autoencoder: ``encoder`` image -> ``(latent_dim,)`` code, ``decoder`` code
    -> image. ``course=True`` builds both with the assignment's builders."""

    def __init__(self, image_size: int = 64, latent_dim: int = 64, *, course: bool = False,
                 width: int = 32, loss: str = "bce", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_size, self.latent_dim, self.loss_kind = image_size, latent_dim, loss
        self.encoder, self.decoder = _nets(image_size, latent_dim, latent_dim, course=course, width=width,
                                           enc_out_activation=None)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker]

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            recon = self(x, training=True)
            loss = ops.mean(_image_loss(x, recon, self.loss_kind))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(ops.mean(ops.square(x - recon)))
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> ConvAutoencoder:
        self(np.zeros((1, self.image_size, self.image_size, 3), "float32"))
        return self


def reconstruction_errors(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Mean squared error per image ``(n,)`` of an autoencoder's (or VAE's mean) reconstruction."""
    recon = reconstruct(model, images, batch_size)
    return np.mean((recon - images) ** 2, axis=(1, 2, 3))


def reconstruct(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Reconstructions ``(n, h, w, 3)``; for a VAE the decoded posterior mean (no sampling)."""
    codes = encode(model, images, batch_size)
    return model.decoder.predict(codes, batch_size=batch_size, verbose=0)


def encode(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Latent codes ``(n, latent_dim)``: the code of an autoencoder, the mean of a VAE."""
    out = model.encoder.predict(images, batch_size=batch_size, verbose=0)
    return out[:, : model.latent_dim]


# --------------------------------------------------------------------------- VAE

class Sampling(layers.Layer):
    """``z = mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)`` from a seeded generator
    (the reparameterisation trick: the randomness is an input, so gradients flow to mean and
    log_var)."""

    def __init__(self, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps


def _soft_min(x, low: float):
    """``x`` kept above ``low`` smoothly (``low + softplus(x - low)``), so gradients never stop."""
    return low + ops.softplus(x - low)


class VAE(keras.Model):
    """Variational autoencoder. The encoder outputs ``2 * latent_dim`` numbers: the mean and
    log-variance of ``q(z|x)``. Loss per image: reconstruction (summed over pixels) +
    ``beta`` * KL to the prior N(0, I); both terms are tracked.

    ``loss`` is the reconstruction term: ``"bce"`` (binary cross-entropy per pixel), ``"mse"``
    (squared error), or a σ-VAE's Gaussian negative log-likelihood (Rybkin et al., 2021,
    "Simple and Effective VAE Training with Calibrated Decoders"): with ``D`` pixels x channels,
    ``sum((x - x_hat)^2) / (2 sigma^2) + D log(sigma) + D/2 log(2 pi)``, one ``sigma`` shared by
    every pixel. ``"sigma"`` learns ``log(sigma)`` as a weight (starting at sigma = 1);
    ``"sigma-optimal"`` sets it, every batch, to its best value ``sqrt(mean squared error)``
    (no gradient through it). Either way ``sigma`` (kept above ``exp(-6)``) is tracked as a
    metric. The calibrated likelihood balances reconstruction and KL by itself, which is what
    ``beta`` does by hand for ``"bce"``/``"mse"``; the total loss can be negative."""

    def __init__(self, image_size: int = 64, latent_dim: int = 64, *, beta: float = 1.0,
                 course: bool = False, width: int = 32, loss: str = "bce", seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if loss not in VAE_LOSSES:
            raise ValueError(f"the VAE's reconstruction loss must be one of {VAE_LOSSES}, got {loss!r}")
        self.image_size, self.latent_dim, self.beta, self.loss_kind = image_size, latent_dim, beta, loss
        self.encoder, self.decoder = _nets(image_size, latent_dim, 2 * latent_dim, course=course,
                                           width=width, enc_out_activation=None)
        self.sampling = Sampling(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        # created only for a sigma loss, so that other VAEs keep exactly their weights and metrics
        if loss == "sigma":
            self.log_sigma = self.add_weight(shape=(), initializer="zeros", name="log_sigma")
        if loss in SIGMA_LOSSES:
            self.sigma_tracker = keras.metrics.Mean(name="sigma")

    @property
    def metrics(self):
        trackers = [self.total_loss_tracker, self.recon_loss_tracker, self.kl_loss_tracker]
        return trackers + ([self.sigma_tracker] if self.loss_kind in SIGMA_LOSSES else [])

    def reconstruction_loss(self, x, recon):
        """Mean over the batch of the per-image reconstruction term, and the sigma used
        (``None`` for ``"bce"``/``"mse"``)."""
        if self.loss_kind not in SIGMA_LOSSES:
            return ops.mean(_image_loss(x, recon, self.loss_kind)), None
        squared = ops.square(x - recon)
        if self.loss_kind == "sigma":
            log_sigma = _soft_min(self.log_sigma, MIN_LOG_SIGMA)
        else:
            log_sigma = _soft_min(0.5 * ops.log(ops.stop_gradient(ops.mean(squared))), MIN_LOG_SIGMA)
        per_image = ops.sum(ops.reshape(squared, (ops.shape(x)[0], -1)), axis=1)
        n_values = float(np.prod(x.shape[1:]))
        nll = per_image / (2.0 * ops.exp(2.0 * log_sigma)) + n_values * (log_sigma + 0.5 * np.log(2 * np.pi))
        return ops.mean(nll), ops.exp(log_sigma)

    def split(self, stats):
        # the log-variance is clipped so an early, wild step cannot overflow exp()
        return stats[:, : self.latent_dim], ops.clip(stats[:, self.latent_dim:], -12.0, 8.0)

    def call(self, x, training=False):
        z_mean, z_log_var = self.split(self.encoder(x, training=training))
        z = self.sampling([z_mean, z_log_var]) if training else z_mean
        return self.decoder(z, training=training)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.split(self.encoder(x, training=True))
            z = self.sampling([z_mean, z_log_var])
            recon = self.decoder(z, training=True)
            recon_loss, sigma = self.reconstruction_loss(x, recon)
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
            kl_loss = ops.mean(kl)
            loss = recon_loss + self.beta * kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(loss)
        self.recon_loss_tracker.update_state(recon_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        if sigma is not None:
            self.sigma_tracker.update_state(sigma)
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> VAE:
        import warnings

        with warnings.catch_warnings():
            # Keras warns that a subclassed model has no build(); calling it builds every layer
            warnings.filterwarnings("ignore", message=r"`build\(\)` was called on layer")
            self(np.zeros((1, self.image_size, self.image_size, 3), "float32"))
        zeros = np.zeros((1, self.latent_dim), "float32")
        self.sampling([zeros, zeros])  # builds the seed generator's state too
        return self


# --------------------------------------------------------------------------- GAN

GAN_LOSSES = ("bce", "hinge")


class GAN(keras.Model):
    """DCGAN-style GAN. ``generator``: noise ``(latent_dim,)`` -> image in [0, 1];
    ``discriminator``: image -> one logit (real > 0). Compile with two optimisers:
    ``gan.compile(d_optimizer=..., g_optimizer=...)``.

    Stabilisers: one-sided label smoothing (real targets ``1 - label_smoothing``), a little
    label noise (``label_noise``), no normalisation in the discriminator (optional
    ``dropout`` before its last layer; 0 trained faster here) and Adam with ``beta_1 = 0.5``
    (see :func:`train_generative`).

    Options, off by default (the model, its weights and its numbers are then exactly those
    without them):

    * ``ema_decay`` (e.g. 0.999): keep ``ema_generator``, an exponential moving average of the
      generator's weights, ``ema = d * ema + (1 - d) * weights`` after every generator update
      (non-trainable weights such as batch-norm statistics are copied). It does not change
      training; :func:`generate`, :func:`decode` and :class:`GANMonitor` then sample from it
      (``raw=True`` for the trained generator itself). Averaging smooths out the generator's
      oscillation around the equilibrium (Yazıcı et al., 2019). With ``ema_warmup`` (default)
      the ``t``-th update uses ``d = min(ema_decay, (1 + t) / (10 + t))``, as TensorFlow's
      ``ExponentialMovingAverage`` does with ``num_updates``: early on the average follows the
      generator closely instead of holding on to its random initial weights for ~1/(1 - d)
      updates, which matters in short runs.
    * ``diffaug`` (e.g. ``"color,translation,cutout"``): :func:`~idl_utils.diffaugment.diff_augment`
      real and generated batches every time the discriminator sees them, in both updates, with
      its own seeded random stream. ``d_real_prob``/``d_fake_prob`` are then on augmented images.
    * ``g_width`` / ``d_width``: the generator's / discriminator's first-layer width (default
      ``width`` for both); ``g_widths`` / ``d_widths``: one width per layer instead (see
      :func:`~idl_utils.builders.build_deconv_net` and :func:`~idl_utils.builders.build_conv_net`).
      The generator costs most of a step, so a narrower one buys more updates.
    * ``loss``: ``"bce"`` (default: the non-saturating loss with the label smoothing and noise
      above; ``label_smoothing=0, label_noise=0`` for the plain one) or ``"hinge"`` (Lim & Ye,
      2017; Miyato et al., 2018): the discriminator minimises ``relu(1 - D(real)) +
      relu(1 + D(fake))``, the generator ``-D(fake)``; smoothing and noise do not apply.
    * ``spectral_norm=True``: Keras' ``SpectralNormalization`` on every discriminator layer.
    * ``r1_gamma`` (e.g. 0.1): the R1 penalty (Mescheder et al., 2018) on real images,
      ``gamma / 2 * E ||grad_x D(x)||^2``, computed lazily every ``r1_every`` discriminator
      updates and then weighted by ``r1_every`` (Karras et al., 2020), so that it costs about
      ``1 / r1_every`` of a double backpropagation per step; tracked as ``r1_penalty``.
    * ``n_classes``: a class-conditional GAN. The generator takes ``[noise, labels]`` (a label
      embedding beside the noise), the discriminator ``[images, labels]`` (a projection
      discriminator). Train on ``(images, labels)`` batches (:func:`train_generative` with
      ``labels=``); each batch's fakes are drawn for the real batch's labels, so classes are
      generated as often as they occur. :func:`generate` draws labels in proportion to their
      training frequency (``label_frequencies``, set by :func:`train_generative`) unless given.
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 128, *, course: bool = False,
                 width: int = 32, label_smoothing: float = 0.1, label_noise: float = 0.05,
                 dropout: float = 0.0, seed: int = 0, ema_decay: float | None = None,
                 ema_warmup: bool = True, diffaug: str = "", g_width: int | None = None,
                 d_width: int | None = None, g_widths: Sequence[int] | None = None,
                 d_widths: Sequence[int] | None = None, loss: str = "bce", spectral_norm: bool = False,
                 r1_gamma: float = 0.0, r1_every: int = 16, n_classes: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (e.g. 0.999), or None for no average; "
                             f"got {ema_decay}")
        if loss not in GAN_LOSSES:
            raise ValueError(f"the GAN's loss must be one of {GAN_LOSSES}, got {loss!r}")
        if r1_gamma < 0 or r1_every < 1:
            raise ValueError(f"r1_gamma must be >= 0 and r1_every >= 1, got {r1_gamma} and {r1_every}")
        kit_options = {"g_width": g_width, "d_width": d_width, "g_widths": g_widths, "d_widths": d_widths,
                       "spectral_norm": spectral_norm or None, "n_classes": n_classes}
        if course and any(v is not None for v in kit_options.values()):
            raise ValueError("the course's builders have fixed widths and no spectral norm or classes: "
                             f"leave {', '.join(k for k, v in kit_options.items() if v is not None)} "
                             "unset with course=True")
        self.image_size, self.latent_dim = image_size, latent_dim
        self.label_smoothing, self.label_noise = label_smoothing, label_noise
        self.ema_decay, self.ema_warmup = ema_decay, ema_warmup
        self.diffaug = ",".join(parse_policy(diffaug))
        self.loss_kind, self.r1_gamma, self.r1_every = loss, float(r1_gamma), int(r1_every)
        self.n_classes = n_classes
        # only options that are set reach the builders: other GANs keep exactly their networks
        d_opts = {k: v for k, v in (("width", d_width), ("widths", d_widths),
                                    ("spectral_norm", spectral_norm or None), ("n_classes", n_classes))
                  if v is not None}
        g_opts = {k: v for k, v in (("width", g_width), ("widths", g_widths), ("n_classes", n_classes))
                  if v is not None}
        self.discriminator, self.generator = _nets(image_size, latent_dim, 1, course=course, width=width,
                                                   enc_out_activation=None, enc_norm="none", dropout=dropout,
                                                   enc_options=d_opts, dec_options=g_opts)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # the options' state exists only when they are on: other GANs keep exactly their weights
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.trainable = False
            self.ema_updates = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                               name="ema_updates")
        if self.diffaug:
            # a separate stream: the noise and label draws stay those of the same GAN without it
            self.augment_seed = keras.random.SeedGenerator(seed + 1)
        if n_classes is not None:
            self.label_frequencies = self.add_weight(
                shape=(n_classes,), initializer=keras.initializers.Constant(1.0 / n_classes),
                trainable=False, name="label_frequencies")
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real_prob")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake_prob")
        if self.r1_gamma:
            self.r1_tracker = keras.metrics.Mean(name="r1_penalty")

    def compile(self, d_optimizer, g_optimizer, **kwargs: Any) -> None:
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]
        return trackers + ([self.r1_tracker] if self.r1_gamma else [])

    @property
    def conditional(self) -> bool:
        return self.n_classes is not None

    @property
    def sampler(self) -> keras.Model:
        """The network that turns noise into samples: ``ema_generator`` when the GAN keeps a
        moving average of its generator (``ema_decay``), else ``generator``."""
        return self.ema_generator if self.ema_decay is not None else self.generator

    def set_label_frequencies(self, labels: np.ndarray) -> None:
        """Record how often each class occurs in the training ``labels`` ``(n,)``: :func:`generate`
        draws labels in these proportions (a conditional GAN only)."""
        if not self.conditional:
            raise TypeError("only a conditional GAN (n_classes=...) has label frequencies")
        labels = np.asarray(labels).astype("int64").reshape(-1)
        if len(labels) == 0 or labels.min() < 0 or labels.max() >= self.n_classes:
            raise ValueError(f"labels must be integers in [0, {self.n_classes}), got "
                             f"{'none' if len(labels) == 0 else f'{labels.min()}..{labels.max()}'}")
        counts = np.bincount(labels, minlength=self.n_classes).astype("float32")
        self.label_frequencies.assign(counts / counts.sum())

    def _inputs(self, x, labels):
        return [x, labels] if self.conditional else x

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def augment(self, images):
        """``images`` as the discriminator sees them: DiffAugmented when ``diffaug`` is set."""
        return diff_augment(images, self.diffaug, self.augment_seed) if self.diffaug else images

    def update_ema(self) -> None:
        """One step of the moving average: ``ema = d * ema + (1 - d) * w`` for the generator's
        trainable weights (``d``: ``ema_decay``, or less in the warm-up); its other weights
        (batch-norm statistics) are copied."""
        decay = self.ema_decay
        if self.ema_warmup:
            t = self.ema_updates
            decay = ops.minimum(decay, (1.0 + t) / (10.0 + t))
        self.ema_updates.assign_add(1.0)
        for average, weight in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            if weight.trainable:
                average.assign(decay * average + (1.0 - decay) * weight)
            else:
                average.assign(weight)

    def d_losses(self, real_logits, fake_logits, batch):
        """The discriminator's loss for one batch of real and one of fake logits."""
        if self.loss_kind == "hinge":
            return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))
        # real -> (smoothed) 1, fake -> 0, with a little label noise
        real_t = (1.0 - self.label_smoothing) - self.label_noise * keras.random.uniform(
            (batch, 1), seed=self.seed_generator)
        fake_t = self.label_noise * keras.random.uniform((batch, 1), seed=self.seed_generator)
        return self.bce(real_t, real_logits) + self.bce(fake_t, fake_logits)

    def g_losses(self, logits, batch):
        """The generator's loss: make the discriminator say "real" (non-saturating, or hinge's
        ``-D(fake)``)."""
        if self.loss_kind == "hinge":
            return -ops.mean(logits)
        return self.bce(ops.ones((batch, 1)), logits)

    def r1_gradients(self, real, labels):
        """The R1 penalty ``E ||grad_x D(x)||^2`` on ``real`` and the gradients of
        ``r1_every * r1_gamma / 2`` times it with respect to the discriminator's weights."""
        weights = self.discriminator.trainable_weights
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(real)
                total = ops.sum(self.discriminator(self._inputs(real, labels), training=True))
            slopes = inner.gradient(total, real)
            penalty = ops.mean(ops.sum(ops.square(slopes), axis=[1, 2, 3]))
            scaled = 0.5 * self.r1_gamma * self.r1_every * penalty
        grads = tape.gradient(scaled, weights)
        # dense tensors in both tf.cond branches: a zero where the penalty does not depend on a
        # weight (the output bias), and a label embedding's sparse gradient made dense
        return [ops.zeros_like(w) if g is None else tf.convert_to_tensor(g)
                for g, w in zip(grads, weights, strict=True)], penalty

    def train_step(self, data):
        real, labels = (data[0], data[1]) if isinstance(data, (tuple, list)) else (data, None)
        if self.conditional and labels is None:
            raise ValueError("a conditional GAN trains on (images, labels) batches: "
                             "train_generative(gan, images, labels=labels, ...)")
        batch = ops.shape(real)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(self._inputs(noise, labels), training=True)
        # 1) discriminator: real -> "real", fake -> "fake"
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(self._inputs(self.augment(real), labels), training=True)
            fake_logits = self.discriminator(self._inputs(self.augment(fake), labels), training=True)
            d_loss = self.d_losses(real_logits, fake_logits, batch)
        d_weights = self.discriminator.trainable_weights
        grads = tape.gradient(d_loss, d_weights)
        if self.r1_gamma:
            due = ops.equal(self.d_optimizer.iterations % self.r1_every, 0)
            r1_grads, penalty = tf.cond(
                due, lambda: self.r1_gradients(real, labels),
                lambda: ([ops.zeros_like(w) for w in d_weights], ops.zeros(())))
            grads = [g + r for g, r in zip(grads, r1_grads, strict=True)]
            self.r1_tracker.update_state(penalty, sample_weight=ops.cast(due, "float32"))
        self.d_optimizer.apply_gradients(zip(grads, d_weights, strict=True))
        # 2) generator: make the discriminator say "real"; the augmentation is
        # differentiable, so its gradients reach the generator through it
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self.generator(self._inputs(noise, labels), training=True)
            logits = self.discriminator(self._inputs(self.augment(fake), labels), training=True)
            g_loss = self.g_losses(logits, batch)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=True))
        if self.ema_decay is not None:
            self.update_ema()
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> GAN:
        labels = np.zeros((1,), "int32")
        self(self._inputs(np.zeros((1, self.latent_dim), "float32"), labels))
        image = np.zeros((1, self.image_size, self.image_size, 3), "float32")
        self.discriminator(self._inputs(image, labels))
        return self


def recalibrate_batch_norm(gan: GAN, n: int = 4096, seed: int = 0, batch_size: int = 256, *,
                           raw: bool = False) -> GAN:
    """Set the batch-normalisation statistics of the GAN's sampler (:attr:`GAN.sampler`, or the
    trained generator with ``raw=True``) to their values for its final weights: the average over
    ``n`` seeded noise vectors (with labels in training proportions for a conditional GAN) of
    each layer's batch mean and variance, in batches of ``batch_size``. Returns ``gan``.

    Why: a generator trains on batch statistics but samples with moving averages (Keras'
    momentum 0.99, about the last 100 steps), which lag behind weights that keep moving -- and
    a moving average of the weights (``ema_decay``) has no statistics of its own at all (they are
    copied from the trained generator). Computing them afresh for the weights that sample is
    cheap (a few forward passes) and deterministic: calling it again gives the same numbers."""
    from .latent import sample_latent

    net = gan.generator if raw else gan.sampler
    z = sample_latent(n, gan.latent_dim, seed)
    labels = sample_labels(gan, n, seed) if gan.conditional else None
    average_batch_norm(net, (z[start:start + batch_size] if labels is None else
                             [z[start:start + batch_size], labels[start:start + batch_size]]
                             for start in range(0, n, batch_size)))
    return gan


def discriminator_gap(gan: GAN, train_images: np.ndarray, heldout_images: np.ndarray,
                      batch_size: int = 256, *, train_labels: np.ndarray | None = None,
                      heldout_labels: np.ndarray | None = None) -> dict[str, float]:
    """Is the discriminator memorising the training images? Its mean "real" probability
    (``sigmoid`` of its logit, no augmentation) and its accuracy (share called real, logit > 0)
    on real images it was trained on, ``train_images``, and on real images it never saw,
    ``heldout_images`` (both ``(n, h, w, 3)`` in [0, 1]), and ``gap`` = train minus held-out
    probability. A gap near 0: it judges unseen real images like training ones; a growing gap
    (Karras et al., 2020, watch it to decide when to augment) means it has learnt the training
    set rather than what real images look like, and its gradients mislead the generator.
    A conditional GAN's discriminator also needs each set's labels (``train_labels``,
    ``heldout_labels``)."""
    out: dict[str, float] = {}
    for name, images, labels in (("train", train_images, train_labels),
                                 ("heldout", heldout_images, heldout_labels)):
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(f"{name} images must be a non-empty batch (n, h, w, 3), "
                             f"got shape {images.shape}")
        if gan.conditional and (labels is None or len(labels) != len(images)):
            raise ValueError(f"a conditional GAN's discriminator needs the {name} images' labels "
                             f"({name}_labels=..., one per image)")
        inputs = [images, np.asarray(labels, "int32")] if gan.conditional else images
        logits = gan.discriminator.predict(inputs, batch_size=batch_size, verbose=0).reshape(-1)
        out[f"{name}_real_prob"] = float(np.mean(1.0 / (1.0 + np.exp(-logits.astype("float64")))))
        out[f"{name}_accuracy"] = float(np.mean(logits > 0))
    out["gap"] = out["train_real_prob"] - out["heldout_real_prob"]
    return out


class GANMonitor(keras.callbacks.Callback):
    """Generate images from the same fixed noise after every epoch, so progress is visible
    (from :attr:`GAN.sampler`: the moving average of the generator when the GAN keeps one).
    Keeps them in ``self.samples`` (uint8) and, given ``out_dir``, writes
    ``epoch_001.png``, ... there. A conditional GAN draws image ``i`` for ``labels[i]``
    (default: the classes in turn, ``i % n_classes``)."""

    def __init__(self, noise: np.ndarray, out_dir: str | Path | None = None, ncols: int = 8,
                 labels: np.ndarray | None = None) -> None:
        super().__init__()
        self.noise, self.ncols = np.asarray(noise, dtype="float32"), ncols
        self.labels = None if labels is None else np.asarray(labels, dtype="int32")
        self.out_dir = Path(out_dir) if out_dir else None
        self.samples: list[np.ndarray] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from PIL import Image

        from .image_data import image_grid

        model = self.model
        inputs = self.noise
        if getattr(model, "conditional", False):
            labels = np.arange(len(self.noise)) % model.n_classes if self.labels is None else self.labels
            inputs = [self.noise, labels.astype("int32")]
        images = model.sampler.predict(inputs, verbose=0)
        self.samples.append(np.round(np.clip(images, 0, 1) * 255).astype(np.uint8))
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            grid = np.round(image_grid(images, self.ncols) * 255).astype(np.uint8)
            Image.fromarray(grid).save(self.out_dir / f"epoch_{epoch + 1:03d}.png")


class WeightSnapshots(keras.callbacks.Callback):
    """Save the model's weights after each epoch in ``epochs`` (counted from 1) as
    ``<folder>/epoch_008.weights.h5``, written atomically. One 20-epoch run then also gives
    the same run after 8 epochs -- to compare with a slower model at an equal budget without
    training twice. Read them back with :func:`load_snapshot`."""

    def __init__(self, epochs: Iterable[int], folder: str | Path) -> None:
        super().__init__()
        self.epochs, self.folder = {int(e) for e in epochs}, Path(folder)
        if any(e < 1 for e in self.epochs):
            raise ValueError(f"snapshot epochs count from 1, got {sorted(self.epochs)}")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 not in self.epochs:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        final = snapshot_path(self.folder, epoch + 1)
        tmp = final.with_name(f".tmp-{final.name}")
        self.model.save_weights(tmp)
        os.replace(tmp, final)


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall-clock time have passed since it began, at the end
    of the step (or group of ``steps_per_execution`` steps) that crosses the line, so that
    variants can be compared at an equal time budget (tracing the first step counts too).
    Train with more epochs than the budget allows; ``seconds`` then holds the time taken."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"a time budget must be > 0 seconds, got {seconds}")
        self.budget, self.seconds, self._start = float(seconds), 0.0, 0.0

    def on_train_begin(self, logs=None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.seconds = time.perf_counter() - self._start
        if self.seconds >= self.budget:
            self.model.stop_training = True


def steps_taken(model: keras.Model) -> int:
    """Training steps ``model`` has taken: its optimiser's step counter (a GAN's generator
    optimiser: one step updates both networks once)."""
    optimizer = model.g_optimizer if isinstance(model, GAN) else model.optimizer
    return int(optimizer.iterations.numpy())


class StepBudget(keras.callbacks.Callback):
    """Stop training after ``steps`` training steps (batches), counted across epochs, at the
    end of the step (or group of ``steps_per_execution`` steps) that reaches it: the
    reproducible counterpart of :class:`TimeBudget` (a step count does not depend on what else
    the machine runs). Train with more epochs than the budget needs; ``steps`` then holds the
    steps taken in this fit (:func:`steps_taken`) and ``seconds`` their wall time."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"a step budget must be an integer >= 1, got {steps!r}")
        self.budget, self.steps, self.seconds = int(steps), 0, 0.0
        self._before, self._start = 0, 0.0

    def on_train_begin(self, logs=None) -> None:
        self._start = time.perf_counter()
        self._before = steps_taken(self.model)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        # the optimiser's counter, not ``batch``: with steps_per_execution, the last group of an
        # epoch may run fewer steps than its batch index says
        self.steps = steps_taken(self.model) - self._before
        self.seconds = time.perf_counter() - self._start
        if self.steps >= self.budget:
            self.model.stop_training = True


def snapshot_path(folder: str | Path, epoch: int) -> Path:
    """Where :class:`WeightSnapshots` keeps the weights after ``epoch``."""
    return Path(folder) / f"epoch_{int(epoch):03d}.weights.h5"


def load_snapshot(model: keras.Model, folder: str | Path, epoch: int) -> keras.Model:
    """Load the weights :class:`WeightSnapshots` saved after ``epoch`` into the *built*
    ``model`` (same class and settings) and return it."""
    path = snapshot_path(folder, epoch)
    if not path.exists():
        raise FileNotFoundError(
            f"no weights saved after epoch {epoch} in {folder}: train with "
            f"WeightSnapshots([{epoch}], folder) in the callbacks (or retrain with IDL_RETRAIN=1)")
    model.load_weights(path)
    return model


def sample_labels(model: GAN, n: int, seed: int = 0) -> np.ndarray:
    """``n`` class labels ``(n,)`` for a conditional GAN, drawn (seeded) in proportion to the
    classes' training frequencies (:meth:`GAN.set_label_frequencies`)."""
    if not getattr(model, "conditional", False):
        raise TypeError("only a conditional GAN (n_classes=...) samples labels")
    p = np.asarray(model.label_frequencies.numpy(), dtype="float64")
    return np.random.default_rng(seed).choice(model.n_classes, size=n, p=p / p.sum()).astype("int32")


PRIORS = ("normal", "gmm", "gaussian")


def generate(model: keras.Model, n: int, seed: int = 0, batch_size: int = 256, *,
             prior: str = "normal", images: np.ndarray | None = None, n_components: int = 10,
             raw: bool = False, labels: np.ndarray | None = None) -> np.ndarray:
    """``n`` images ``(n, h, w, 3)`` in [0, 1] from a generative model, seeded: the kit's one
    way to sample. ``prior`` says where the latent vectors come from:

    * ``"normal"``: ``N(0, I)`` through the decoder of a VAE or the generator of a GAN. A GAN
      with ``ema_decay`` samples from its averaged generator unless ``raw=True``; a conditional
      GAN draws image ``i`` of class ``labels[i]`` (default: :func:`sample_labels`, in training
      proportions);
    * ``"gmm"``: a second-stage prior for an autoencoder (VAE or CAE): a Gaussian mixture of
      ``n_components`` fitted to its codes of ``images`` (:func:`idl_utils.latent.fit_latent_gmm`;
      a VAE's codes are its encoder means);
    * ``"gaussian"``: one Gaussian (full covariance) fitted to an autoencoder's codes of
      ``images`` -- the least a plain CAE, which has no prior, needs to be sampled at all.

    A GAN has no encoder and so no codes of real images: it takes ``"normal"`` only."""
    if prior == "normal" and getattr(model, "conditional", False) and labels is None:
        labels = sample_labels(model, n, seed)
    z = latent_codes(model, n, seed, prior=prior, images=images, n_components=n_components)
    return decode(model, z, batch_size, raw=raw, labels=labels)


def latent_codes(model: keras.Model, n: int, seed: int = 0, *, prior: str = "normal",
                 images: np.ndarray | None = None, n_components: int = 10) -> np.ndarray:
    """``n`` latent vectors ``(n, latent_dim)`` float32 drawn, seeded, from ``prior`` (see
    :func:`generate`, which decodes them)."""
    from .latent import fit_latent_gmm, sample_latent, sample_latent_gmm

    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    if prior == "normal":
        return sample_latent(n, model.latent_dim, seed)
    if isinstance(model, GAN):
        raise TypeError(f"prior={prior!r} needs an autoencoder (VAE or CAE) whose encoder gives codes "
                        "of real images; a GAN has none: use generate(gan, n) instead")
    if images is None:
        raise ValueError(f"prior={prior!r} fits the model's codes of real images: pass images=")
    codes = encode(model, images)
    if prior == "gmm":
        return sample_latent_gmm(fit_latent_gmm(codes, min(n_components, len(images)), seed), n, seed)
    z = np.random.default_rng(seed).multivariate_normal(codes.mean(0), np.cov(codes, rowvar=False), n)
    return z.astype("float32")


def interpolation_rows(models: dict[str, keras.Model], steps: int = 10, seed: int = 0, *,
                       vae_prior: str = "normal", images: np.ndarray | None = None,
                       n_components: int = 10) -> dict[str, np.ndarray]:
    """For each model (label -> VAE or GAN), ``steps`` images ``(steps, h, w, 3)`` decoded along
    the linear and along the spherical path between two random codes (rows ``"<label> linear"``
    and ``"<label> spherical"``). The two end points come from the prior the model is sampled
    from: ``vae_prior`` for a VAE (see :func:`generate`), ``N(0, I)`` for a GAN (a conditional
    GAN keeps one class, drawn in training proportions, along the whole path)."""
    from .latent import interpolate_linear, interpolate_spherical

    rows = {}
    for label, model in models.items():
        prior = vae_prior if isinstance(model, VAE) else "normal"
        z0, z1 = latent_codes(model, 2, seed, prior=prior, images=images, n_components=n_components)
        # a conditional GAN walks between two codes within one class
        conditional = getattr(model, "conditional", False)
        labels = np.repeat(sample_labels(model, 1, seed), steps) if conditional else None
        rows[f"{label} linear"] = decode(model, interpolate_linear(z0, z1, steps), labels=labels)
        rows[f"{label} spherical"] = decode(model, interpolate_spherical(z0, z1, steps), labels=labels)
    return rows


def training_columns(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model (name -> training record): its epochs and seconds per epoch, as extra columns
    of a score table (:func:`idl_utils.scores.score_table`)."""
    return {name: {"epochs": r["epochs"], "s/epoch": round(r["seconds_per_epoch"], 1)}
            for name, r in records.items()}


def training_summary(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model (name -> training record): epochs, training seconds and seconds per epoch, for
    the results file and the timings table."""
    return {name: {"epochs": r["epochs"], "train_seconds": round(r["seconds"], 1),
                   "epoch_seconds": round(r["seconds_per_epoch"], 2)} for name, r in records.items()}


def generate_by_class(model: GAN, n_per_class: int, seed: int = 0, *, raw: bool = False) -> np.ndarray:
    """A conditional GAN's samples class by class: ``(n_classes, n_per_class, h, w, 3)``, row
    ``k`` drawn for class ``k``. Every row uses the same ``n_per_class`` seeded noise vectors, so
    a column shows what the label alone changes."""
    from .latent import sample_latent

    if not getattr(model, "conditional", False):
        raise TypeError("generate_by_class needs a conditional GAN (n_classes=...); use generate() otherwise")
    z = sample_latent(n_per_class, model.latent_dim, seed)
    zs = np.tile(z, (model.n_classes, 1))
    labels = np.repeat(np.arange(model.n_classes), n_per_class)
    images = decode(model, zs, raw=raw, labels=labels)
    return images.reshape(model.n_classes, n_per_class, *images.shape[1:])


def class_rows(model: GAN, label_names: Sequence[str], n_per_class: int,
               seed: int = 0) -> dict[str, np.ndarray]:
    """A conditional GAN's samples as labelled rows for :func:`idl_utils.image_data.plot_image_rows`:
    ``label_names[k] -> (n_per_class, h, w, 3)`` for every class ``k`` that occurred in training
    (the same noise in every row, :func:`generate_by_class`)."""
    if len(label_names) < getattr(model, "n_classes", 0):
        raise ValueError(f"{len(label_names)} label names for a GAN of {model.n_classes} classes")
    by_class = generate_by_class(model, n_per_class, seed)
    seen = np.asarray(model.label_frequencies.numpy()) > 0
    return {label_names[k]: by_class[k] for k in range(model.n_classes) if seen[k]}


def decode(model: keras.Model, z: np.ndarray, batch_size: int = 256, *, raw: bool = False,
           labels: np.ndarray | None = None) -> np.ndarray:
    """Images for latent vectors ``z (n, latent_dim)``: decoder (CAE/VAE) or generator (GAN;
    :attr:`GAN.sampler`, i.e. the moving average when it keeps one, unless ``raw=True``). A
    conditional GAN needs ``labels`` ``(n,)``, one class per vector."""
    z = np.asarray(z, dtype="float32")
    if isinstance(model, GAN):
        net = model.generator if raw else model.sampler
        if model.conditional:
            if labels is None or len(labels) != len(z):
                raise ValueError("a conditional GAN draws each image for a class: pass labels=, one per "
                                 "latent vector (generate() draws them in training proportions)")
            return net.predict([z, np.asarray(labels, "int32")], batch_size=batch_size, verbose=0)
    elif labels is not None:
        raise TypeError("labels are for a conditional GAN; this model takes latent vectors only")
    else:
        net = model.decoder
    return net.predict(z, batch_size=batch_size, verbose=0)


# --------------------------------------------------------------------------- training

GAN_ADAM_BETA_1 = 0.5     # DCGAN's choice; Keras' default 0.9 for the autoencoders


def training_dataset(images: np.ndarray, batch_size: int, seed: int = 0, *,
                     flip: bool = False, labels: np.ndarray | None = None) -> tf.data.Dataset:
    """The training batches of :func:`train_generative`: ``images`` ``(n, h, w, 3)`` reshuffled
    with ``seed`` every epoch, in batches of ``batch_size`` (the last partial batch dropped);
    with ``labels`` ``(n,)``, batches of ``(images, labels)`` shuffled together.

    ``flip=True`` mirrors each image left-right with probability 1/2, drawn afresh every epoch
    from ``seed`` (random flips on the fly, where ``load_image_dataset(augment=True)`` stores a
    mirrored copy of every image)."""
    if len(images) < batch_size:
        raise ValueError(f"{len(images)} images is fewer than one batch of {batch_size}")
    images = np.asarray(images, dtype="float32")
    if labels is None:
        data = tf.data.Dataset.from_tensor_slices(images)
    else:
        labels = np.asarray(labels).astype("int32").reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images: give one label per image")
        data = tf.data.Dataset.from_tensor_slices((images, labels))
    data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if flip:
        coins = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def mirror(image, coin):
            return tf.where(coin % 2 == 1, tf.reverse(image, axis=[1]), image)

        if labels is None:
            data = tf.data.Dataset.zip(data, coins).map(mirror)
        else:
            data = tf.data.Dataset.zip(data, coins).map(lambda pair, coin: (mirror(pair[0], coin), pair[1]))
    return data.batch(batch_size, drop_remainder=True).prefetch(2)


def train_generative(model: keras.Model, images: np.ndarray, *, epochs: int, batch_size: int = 64,
                     learning_rate: float = 1e-3, seed: int = 0,
                     callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = PROGRESS,
                     steps_per_execution: int | None = None, flip: bool = False,
                     adam_beta_1: float | None = None, labels: np.ndarray | None = None) -> dict[str, Any]:
    """Compile (Adam; two of them for a GAN, ``beta_1=0.5``) and fit ``model`` on ``images``
    ``(n, h, w, 3)`` in [0, 1], shuffled with ``seed`` every epoch, with the kit's loop
    (:func:`idl_utils.training.fit_timed`). Returns its record (``history``, ``epochs_run``,
    ``seconds``, ``peak_memory_gib``) plus ``epochs``, ``seconds_per_epoch``, ``n_images``,
    ``batch_size`` and ``learning_rate``.

    ``steps_per_execution`` batches run inside one compiled call, which saves Python overhead
    per step (see :data:`idl_utils.config.STEPS_PER_EXECUTION`), with the same numbers: the same
    steps run in the same order, and epoch-end callbacks are unaffected.

    Options (the defaults train as before): ``flip=True`` mirrors random training images every
    epoch (:func:`training_dataset`); ``adam_beta_1`` replaces Adam's ``beta_1`` (default 0.5
    for a GAN, :data:`GAN_ADAM_BETA_1`, Keras' 0.9 otherwise; 0.0 is the choice of recent GANs
    such as StyleGAN2).

    ``labels`` ``(n,)`` integers train a conditional GAN (``GAN(n_classes=...)``, which needs
    them) on ``(image, label)`` batches and record the classes' frequencies for sampling."""
    if len(images) < batch_size:
        raise ValueError(f"{len(images)} images is fewer than one batch of {batch_size}")
    if adam_beta_1 is not None and not 0.0 <= adam_beta_1 < 1.0:
        raise ValueError(f"adam_beta_1 must be in [0, 1), got {adam_beta_1}")
    if isinstance(model, GAN):
        beta_1 = GAN_ADAM_BETA_1 if adam_beta_1 is None else adam_beta_1
        compile_args = {"d_optimizer": keras.optimizers.Adam(learning_rate, beta_1=beta_1),
                        "g_optimizer": keras.optimizers.Adam(learning_rate, beta_1=beta_1)}
    elif adam_beta_1 is None:
        compile_args = {"optimizer": keras.optimizers.Adam(learning_rate)}
    else:
        compile_args = {"optimizer": keras.optimizers.Adam(learning_rate, beta_1=adam_beta_1)}
    conditional = getattr(model, "conditional", False)
    if conditional != (labels is not None):
        raise ValueError("labels= go with a conditional GAN (GAN(n_classes=...)) and it needs them: "
                         f"got a {'conditional' if conditional else 'model without classes'} and "
                         f"{'no labels' if labels is None else 'labels'}")
    if conditional:
        model.set_label_frequencies(labels)
    data = training_dataset(images, batch_size, seed, flip=flip, labels=labels)
    # shuffle=False: the dataset above already reshuffles, seeded, every epoch
    record = fit_timed(model, data, epochs=epochs, compile_args=compile_args,
                       steps_per_execution=steps_per_execution, callbacks=callbacks, verbose=verbose,
                       shuffle=False)
    seconds = record["seconds"]
    options = {"flip": flip} if flip else {}
    if adam_beta_1 is not None:
        options["adam_beta_1"] = adam_beta_1
    return {**record, "epochs": epochs,
            "seconds_per_epoch": seconds / max(epochs, 1), "n_images": len(images),
            "batch_size": batch_size, "learning_rate": learning_rate, **options}


# --------------------------------------------------------------------------- notebook 01's models

@dataclass(frozen=True)
class CAERecipe:
    """How notebook 01 builds and trains its convolutional autoencoder."""

    latent_dim: int = 64
    width: int = 32
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class VAERecipe(CAERecipe):
    """A :class:`CAERecipe` plus the VAE's loss (``beta``, ``loss``: see :class:`VAE`) and the
    ``snapshots``: epochs after which :class:`WeightSnapshots` keeps the weights on the way."""

    beta: float = 1.0
    loss: str = "bce"
    snapshots: tuple[int, ...] = ()


@dataclass(frozen=True)
class GANRecipe:
    """How notebook 01 builds and trains its GAN (see :class:`GAN` and
    :func:`train_generative`); ``progress`` noise vectors are rendered after every epoch
    (:class:`GANMonitor`), ``snapshots`` as in :class:`VAERecipe`.

    ``conditional``: a class-conditional GAN (label embedding in the generator, projection
    discriminator) trained on the images' class labels (``labels=`` of :func:`kit_gan`);
    ``recalibrate``: sample with batch-norm statistics recomputed for the final weights
    (:func:`recalibrate_batch_norm`) instead of the moving averages of training."""

    latent_dim: int = 128
    width: int = 48
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 2e-4
    adam_beta_1: float | None = None
    ema: float | None = None
    diffaug: str = ""
    flip: bool = False
    snapshots: tuple[int, ...] = ()
    progress: int = 16
    conditional: bool = False
    recalibrate: bool = False

    def with_(self, **changes: Any) -> GANRecipe:
        """This recipe with ``changes`` (e.g. ``with_(conditional=True)``)."""
        return replace(self, **changes)


def dataset_key(images: np.ndarray, source: str = "") -> dict[str, Any]:
    """What identifies a training set in a cache key: its ``source``, shape and a hash of the
    exact pixels of ``images`` ``(n, h, w, 3)`` (another subset, size or augmentation -> another
    key)."""
    import hashlib

    pixels = np.ascontiguousarray(images, dtype="float32")
    return {"source": source, "shape": list(pixels.shape),
            "sha256": hashlib.sha256(pixels.tobytes()).hexdigest()[:16]}


def model_key(recipe: CAERecipe | GANRecipe, images: np.ndarray, *, source: str = "", seed: int = 0,
              course: bool = False, labels: np.ndarray | None = None) -> dict[str, Any]:
    """The cache key of a model trained by ``recipe`` on ``images``: the recipe's fields, the
    training set (:func:`dataset_key`), the seed and which builders (``course``); a conditional
    GAN's key adds a hash of its class ``labels``."""
    key = {**asdict(recipe), "model": type(recipe).__name__.removesuffix("Recipe"),
           "data": dataset_key(images, source), "seed": seed, "course": course}
    if labels is not None:
        import hashlib

        values = np.ascontiguousarray(labels, dtype="int64")
        key["labels"] = hashlib.sha256(values.tobytes()).hexdigest()[:16]
    return key


def _fresh(cls: type, image_size: int, init_seed: int, **kwargs: Any) -> keras.Model:
    """A new, built model, seeded first: the same seed gives the same initial weights."""
    from .config import set_seed

    set_seed(init_seed)
    return cls(image_size=image_size, **kwargs).build_all()


def _snapshots(recipe: VAERecipe | GANRecipe, name: str,
               key: dict[str, Any]) -> list[keras.callbacks.Callback]:
    from .cache import cache_path

    return [WeightSnapshots(recipe.snapshots, cache_path(name, key, "snapshots"))] if recipe.snapshots else []


def _vae_kwargs(recipe: VAERecipe, seed: int) -> dict[str, Any]:
    return {"latent_dim": recipe.latent_dim, "beta": recipe.beta, "loss": recipe.loss, "seed": seed}


def _gan_kwargs(recipe: GANRecipe, seed: int, labels: np.ndarray | None = None) -> dict[str, Any]:
    kwargs = {"latent_dim": recipe.latent_dim, "ema_decay": recipe.ema, "diffaug": recipe.diffaug,
              "seed": seed}
    if labels is not None:
        kwargs["n_classes"] = int(np.max(labels)) + 1
    return kwargs


def gan_labels(recipe: GANRecipe, images: np.ndarray, labels: np.ndarray | None) -> np.ndarray | None:
    """The class labels ``recipe`` trains on: ``labels`` ``(n,)`` checked against ``images`` for a
    conditional recipe, ``None`` otherwise (an unconditional GAN ignores them)."""
    if not recipe.conditional:
        return None
    if labels is None:
        raise ValueError("GANRecipe(conditional=True) trains on the images' class labels: pass labels= "
                         "(one integer per image, e.g. load_image_dataset(...).labels), or use "
                         "conditional=False for a dataset without classes")
    labels = np.asarray(labels)
    integers = np.issubdtype(labels.dtype, np.integer)
    if labels.shape != (len(images),) or not integers or labels.min() < 0:
        raise ValueError(f"labels must be {len(images)} non-negative integers, one per image; got shape "
                         f"{labels.shape} of {labels.dtype}")
    return labels.astype("int64")


def kit_cae(images: np.ndarray, recipe: CAERecipe, *, source: str = "",
            seed: int = 0) -> tuple[ConvAutoencoder, dict[str, Any]]:
    """``(model, record)``: the kit's :class:`ConvAutoencoder` trained by ``recipe`` on ``images``
    ``(n, size, size, 3)``, or loaded from the cache (:func:`idl_utils.cache.load_or_train`,
    keyed by :func:`model_key`)."""
    from .cache import load_or_train

    return load_or_train(
        "gen_cae_kit", model_key(recipe, images, source=source, seed=seed),
        build=lambda: _fresh(ConvAutoencoder, images.shape[1], seed, latent_dim=recipe.latent_dim,
                             width=recipe.width),
        train=lambda m: train_generative(m, images, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                         learning_rate=recipe.learning_rate, seed=seed))


def kit_vae(images: np.ndarray, recipe: VAERecipe, *, source: str = "",
            seed: int = 0) -> tuple[VAE, dict[str, Any]]:
    """``(model, record)``: the kit's :class:`VAE` trained by ``recipe`` (keeping its weights
    after ``recipe.snapshots`` on the way, see :func:`kit_snapshot`), or loaded from the cache."""
    from .cache import load_or_train

    key = model_key(recipe, images, source=source, seed=seed)
    return load_or_train(
        "gen_vae_kit", key,
        build=lambda: _fresh(VAE, images.shape[1], seed, width=recipe.width, name="vae_kit",
                             **_vae_kwargs(recipe, seed)),
        train=lambda m: train_generative(m, images, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                         learning_rate=recipe.learning_rate, seed=seed,
                                         callbacks=_snapshots(recipe, "gen_vae_kit", key)))


def gan_progress_dir(images: np.ndarray, recipe: GANRecipe, *, labels: np.ndarray | None = None,
                     source: str = "", seed: int = 0) -> Path:
    """Where :func:`kit_gan` keeps its :class:`GANMonitor` grids (``epoch_001.png``, ...)."""
    from .cache import cache_path

    key = model_key(recipe, images, source=source, seed=seed, labels=gan_labels(recipe, images, labels))
    return cache_path("gen_gan_kit", key, "progress")


def kit_gan(images: np.ndarray, recipe: GANRecipe, *, labels: np.ndarray | None = None,
            source: str = "", seed: int = 0) -> tuple[GAN, dict[str, Any]]:
    """``(model, record)``: the kit's :class:`GAN` trained by ``recipe``, rendering the same
    ``recipe.progress`` noise vectors after every epoch into :func:`gan_progress_dir` and keeping
    its weights after ``recipe.snapshots``; or loaded from the cache. A conditional recipe trains
    on ``labels`` (one class per image); ``recipe.recalibrate`` recomputes the generator's
    batch-norm statistics before it is returned."""
    from .cache import load_or_train
    from .latent import sample_latent

    labels = gan_labels(recipe, images, labels)
    key = model_key(recipe, images, source=source, seed=seed, labels=labels)
    callbacks = _snapshots(recipe, "gen_gan_kit", key)
    if recipe.progress:
        noise = sample_latent(recipe.progress, recipe.latent_dim, seed=seed)
        folder = gan_progress_dir(images, recipe, labels=labels, source=source, seed=seed)
        callbacks = [GANMonitor(noise, folder, ncols=8), *callbacks]
    model, record = load_or_train(
        "gen_gan_kit", key,
        build=lambda: _fresh(GAN, images.shape[1], seed, width=recipe.width,
                             name="gan_kit_conditional" if recipe.conditional else "gan_kit",
                             **_gan_kwargs(recipe, seed, labels)),
        train=lambda m: train_generative(m, images, epochs=recipe.epochs, batch_size=recipe.batch_size,
                                         learning_rate=recipe.learning_rate, seed=seed, flip=recipe.flip,
                                         adam_beta_1=recipe.adam_beta_1, callbacks=callbacks, labels=labels))
    if recipe.recalibrate:
        recalibrate_batch_norm(model, seed=seed)
    return model, record


def kit_snapshot(images: np.ndarray, recipe: VAERecipe | GANRecipe, epoch: int, record: dict[str, Any], *,
                 labels: np.ndarray | None = None, source: str = "",
                 seed: int = 0) -> tuple[keras.Model, dict[str, Any]]:
    """``(model, record)``: the kit's VAE or GAN of ``recipe`` as it was after ``epoch`` (one of
    ``recipe.snapshots``), from the weights :func:`kit_vae` / :func:`kit_gan` kept on the way
    (sampled as the full model is: ``recipe.recalibrate`` applies). ``record`` is the full run's;
    the one returned says ``epoch`` epochs and their seconds."""
    from .cache import cache_path

    is_gan = isinstance(recipe, GANRecipe)
    labels = gan_labels(recipe, images, labels) if is_gan else None
    cls, kwargs = (GAN, _gan_kwargs(recipe, seed, labels)) if is_gan else (VAE, _vae_kwargs(recipe, seed))
    name = "gen_gan_kit" if is_gan else "gen_vae_kit"
    folder = cache_path(name, model_key(recipe, images, source=source, seed=seed, labels=labels), "snapshots")
    model = load_snapshot(_fresh(cls, images.shape[1], seed, width=recipe.width, **kwargs), folder, epoch)
    if is_gan and recipe.recalibrate:
        recalibrate_batch_norm(model, seed=seed)
    return model, {**record, "epochs": epoch, "seconds": record["seconds_per_epoch"] * epoch}


def course_vae(images: np.ndarray, recipe: VAERecipe, epochs: int, *, source: str = "",
               seed: int = 0) -> tuple[VAE, dict[str, Any]]:
    """``(model, record)``: a :class:`VAE` on the course's builders (``course=True``) with the
    loss, latent size, batch size and learning rate of ``recipe``, trained ``epochs`` epochs (the
    budget of the equal-time comparison), or loaded from the cache."""
    from .cache import load_or_train

    recipe = replace(recipe, epochs=epochs, snapshots=())
    return load_or_train(
        "gen_vae_course", model_key(recipe, images, source=source, seed=seed, course=True),
        build=lambda: _fresh(VAE, images.shape[1], seed, course=True, name="vae_course",
                             **_vae_kwargs(recipe, seed)),
        train=lambda m: train_generative(m, images, epochs=epochs, batch_size=recipe.batch_size,
                                         learning_rate=recipe.learning_rate, seed=seed))


def course_gan(images: np.ndarray, recipe: GANRecipe, epochs: int, *, source: str = "",
               seed: int = 0) -> tuple[GAN, dict[str, Any]]:
    """``(model, record)``: a :class:`GAN` on the course's builders with the training options of
    ``recipe`` (no progress grids, no snapshots), trained ``epochs`` epochs, or loaded from the
    cache."""
    from .cache import load_or_train

    # the course's GAN is unconditional and samples as trained, whatever the kit's recipe does
    recipe = replace(recipe, epochs=epochs, snapshots=(), progress=0, conditional=False, recalibrate=False)
    return load_or_train(
        "gen_gan_course", model_key(recipe, images, source=source, seed=seed, course=True),
        build=lambda: _fresh(GAN, images.shape[1], seed, course=True, name="gan_course",
                             **_gan_kwargs(recipe, seed)),
        train=lambda m: train_generative(m, images, epochs=epochs, batch_size=recipe.batch_size,
                                         learning_rate=recipe.learning_rate, seed=seed, flip=recipe.flip,
                                         adam_beta_1=recipe.adam_beta_1))


def equal_time_models(images: np.ndarray, vae: tuple[VAERecipe, dict[str, Any]],
                      gan: tuple[GANRecipe, dict[str, Any]], course_epochs: int, *,
                      labels: np.ndarray | None = None, source: str = "",
                      seed: int = 0) -> dict[str, tuple[keras.Model, dict[str, Any]]]:
    """The course-vs-kit comparison's models, by row name: the kit's VAE and GAN after each of
    their recipes' snapshot epochs (``vae`` and ``gan``: recipe and the full run's record;
    ``labels`` for a conditional GAN recipe), then the course's VAE and GAN trained
    ``course_epochs`` epochs."""
    models = {}
    for kind, (recipe, record) in (("VAE", vae), ("GAN", gan)):
        for epoch in recipe.snapshots:
            models[f"{kind} (kit, {epoch} epochs)"] = kit_snapshot(
                images, recipe, epoch, record, labels=labels if kind == "GAN" else None,
                source=source, seed=seed)
    budget = f"{course_epochs} epochs"
    models[f"VAE (course, {budget})"] = course_vae(images, vae[0], course_epochs, source=source, seed=seed)
    models[f"GAN (course, {budget})"] = course_gan(images, gan[0], course_epochs, source=source, seed=seed)
    return models


def sample_models(models: dict[str, keras.Model], n: int, seed: int = 0, *, vae_prior: str = "normal",
                  images: np.ndarray | None = None, n_components: int = 10) -> dict[str, np.ndarray]:
    """``n`` images of each model, by name, sampled as notebook 01 samples it: a VAE's codes from
    ``vae_prior`` (fitted to its codes of ``images`` unless ``"normal"``), a CAE's from one
    Gaussian fitted to its codes (it has no prior of its own), a GAN from its noise."""
    def prior(model: keras.Model) -> str:
        if isinstance(model, VAE):
            return vae_prior
        return "gaussian" if isinstance(model, ConvAutoencoder) else "normal"

    return {name: generate(model, n, seed, prior=prior(model), images=images, n_components=n_components)
            for name, model in models.items()}
