import numpy as np
import pytest

from idl_utils.features import FeatureExtractor, batched


def test_batched_sees_bounded_slices_and_keeps_the_order():
    seen: list[int] = []

    def squares(chunk: np.ndarray) -> np.ndarray:
        seen.append(len(chunk))
        return chunk ** 2

    out = batched(squares, np.arange(10), 4)
    assert seen == [4, 4, 2]
    np.testing.assert_array_equal(out, np.arange(10) ** 2)
    with pytest.raises(ValueError, match="batch_size"):
        batched(squares, np.arange(10), 0)
    with pytest.raises(ValueError, match="empty"):
        batched(squares, np.arange(0), 4)


def test_an_extractor_checks_the_image_shape_and_returns_float64():
    extractor = FeatureExtractor("channel means", lambda x: x.reshape(len(x), -1, 3).mean(1), 3)
    images = np.random.default_rng(0).random((5, 8, 8, 3)).astype("float32")
    features = extractor(images)
    assert features.shape == (5, 3) and features.dtype == np.float64
    np.testing.assert_allclose(features, images.mean((1, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(n, h, w, 3\)"):
        extractor(images[..., :1])
