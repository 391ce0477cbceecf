import numpy as np
import pytest

from idl_utils.digit_drawer import (
    ConditionalVAE,
    DigitDrawer,
    DrawerRecipe,
    crop_digits,
    draw_digits,
    drawn_digits_by_class,
    fit_sharpness,
    mean_pairwise_distance,
    noise_for,
    pad_digits,
    real_digits_by_class,
    same_digit_diversity,
    sharpen,
    train_digit_generator,
    trained_drawer,
)
from idl_utils.glyphs import MINUS, GlyphBank, draw_operators, glyph_banks, hash_keys
from idl_utils.image_seq_models import grey_share
from idl_utils.mnist import load_mnist
from idl_utils.queries import make_queries, queries_from_strings, split_queries


@pytest.fixture(scope="module")
def digits() -> GlyphBank:
    """1,000 real MNIST training digits."""
    return glyph_banks(load_mnist(max_train=1000, max_test=100))["train"]


@pytest.fixture(scope="module")
def generator(digits):
    """A small conditional VAE trained for 4 short epochs on the 1,000 digits."""
    model = ConditionalVAE(8, width=8, seed=0).build_all()
    recipe = DrawerRecipe(latent_dim=8, width=8, epochs=4, batch_size=16, learning_rate=3e-3,
                          sharpen=False)
    info = train_digit_generator(model, digits, recipe, seed=0, verbose=0)
    return model, info


def test_padding_is_undone_by_cropping():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    padded = pad_digits(images)
    assert padded.shape == (3, 32, 32, 1) and padded.max() <= 1.0
    assert padded[:, :2].max() == 0 and padded[:, :, -2:].max() == 0  # blank borders
    assert np.allclose(crop_digits(padded), images / 255.0)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        pad_digits(np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match=r"\(n, 32, 32, 1\)"):
        crop_digits(np.zeros((3, 28, 28)))


def test_sharpen_keeps_paper_and_ink_and_removes_grey():
    p = np.linspace(0, 1, 101, dtype=np.float32)
    out = sharpen(p, 12.0)
    assert out[0] == pytest.approx(0.0, abs=1e-6) and out[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(out) >= 0)  # monotone: never swaps ink and paper
    assert grey_share(out) < grey_share(p)
    assert np.array_equal(sharpen(p, 0.0), p)
    with pytest.raises(ValueError, match="sharpness"):
        sharpen(p, -1.0)


def test_fit_sharpness_matches_the_grey_share_of_real_digits(digits):
    real = digits.images[:200] / 255.0
    assert fit_sharpness(real, real) == 0.0  # nothing to correct
    blurred = (real + np.roll(real, 1, axis=1) + np.roll(real, 1, axis=2)) / 3
    k = fit_sharpness(blurred, real)
    assert k > 0
    target = grey_share(real)
    assert abs(grey_share(sharpen(blurred, k)) - target) < abs(grey_share(blurred) - target)


def test_noise_depends_on_the_key_only():
    noise = noise_for(np.arange(2000), 8, seed=1)
    assert noise.shape == (2000, 8)
    assert abs(noise.mean()) < 0.05 and abs(noise.std() - 1) < 0.05
    assert np.array_equal(noise_for(np.array([1500, 7]), 8, seed=1), noise[[1500, 7]])
    assert not np.allclose(noise_for(np.arange(5), 8, seed=2), noise[:5])


def test_pairwise_distance():
    a, b = np.zeros((28, 28)), np.zeros((28, 28))
    b[0, :4] = 1.0  # four pixels apart: distance 2
    assert mean_pairwise_distance(np.stack([a, a, a])) == 0.0
    assert mean_pairwise_distance(np.stack([a, b])) == pytest.approx(2.0)
    assert mean_pairwise_distance(np.stack([a, a, b])) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(a[None])
    same = np.broadcast_to(b, (10, 3, 5, 28, 28))
    assert same_digit_diversity(same) == 0.0


def test_real_digits_of_a_class_differ(digits):
    groups = real_digits_by_class(digits, k=5, sets=2, seed=0)
    assert groups.shape == (10, 2, 5, 28, 28)
    assert same_digit_diversity(groups) > 5.0  # MNIST digits differ by many pixels
    with pytest.raises(ValueError, match="fewer than k"):
        real_digits_by_class(digits, k=500)


