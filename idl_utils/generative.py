"""Convolutional autoencoder, VAE and GAN as ``keras.Model`` subclasses (keras-io style).

Each model owns its ``train_step`` and loss trackers; all three are built from the same
:mod:`idl_utils.builders` (``build_conv_net`` down, ``build_deconv_net`` up), so they differ
only in what they learn:

* :class:`ConvAutoencoder` -- image -> code -> image, trained to reconstruct (no sampling).
* :class:`VAE` -- the encoder outputs a Gaussian ``N(mean, exp(log_var))``; a sample of it is
  decoded; loss = reconstruction + beta * KL(q(z|x) || N(0, I)), both tracked.
* :class:`GAN` -- a generator maps noise to images, a discriminator tells real from fake;
  separate optimisers, one-sided label smoothing and label noise as stabilisers.

:func:`train_generative` fits any of them on an image array with a seeded shuffle and
returns a JSON-able record (history, seconds, seconds per epoch) for :func:`cache.load_or_train`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
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
from .training import fit_timed


def _nets(image_size: int, latent_dim: int, encoder_out: int, *, course: bool, width: int,
          enc_out_activation: str | None = None, enc_norm: str = "batch", dropout: float = 0.0):
    check_image_size(image_size)
    check_latent_dim(latent_dim)
    depth = int(np.log2(image_size)) - 2
    if course:
        # the course's layers; a linear output (codes, mean/log-variance, logits) as the losses need
        enc = build_course_conv_net((image_size, image_size, 3), encoder_out, depth, enc_out_activation)
        dec = build_course_deconv_net(latent_dim, depth, "sigmoid")
    else:
        enc = build_conv_net((image_size, image_size, 3), encoder_out, None, enc_out_activation,
                             width=width, norm=enc_norm, dropout=dropout, name="encoder")
        dec = build_deconv_net(latent_dim, None, "sigmoid", image_size=image_size, width=width,
                               name="decoder")
    return enc, dec


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


class VAE(keras.Model):
    """Variational autoencoder. The encoder outputs ``2 * latent_dim`` numbers: the mean and
    log-variance of ``q(z|x)``. Loss per image: reconstruction (summed over pixels) +
    ``beta`` * KL to the prior N(0, I); both terms are tracked."""

    def __init__(self, image_size: int = 64, latent_dim: int = 64, *, beta: float = 1.0,
                 course: bool = False, width: int = 32, loss: str = "bce", seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.image_size, self.latent_dim, self.beta, self.loss_kind = image_size, latent_dim, beta, loss
        self.encoder, self.decoder = _nets(image_size, latent_dim, 2 * latent_dim, course=course,
                                           width=width, enc_out_activation=None)
        self.sampling = Sampling(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.recon_loss_tracker, self.kl_loss_tracker]

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
            recon_loss = ops.mean(_image_loss(x, recon, self.loss_kind))
            kl = -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)
            kl_loss = ops.mean(kl)
            loss = recon_loss + self.beta * kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(loss)
        self.recon_loss_tracker.update_state(recon_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> VAE:
        self(np.zeros((1, self.image_size, self.image_size, 3), "float32"))
        zeros = np.zeros((1, self.latent_dim), "float32")
        self.sampling([zeros, zeros])  # builds the seed generator's state too
        return self


# --------------------------------------------------------------------------- GAN

class GAN(keras.Model):
    """DCGAN-style GAN. ``generator``: noise ``(latent_dim,)`` -> image in [0, 1];
    ``discriminator``: image -> one logit (real > 0). Compile with two optimisers:
    ``gan.compile(d_optimizer=..., g_optimizer=...)``.

    Stabilisers: one-sided label smoothing (real targets ``1 - label_smoothing``), a little
    label noise (``label_noise``), no normalisation in the discriminator (optional
    ``dropout`` before its last layer; 0 trained faster here) and Adam with ``beta_1 = 0.5``
    (see :func:`train_generative`).
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 128, *, course: bool = False,
                 width: int = 32, label_smoothing: float = 0.1, label_noise: float = 0.05,
                 dropout: float = 0.0, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_size, self.latent_dim = image_size, latent_dim
        self.label_smoothing, self.label_noise = label_smoothing, label_noise
        self.discriminator, self.generator = _nets(image_size, latent_dim, 1, course=course, width=width,
                                                   enc_out_activation=None, enc_norm="none", dropout=dropout)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real_prob")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake_prob")

    def compile(self, d_optimizer, g_optimizer, **kwargs: Any) -> None:
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def train_step(self, real):
        batch = ops.shape(real)[0]
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(noise, training=True)
        # 1) discriminator: real -> (smoothed) 1, fake -> 0, with a little label noise
        real_t = (1.0 - self.label_smoothing) - self.label_noise * keras.random.uniform(
            (batch, 1), seed=self.seed_generator)
        fake_t = self.label_noise * keras.random.uniform((batch, 1), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.bce(real_t, real_logits) + self.bce(fake_t, fake_logits)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights, strict=True))
        # 2) generator: make the discriminator say "real" (non-saturating loss)
        noise = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            logits = self.discriminator(self.generator(noise, training=True), training=True)
            g_loss = self.bce(ops.ones((batch, 1)), logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=True))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}

    def build_all(self) -> GAN:
        self(np.zeros((1, self.latent_dim), "float32"))
        self.discriminator(np.zeros((1, self.image_size, self.image_size, 3), "float32"))
        return self


