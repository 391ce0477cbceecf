import warnings

import pytest

from idl_utils.cache import cache_path, config_key


def test_cache_path_is_keyed_by_config_and_parts_sit_beside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_CACHE_DIR", str(tmp_path))
    a, b = cache_path("gen_vae", {"epochs": 20}), cache_path("gen_vae", {"epochs": 8})
    assert a != b and a.parent == tmp_path
    assert a.name == f"gen_vae-{config_key({'epochs': 20})}"
    snapshots = cache_path("gen_vae", {"epochs": 20}, "snapshots")
    assert snapshots == a.with_name(a.name + "-snapshots")
    with pytest.raises(ValueError, match="plain identifier"):
        cache_path("gen vae", {})


def _tiny(counter):
    """``build`` and ``train`` for a one-layer model; ``counter["trained"]`` counts trainings."""
    import keras
    import numpy as np

    def build():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        return model

    def train(model):
        counter["trained"] += 1
        x = np.ones((4, 3), dtype="float32")
        model.fit(x, np.zeros((4, 2), dtype="float32"), epochs=1, verbose=0)
        return {"seconds": 0.1}

    return build, train


def _load(counter):
    from idl_utils.cache import load_or_train

    build, train = _tiny(counter)
    return load_or_train("tiny", {"units": 2}, build, train)


def test_a_saved_entry_has_a_checksum_and_is_loaded(tmp_path):
    from idl_utils.cache import CHECKSUM_FILE

    counter = {"trained": 0}
    model, info = _load(counter)
    folder = cache_path("tiny", {"units": 2})
    assert not info["cached"] and (folder / CHECKSUM_FILE).read_text().count("  ") == 2
    again, info = _load(counter)
    assert info["cached"] and counter["trained"] == 1
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        assert (a == b).all()


@pytest.mark.parametrize("damage, reason", [
    ("truncate_weights", "model.weights.h5 does not match checksum.sha256"),
    ("garble_info", "info.json does not match checksum.sha256"),
    ("truncate_weights_no_checksum", "model.weights.h5 does not read back"),
    ("garble_info_no_checksum", "info.json is not readable JSON"),
    ("remove_weights", "model.weights.h5 missing"),
])
def test_a_damaged_entry_warns_once_with_its_path_and_is_trained_again(damage, reason):
    """A cut-short HDF5 file (a full disk) or a garbled info.json, with or without the
    checksum of the kit's current entries, is treated as missing: one warning naming the
    folder and the reason, a new training, and the healed entry is used from then on."""
    from idl_utils.cache import CHECKSUM_FILE, CacheEntryWarning

    counter = {"trained": 0}
    _load(counter)
    folder = cache_path("tiny", {"units": 2})
    weights, info_file = folder / "model.weights.h5", folder / "info.json"
    if damage.endswith("no_checksum"):  # an entry saved before the kit wrote checksums
        (folder / CHECKSUM_FILE).unlink()
    if damage.startswith("truncate_weights"):
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage.startswith("garble_info"):
        info_file.write_text('{"seconds": 0.1', encoding="utf-8")
    else:
        weights.unlink()
    with pytest.warns(CacheEntryWarning) as caught:
        _, info = _load(counter)
    ours = [w for w in caught if w.category is CacheEntryWarning]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert str(folder) in message and reason in message, message
    assert not info["cached"] and counter["trained"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheEntryWarning)
        _, info = _load(counter)  # healed: loaded without a word
    assert info["cached"] and counter["trained"] == 2 and (folder / CHECKSUM_FILE).exists()


def test_an_entry_from_before_checksums_is_used_and_gains_one():
    from idl_utils.cache import CHECKSUM_FILE, CacheEntryWarning

    counter = {"trained": 0}
    _load(counter)
    checksum = cache_path("tiny", {"units": 2}) / CHECKSUM_FILE
    written = checksum.read_text()
    checksum.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheEntryWarning)
        _, info = _load(counter)
    assert info["cached"] and counter["trained"] == 1 and checksum.read_text() == written
