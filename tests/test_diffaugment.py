import numpy as np
import pytest
import tensorflow as tf

from idl_utils.diffaugment import FILL, diff_augment, parse_policy

IMAGES = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved so that output[i, j] = image[i + dy, j + dx], FILL outside."""
    h, w = image.shape[:2]
    out = np.full_like(image, FILL)
    rows, cols = np.arange(h) + dy, np.arange(w) + dx
    ok_r, ok_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    out[np.ix_(ok_r, ok_c)] = image[np.ix_(rows[ok_r], cols[ok_c])]
    return out


def test_translation_shifts_each_image_by_at_most_an_eighth():
    out = diff_augment(IMAGES, "translation", seed=1).numpy()
    assert out.shape == IMAGES.shape and out.min() >= 0.0 and out.max() <= 1.0
    shifts = []
    for image, moved in zip(IMAGES, out, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(_shifted(image, dy, dx), moved)]
        assert len(found) == 1                       # 16 px / 8 = at most 2 px each way
        shifts.append(found[0])
    assert len(set(shifts)) > 1                      # drawn per image


def test_cutout_fills_one_square_of_half_the_size():
    out = diff_augment(IMAGES, "cutout", seed=2).numpy()
    assert out.shape == IMAGES.shape and out.min() >= 0.0 and out.max() <= 1.0
    for image, cut in zip(IMAGES, out, strict=True):
        changed = (cut != image).any(-1)
        np.testing.assert_array_equal(cut[changed], FILL)
        rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
        assert 0 < len(rows) <= 8 and 0 < len(cols) <= 8       # squares may stick out of the image
        assert changed[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1].all()   # one rectangle


def test_colour_on_a_grey_image_is_a_brightness_shift_only():
    """Saturation and contrast scale deviations from a mean: a uniform grey image has none."""
    grey = np.full((6, 8, 8, 3), 0.3, "float32")
    out = diff_augment(grey, "color", seed=3).numpy()
    per_image = out.reshape(6, -1)
    np.testing.assert_allclose(per_image, per_image[:, :1].repeat(per_image.shape[1], 1), atol=1e-6)
    assert np.all(np.abs(per_image[:, 0] - 0.3) <= 0.5) and np.ptp(per_image[:, 0]) > 0.05
    coloured = diff_augment(IMAGES, "color", seed=3).numpy()
    assert np.isfinite(coloured).all() and np.abs(coloured - IMAGES).mean() > 0.01


def test_gradients_flow_through_every_policy():
    x = tf.constant(IMAGES)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(diff_augment(x, "color,translation,cutout", seed=4) ** 2)
    grad = tape.gradient(loss, x).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0
    with tf.GradientTape() as tape:                  # cut-out pixels alone do not matter
        tape.watch(x)
        out = diff_augment(x, "cutout", seed=4)
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, x).numpy()
    np.testing.assert_array_equal(grad == 0, out.numpy() != IMAGES)


def test_seeds_empty_policy_and_bad_input():
    a, b = diff_augment(IMAGES, seed=5).numpy(), diff_augment(IMAGES, seed=5).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - diff_augment(IMAGES, seed=6).numpy()).max() > 0.1
    np.testing.assert_array_equal(diff_augment(IMAGES, "", seed=0).numpy(), IMAGES)
    assert parse_policy(" color , cutout ") == ("color", "cutout") and parse_policy("") == ()
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'zoom'.*color, translation, cutout"):
        diff_augment(IMAGES, "color,zoom")
    with pytest.raises(ValueError, match=r"batch of images \(batch, h, w, c\)"):
        diff_augment(IMAGES[0], "color")