def test_generator_learns_and_follows_the_label(generator):
    model, info = generator
    losses = info["history"]["loss"]
    assert losses[-1] < losses[0]
    noise = noise_for(np.arange(200), model.latent_dim, seed=0)
    ones = draw_digits(model, np.full(200, 1), noise)
    zeros = draw_digits(model, np.full(200, 0), noise)
    assert ones.shape == (200, 28, 28) and 0 <= ones.min() and ones.max() <= 1
    # a 1 is a stroke, a 0 a ring: the same noise draws far less ink for the label 1
    assert ones.sum(axis=(1, 2)).mean() < 0.8 * zeros.sum(axis=(1, 2)).mean()
    # another noise, another handwriting
    assert mean_pairwise_distance(zeros[:10]) > 0.5
    with pytest.raises(ValueError, match="digits 0-9"):
        draw_digits(model, np.array([10]), noise[:1])
    with pytest.raises(ValueError, match="noise"):
        draw_digits(model, np.array([1, 2]), noise[:1])


def test_drawer_draws_answers_glyph_by_glyph(generator):
    model, _ = generator
    drawer = DigitDrawer(column_model=None, generator=model)
    answers = np.array(["-7 ", "105", "7  "])
    keys = np.array([10, 11, 12])
    images = drawer.draw_text(answers, keys, seed=3)
    assert images.shape == (3, 3, 28, 28)
    assert images[0, 2].max() == 0 and images[2, 1:].max() == 0  # blanks stay empty
    # the minus sign is drawn by the kit's operator strokes
    minus = draw_operators(np.array([MINUS]), hash_keys(3, 5, np.array([10 * 3 + 0])))
    assert np.array_equal(images[0, 0], minus[0])
    # each glyph is fixed by its key and seed: the same in another batch, new with another seed
    assert np.array_equal(drawer.draw_text(answers[1:2], keys[1:2], seed=3)[0], images[1])
    assert not np.allclose(drawer.draw_text(answers, keys, seed=4)[2, 0], images[2, 0])
    # the two 7s of one call are two handwritings
    assert not np.allclose(images[0, 1], images[2, 0])
    with pytest.raises(ValueError, match="one key per answer"):
        drawer.draw_text(answers, keys[:2])


def test_same_digit_diversity_of_the_drawer_is_measured_per_digit(generator):
    model, _ = generator
    drawn = drawn_digits_by_class(DigitDrawer(None, model), k=4, sets=2, seed=0)
    assert drawn.shape == (10, 2, 4, 28, 28)
    assert same_digit_diversity(drawn) > 0.5
    colder = drawn_digits_by_class(DigitDrawer(None, model, temperature=0.1), k=4, sets=2, seed=0)
    assert same_digit_diversity(colder) < same_digit_diversity(drawn)  # less spread, less variety


def test_trained_drawer_answers_and_is_cached(digits):
    split = split_queries(make_queries(2).sample(600, 0), 0.5, 0, val_fraction=0.1)
    recipe = DrawerRecipe(latent_dim=4, width=8, epochs=1, batch_size=64, n_train=256,
                          column_epochs=20, column_restarts=1)
    drawer, info = trained_drawer(split, digits, recipe, mnist_source="test", seed=0, verbose=0)
    assert not info["cached"] and info["seconds"] > 0 and info["sharpness"] >= 0
    qs = queries_from_strings(["81+24", "7-95", "3+4"], 2)
    assert list(drawer.answers(qs)) == ["105", "-88", "7  "]
    # the column model is widened for 3-digit queries
    wide = queries_from_strings(["981+24", "7-950"], 3)
    assert list(drawer.answers(wide)) == ["1005", "-943"]
    assert drawer.draw(wide).shape == (2, 4, 28, 28)
    again, info_again = trained_drawer(split, digits, recipe, mnist_source="test", seed=0, verbose=0)
    assert info_again["cached"]
    assert np.array_equal(again.draw(qs, seed=1), drawer.draw(qs, seed=1))
