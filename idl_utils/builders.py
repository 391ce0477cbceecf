"""Convolutional building blocks shared by the autoencoder, the VAE and the GAN.

* :func:`build_conv_net` -- image ``(size, size, c)`` -> vector: strided convolutions halve the
  resolution down to 4x4, then ``Dense(out_shape)`` (an encoder or a discriminator).
* :func:`build_deconv_net` -- vector -> image: ``Dense`` to a 4x4 map, then transposed
  convolutions double it up to ``size`` x ``size`` (a decoder or a generator).

Both keep the course's names and idea. ``course=True`` gives the assignment's fixed versions
(128 filters everywhere, ReLU, no normalisation, ``n_*_layers=4`` for 64x64 images). The kit's
versions adapt their depth to the image size (``log2(size) - 2`` layers, any power of two from
16 to 128), double the width as the resolution halves (or take one width per layer,
``widths``), and take normalisation and activation as parameters.

Options for GANs, off by default (the networks are then exactly those without them):
``spectral_norm=True`` wraps the discriminator's layers in Keras' ``SpectralNormalization``;
``n_classes`` makes either network class-conditional -- a label embedding beside the noise in
the generator, a projection discriminator (Miyato & Koyama, 2018) -- taking ``[x, label]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers

SUPPORTED_SIZES = (16, 32, 64, 128)
NORMS = ("batch", "layer", "none")
ACTIVATIONS = ("leaky_relu", "relu", "gelu", "swish")


def check_image_size(size: int) -> int:
    """``size`` if the builders can make it (a power of two, 16..128), else a clear error."""
    if isinstance(size, bool) or not isinstance(size, int) or size not in SUPPORTED_SIZES:
        raise ValueError(
            f"image size {size!r} is not supported: use a power of two from 16 to 128 "
            f"({', '.join(map(str, SUPPORTED_SIZES))}); images are resized to it when loaded.")
    return size


def check_latent_dim(latent_dim: int) -> int:
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent dimension must be an integer >= 1, got {latent_dim!r} "
                         "(try 32 to 128 for 64x64 images)")
    return latent_dim


def n_resampling_layers(size: int) -> int:
    """Stride-2 layers between ``size`` and the 4x4 bottleneck: ``log2(size) - 2``."""
    return int(math.log2(check_image_size(size))) - 2


def _norm(kind: str, name: str) -> layers.Layer | None:
    if kind == "batch":
        return layers.BatchNormalization(name=name)
    if kind == "layer":
        return layers.LayerNormalization(name=name)
    if kind == "none":
        return None
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def _act(kind: str, name: str) -> layers.Layer:
    if kind == "leaky_relu":
        return layers.LeakyReLU(0.2, name=name)
    if kind in ACTIVATIONS:
        return layers.Activation(kind, name=name)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {kind!r}")


def _widths(n_layers: int, width: int, max_width: int) -> list[int]:
    return [min(width * 2**i, max_width) for i in range(n_layers)]


def _check_widths(widths: Sequence[int], depth: int, size: int) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) != depth or any(w < 1 for w in widths):
        raise ValueError(f"widths must give {depth} positive numbers of filters, one per layer of a "
                         f"{size}x{size} network, got {list(widths)}")
    return widths


def _check_classes(n_classes: int | None) -> int | None:
    if n_classes is not None and (isinstance(n_classes, bool) or not isinstance(n_classes, int)
                                  or n_classes < 2):
        raise ValueError(f"n_classes must be an integer >= 2 (or None for an unconditional network), "
                         f"got {n_classes!r}")
    return n_classes


def _spectral(layer: layers.Layer, on: bool) -> layers.Layer:
    # Keras' wrapper rescales the kernel in place by its largest singular value (one power
    # iteration per training call): a projection of the weights rather than Miyato et al.'s
    # reparameterisation, so no gradient flows through sigma
    return layers.SpectralNormalization(layer, name=f"sn_{layer.name}") if on else layer


# --------------------------------------------------------------------------- the course's versions

def build_course_conv_net(in_shape: Sequence[int], out_shape: int, n_downsampling_layers: int = 4,
                          out_activation: str | None = "sigmoid") -> keras.Model:
    """The assignment's ``build_conv_net``: ``Conv2D(128, 3, strides=2, relu)`` x n, Flatten,
    ``Dense(out_shape)``."""
    model = keras.Sequential(name="course_conv_net")
    model.add(layers.Input(shape=tuple(in_shape)))
    for _ in range(n_downsampling_layers):
        model.add(layers.Conv2D(128, kernel_size=3, strides=2, padding="same", activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(out_shape, activation=out_activation))
    return model


def build_course_deconv_net(latent_dim: int, n_upsampling_layers: int = 4,
                            activation_out: str | None = "sigmoid") -> keras.Model:
    """The assignment's ``build_deconv_net``: ``Dense(4*4*64)``, Reshape,
    ``Conv2DTranspose(128, 3, strides=2, relu)`` x n, ``Conv2D(3, 3, activation_out)``."""
    model = keras.Sequential(name="course_deconv_net")
    model.add(layers.Input(shape=(check_latent_dim(latent_dim),)))
    model.add(layers.Dense(4 * 4 * 64, activation="relu"))
    model.add(layers.Reshape((4, 4, 64)))
    for _ in range(n_upsampling_layers):
        model.add(layers.Conv2DTranspose(128, kernel_size=3, strides=2, padding="same", activation="relu"))
    model.add(layers.Conv2D(3, kernel_size=3, padding="same", activation=activation_out))
    return model


# --------------------------------------------------------------------------- the kit's versions

def build_conv_net(in_shape: Sequence[int], out_shape: int, n_downsampling_layers: int | None = None,
                   out_activation: str | None = None, *, width: int = 32, max_width: int = 256,
                   norm: str = "batch", activation: str = "leaky_relu", dropout: float = 0.0,
                   course: bool = False, name: str = "conv_net", widths: Sequence[int] | None = None,
                   spectral_norm: bool = False, n_classes: int | None = None) -> keras.Model:
    """Image ``in_shape = (size, size, channels)`` -> vector ``(out_shape,)``.

    Kit version: ``log2(size) - 2`` blocks of ``Conv2D(w, 4, strides=2)`` + norm + activation,
    with ``w = width, 2*width, ...`` (at most ``max_width``), down to 4x4; then Flatten,
    optional Dropout, ``Dense(out_shape, out_activation)``. ``course=True``: the assignment's
    version (``n_downsampling_layers`` defaults to 4 there; other keyword options are ignored).

    ``widths`` gives every block's filters instead (first block first, e.g. ``(64, 128, 256)``
    for 32x32 images). ``spectral_norm=True`` wraps every convolution and the Dense layer in
    ``keras.layers.SpectralNormalization`` (for a discriminator; use ``norm="none"``).
    ``n_classes``: a projection discriminator (Miyato & Koyama, 2018): the model takes
    ``[images, labels]`` (labels ``(n,)`` integers in ``[0, n_classes)``) and returns
    ``Dense(1)(h) + <embed(label), h>`` for the flattened features ``h`` (``out_shape`` must be 1,
    ``out_activation`` None).
    """
    if course:
        return build_course_conv_net(in_shape, out_shape, n_downsampling_layers or 4,
                                     out_activation="sigmoid" if out_activation is None else out_activation)
    size, size_w, channels = tuple(in_shape)
    if size != size_w:
        raise ValueError(f"square images only, got {size}x{size_w}")
    depth = n_resampling_layers(size)
    if n_downsampling_layers is not None and n_downsampling_layers != depth:
        raise ValueError(f"{size}x{size} images need {depth} downsampling layers to reach 4x4, "
                         f"not {n_downsampling_layers}; leave n_downsampling_layers=None")
    if _check_classes(n_classes) is not None and (out_shape != 1 or out_activation is not None):
        raise ValueError("a projection discriminator (n_classes) gives one logit: use out_shape=1 "
                         f"and out_activation=None, got {out_shape} and {out_activation!r}")
    widths = _widths(depth, width, max_width) if widths is None else _check_widths(widths, depth, size)
    inputs = keras.Input(shape=(size, size, channels))
    x = inputs
    for i, w in enumerate(widths):
        conv = layers.Conv2D(w, 4, strides=2, padding="same", use_bias=norm == "none", name=f"conv{i}")
        x = _spectral(conv, spectral_norm)(x)
        if (n := _norm(norm, f"norm{i}")) is not None:
            x = n(x)
        x = _act(activation, f"act{i}")(x)
    x = layers.Flatten()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = _spectral(layers.Dense(out_shape, activation=out_activation, name="out"), spectral_norm)(x)
    if n_classes is None:
        return keras.Model(inputs, outputs, name=name)
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    # not spectrally normalised: Keras' wrapper stops the embedding's gradients
    embed = layers.Embedding(n_classes, int(x.shape[-1]), name="label_embedding")
    projection = layers.Dot(axes=1, name="projection")([embed(labels), x])
    return keras.Model([inputs, labels], layers.Add(name="logit")([outputs, projection]), name=name)


def build_deconv_net(latent_dim: int, n_upsampling_layers: int | None = None,
                     activation_out: str | None = "sigmoid", *, image_size: int = 64, channels: int = 3,
                     width: int = 32, max_width: int = 256, norm: str = "batch",
                     activation: str = "leaky_relu", course: bool = False,
                     name: str = "deconv_net", widths: Sequence[int] | None = None,
                     n_classes: int | None = None, label_dim: int = 32) -> keras.Model:
    """Vector ``(latent_dim,)`` -> image ``(image_size, image_size, channels)`` in the range of
    ``activation_out`` (sigmoid: [0, 1]).

    Kit version: ``Dense(4*4*top)`` + norm + activation, then ``log2(size) - 2`` blocks of
    ``Conv2DTranspose(w, 4, strides=2)`` + norm + activation with widths halving from
    ``top = min(width * 2**(depth-1), max_width)`` down to ``width``, then
    ``Conv2D(channels, 3, activation_out)``. ``course=True``: the assignment's fixed version
    (``n_upsampling_layers=4`` -> 64x64).

    ``widths`` gives every block's filters instead, in the order the blocks run (from 4x4 up,
    e.g. ``(256, 128, 64)``; the 4x4 map has ``widths[0]`` channels). ``n_classes``: a
    class-conditional generator taking ``[z, labels]`` (labels ``(n,)`` integers in
    ``[0, n_classes)``): a learned ``label_dim``-dimensional embedding of the label is
    concatenated to ``z`` before the first Dense layer.
    """
    check_latent_dim(latent_dim)
    if course:
        return build_course_deconv_net(latent_dim, n_upsampling_layers or n_resampling_layers(image_size),
                                       activation_out)
    depth = n_resampling_layers(image_size)
    if n_upsampling_layers is not None and n_upsampling_layers != depth:
        raise ValueError(f"{image_size}x{image_size} images need {depth} upsampling layers from 4x4, "
                         f"not {n_upsampling_layers}; leave n_upsampling_layers=None")
    _check_classes(n_classes)
    if widths is None:
        widths = _widths(depth, width, max_width)[::-1]
    else:
        widths = _check_widths(widths, depth, image_size)
    inputs = keras.Input(shape=(latent_dim,))
    x = inputs
    if n_classes is not None:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        embedded = layers.Embedding(n_classes, label_dim, name="label_embedding")(labels)
        x = layers.Concatenate(name="noise_and_label")([inputs, embedded])
    x = layers.Dense(4 * 4 * widths[0], use_bias=norm == "none", name="project")(x)
    x = layers.Reshape((4, 4, widths[0]))(x)
    if (n := _norm(norm, "norm_in")) is not None:
        x = n(x)
    x = _act(activation, "act_in")(x)
    for i, w in enumerate(widths):
        x = layers.Conv2DTranspose(w, 4, strides=2, padding="same", use_bias=norm == "none",
                                   name=f"deconv{i}")(x)
        if (n := _norm(norm, f"norm{i}")) is not None:
            x = n(x)
        x = _act(activation, f"act{i}")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation=activation_out, name="to_image")(x)
    return keras.Model(inputs if n_classes is None else [inputs, labels], outputs, name=name)
