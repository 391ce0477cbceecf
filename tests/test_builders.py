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
