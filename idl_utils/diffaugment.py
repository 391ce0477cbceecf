"""DiffAugment: differentiable augmentation of real *and* generated images before a GAN's
discriminator (Zhao et al., 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

With a few thousand training images a discriminator soon memorises them, and its gradients stop
helping the generator. Augmenting only the real images would teach the generator to produce
augmented-looking images; DiffAugment applies the same *kind* of random transformation to both
real and generated batches, every time the discriminator looks at them -- also in the
generator's update, so every operation must be differentiable (gradients reach the generator
through the augmentation).

The three policies follow the reference implementation, for images in [0, 1] (the paper's are
in [-1, 1]; its zero padding is mid-grey, so the fill value here is 0.5):

* ``"color"``: a random brightness shift in [-0.5, 0.5], saturation scaled by [0, 2] and
  contrast scaled by [0.5, 1.5], each drawn per image. The result can leave [0, 1], as in the
  paper (the discriminator does not care, and clipping would block gradients);
* ``"translation"``: a shift by up to 1/8 of the image size in each direction, the uncovered
  border filled with 0.5;
* ``"cutout"``: a square of half the image size, at a random position (it may stick out of the
  image), filled with 0.5.

::

    augmented = diff_augment(images, "color,translation,cutout", seed=0)
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

POLICIES = ("color", "translation", "cutout")
DEFAULT_POLICY = "color,translation,cutout"
FILL = 0.5                   # the middle of [0, 1]: the reference's zero in [-1, 1]
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def parse_policy(policy: str) -> tuple[str, ...]:
    """The policy names in ``policy`` (comma-separated, e.g. ``"color,translation"``; ``""``:
    none), checked: an unknown name raises a ``ValueError`` that lists the accepted ones."""
    if not isinstance(policy, str):
        raise ValueError(f"a DiffAugment policy is a comma-separated string such as {DEFAULT_POLICY!r}, "
                         f"got {policy!r}")
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown[0]!r} in {policy!r}: use a comma-separated "
                         f"subset of {', '.join(POLICIES)} (or '' for no augmentation)")
    return names


def _uniform(shape, seed, low: float = 0.0, high: float = 1.0):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=seed)


def _color(x, seed):
    batch = ops.shape(x)[0]
    x = x + (_uniform((batch, 1, 1, 1), seed) - 0.5)                        # brightness
    mean = ops.mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform((batch, 1, 1, 1), seed) * 2.0) + mean         # saturation
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (_uniform((batch, 1, 1, 1), seed) + 0.5) + mean      # contrast


def _translation(x, seed):
    batch, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
    shift_h, shift_w = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
    dy = keras.random.randint((batch, 1), -shift_h, shift_h + 1, seed=seed)
    dx = keras.random.randint((batch, 1), -shift_w, shift_w + 1, seed=seed)
    # pad one pixel of fill all round; source rows/columns outside the image land on it
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=FILL)
    rows = ops.clip(ops.arange(height, dtype="int32")[None, :] + dy, -1, height) + 1     # (batch, h)
    cols = ops.clip(ops.arange(width, dtype="int32")[None, :] + dx, -1, width) + 1       # (batch, w)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)                       # (batch, h, w + 2, c)
    return tf.gather(out, cols, axis=2, batch_dims=1)                         # (batch, h, w, c)


def _cutout(x, seed):
    batch, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
    size_h, size_w = int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5)
    # centres as in the reference: [0, size + (1 - cut % 2)), so the square may stick out
    top = keras.random.randint((batch, 1), 0, height + (1 - size_h % 2), seed=seed) - size_h // 2
    left = keras.random.randint((batch, 1), 0, width + (1 - size_w % 2), seed=seed) - size_w // 2
    r, c = ops.arange(height, dtype="int32")[None, :], ops.arange(width, dtype="int32")[None, :]
    in_rows = ops.logical_and(r >= top, r < top + size_h)                     # (batch, h)
    in_cols = ops.logical_and(c >= left, c < left + size_w)                   # (batch, w)
    cut = ops.cast(ops.logical_and(in_rows[:, :, None], in_cols[:, None, :]), x.dtype)[..., None]
    return x * (1.0 - cut) + FILL * cut


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images: Any, policy: str = DEFAULT_POLICY,
                 seed: int | keras.random.SeedGenerator | None = None) -> Any:
    """``images`` ``(batch, h, w, c)`` in [0, 1] (array or tensor) augmented by every policy in
    ``policy``, in the order given, with fresh random parameters per image: a tensor of the same
    shape. Differentiable with respect to ``images``.

    ``seed``: an int (the same int gives the same augmentation), a
    ``keras.random.SeedGenerator`` or ``None`` (unseeded). Inside a compiled function such as a
    ``train_step`` pass a generator created beforehand (an int would create one there, which
    TensorFlow refuses); its state advances, so every step draws new parameters.
    ``policy=""`` returns the images unchanged."""
    names = parse_policy(policy)
    x = ops.convert_to_tensor(images, dtype="float32")
    if len(x.shape) != 4:
        raise ValueError("diff_augment expects a batch of images (batch, h, w, c), "
                         f"got shape {tuple(x.shape)}")
    if not names:
        return x
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(seed)
    for name in names:
        x = _OPS[name](x, seed)
    return x