class GANMonitor(keras.callbacks.Callback):
    """Generate images from the same fixed noise after every epoch, so progress is visible.
    Keeps them in ``self.samples`` (uint8) and, given ``out_dir``, writes
    ``epoch_001.png``, ... there."""

    def __init__(self, noise: np.ndarray, out_dir: str | Path | None = None, ncols: int = 8) -> None:
        super().__init__()
        self.noise, self.ncols = np.asarray(noise, dtype="float32"), ncols
        self.out_dir = Path(out_dir) if out_dir else None
        self.samples: list[np.ndarray] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        from PIL import Image

        from .image_data import image_grid

        images = self.model.generator.predict(self.noise, verbose=0)
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


def generate(model: keras.Model, n: int, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """``n`` images from random latent vectors ``N(0, I)`` (seeded) through the decoder of a
    VAE or the generator of a GAN: ``(n, h, w, 3)`` in [0, 1]."""
    from .latent import sample_latent

    z = sample_latent(n, model.latent_dim, seed)
    return decode(model, z, batch_size)


def decode(model: keras.Model, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Images for latent vectors ``z (n, latent_dim)``: decoder (CAE/VAE) or generator (GAN)."""
    net = model.generator if isinstance(model, GAN) else model.decoder
    return net.predict(np.asarray(z, dtype="float32"), batch_size=batch_size, verbose=0)


# --------------------------------------------------------------------------- training

def train_generative(model: keras.Model, images: np.ndarray, *, epochs: int, batch_size: int = 64,
                     learning_rate: float = 1e-3, seed: int = 0,
                     callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = "auto",
                     steps_per_execution: int | None = None) -> dict[str, Any]:
    """Compile (Adam; two of them for a GAN, ``beta_1=0.5``) and fit ``model`` on ``images``
    ``(n, h, w, 3)`` in [0, 1], shuffled with ``seed`` every epoch, with the kit's loop
    (:func:`idl_utils.training.fit_timed`). Returns its record (``history``, ``epochs_run``,
    ``seconds``, ``peak_memory_gib``) plus ``epochs``, ``seconds_per_epoch``, ``n_images``,
    ``batch_size`` and ``learning_rate``.

    ``steps_per_execution`` batches run inside one compiled call, which saves Python overhead
    per step (see :data:`idl_utils.config.STEPS_PER_EXECUTION`), with the same numbers: the same
    steps run in the same order, and epoch-end callbacks are unaffected."""
    if len(images) < batch_size:
        raise ValueError(f"{len(images)} images is fewer than one batch of {batch_size}")
    if isinstance(model, GAN):
        compile_args = {"d_optimizer": keras.optimizers.Adam(learning_rate, beta_1=0.5),
                        "g_optimizer": keras.optimizers.Adam(learning_rate, beta_1=0.5)}
    else:
        compile_args = {"optimizer": keras.optimizers.Adam(learning_rate)}
    data = (tf.data.Dataset.from_tensor_slices(np.asarray(images, dtype="float32"))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True)
            .prefetch(2))
    # shuffle=False: the dataset above already reshuffles, seeded, every epoch
    record = fit_timed(model, data, epochs=epochs, compile_args=compile_args,
                       steps_per_execution=steps_per_execution, callbacks=callbacks, verbose=verbose,
                       shuffle=False)
    seconds = record["seconds"]
    return {**record, "epochs": epochs,
            "seconds_per_epoch": seconds / max(epochs, 1), "n_images": len(images),
            "batch_size": batch_size, "learning_rate": learning_rate}
