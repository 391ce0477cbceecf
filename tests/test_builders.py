import keras
import numpy as np
import pytest

from idl_utils.builders import (
    SUPPORTED_SIZES,
    build_conv_net,
    build_course_conv_net,
    build_course_deconv_net,
    build_deconv_net,
    check_image_size,
    n_resampling_layers,
)


@pytest.mark.parametrize("size", SUPPORTED_SIZES)
def test_kit_builders_shapes_at_every_size(size):
    enc = build_conv_net((size, size, 3), 10, width=8, max_width=16)
    assert enc.output_shape == (None, 10)
    dec = build_deconv_net(7, image_size=size, width=8, max_width=16)
    assert dec.output_shape == (None, size, size, 3)
    out = dec(np.zeros((2, 7), "float32"))
    assert tuple(out.shape) == (2, size, size, 3)
    assert float(np.min(out)) >= 0 and float(np.max(out)) <= 1  # sigmoid


def test_depth_goes_down_to_4x4():
    assert [n_resampling_layers(s) for s in SUPPORTED_SIZES] == [2, 3, 4, 5]
    enc = build_conv_net((64, 64, 3), 1, width=8, norm="none", activation="relu")
    assert [layer.output.shape[1] for layer in enc.layers if layer.name.startswith("conv")] == [32, 16, 8, 4]


def test_course_builders_match_the_assignment():
    enc = build_course_conv_net((64, 64, 3), 16)
    assert enc.output_shape == (None, 16)
    assert [layer.filters for layer in enc.layers if hasattr(layer, "filters")] == [128] * 4
    dec = build_course_deconv_net(16)
    assert dec.output_shape == (None, 64, 64, 3)
    assert build_conv_net((64, 64, 3), 16, course=True).count_params() == enc.count_params()
    assert build_deconv_net(16, course=True).output_shape == (None, 64, 64, 3)


@pytest.mark.parametrize("size", [8, 48, 256, 63, "64", 64.0, True])
def test_unsupported_sizes_are_clear_errors(size):
    with pytest.raises(ValueError, match="power of two from 16 to 128"):
        check_image_size(size)


def test_bad_arguments():
    with pytest.raises(ValueError, match="power of two"):
        build_conv_net((48, 48, 3), 4)
    with pytest.raises(ValueError, match="latent dimension"):
        build_deconv_net(0)
    with pytest.raises(ValueError, match="need 4 downsampling"):
        build_conv_net((64, 64, 3), 4, n_downsampling_layers=3)
    with pytest.raises(ValueError, match="norm must be"):
        build_conv_net((16, 16, 3), 4, norm="group")


def test_widths_per_layer_replace_the_doubling_rule():
    enc = build_conv_net((32, 32, 3), 1, widths=(16, 24, 40), norm="none")
    assert [layer.filters for layer in enc.layers if layer.name.startswith("conv")] == [16, 24, 40]
    dec = build_deconv_net(8, image_size=32, widths=(40, 24, 16))
    assert [layer.filters for layer in dec.layers if layer.name.startswith("deconv")] == [40, 24, 16]
    assert dec.get_layer("project").units == 4 * 4 * 40
    # the default rule written out gives the very same networks
    assert (build_conv_net((32, 32, 3), 1, widths=(8, 16, 32)).count_params()
            == build_conv_net((32, 32, 3), 1, width=8).count_params())
    assert (build_deconv_net(8, image_size=32, widths=(32, 16, 8)).count_params()
            == build_deconv_net(8, image_size=32, width=8).count_params())
    with pytest.raises(ValueError, match="widths must give 3 positive"):
        build_conv_net((32, 32, 3), 1, widths=(8, 16))
    with pytest.raises(ValueError, match="widths must give 2 positive"):
        build_deconv_net(8, image_size=16, widths=(8, 0))


def test_spectral_norm_rescales_the_discriminators_kernels_when_training():
    # seeded: the weights and the power iteration's start vector otherwise depend on which tests
    # ran before in the worker, and 30 iterations converge more slowly for some draws than others
    keras.utils.set_random_seed(0)
    net = build_conv_net((16, 16, 3), 1, width=8, norm="none", spectral_norm=True)
    wrapped = [layer for layer in net.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert [layer.layer.name for layer in wrapped] == ["conv0", "conv1", "out"]
    kernel = wrapped[1].layer.kernel
    kernel.assign(3.0 * kernel.numpy())                          # well above 1
    before = kernel.numpy().copy()
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    net(x, training=False)
    np.testing.assert_array_equal(kernel.numpy(), before)       # inference leaves the weights alone
    for _ in range(100):                                          # power iterations converge
        net(x, training=True)
    matrix = kernel.numpy().reshape(-1, kernel.shape[-1])
    assert np.linalg.norm(matrix, 2) == pytest.approx(1.0, abs=0.02)
    assert np.linalg.norm(before.reshape(matrix.shape), 2) > 2


def test_projection_discriminator_adds_the_label_embedding_dot_the_features():
    net = build_conv_net((16, 16, 3), 1, width=8, norm="none", n_classes=3)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    table = np.random.default_rng(1).normal(size=(3, 4 * 4 * 16)).astype("float32")
    net.get_layer("label_embedding").embeddings.assign(table)
    features = keras.Model(net.inputs[0], net.get_layer("out").input)(x).numpy()
    a = net([x, np.array([0, 0])]).numpy()[:, 0]
    b = net([x, np.array([2, 2])]).numpy()[:, 0]
    np.testing.assert_allclose(a - b, features @ (table[0] - table[2]), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="projection discriminator"):
        build_conv_net((16, 16, 3), 4, n_classes=3)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        build_conv_net((16, 16, 3), 1, n_classes=1)


def test_conditional_generator_takes_noise_and_label():
    dec = build_deconv_net(4, image_size=16, width=8, n_classes=3, label_dim=5)
    assert [tuple(i.shape) for i in dec.inputs] == [(None, 4), (None,)]
    assert dec.get_layer("label_embedding").output_dim == 5
    z = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    same_z = np.repeat(z[:1], 2, axis=0)
    out = dec([same_z, np.array([0, 2])]).numpy()
    assert out.shape == (2, 16, 16, 3) and not np.allclose(out[0], out[1])
