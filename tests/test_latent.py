import numpy as np
import pytest

from idl_utils.latent import (
    attribute_vector,
    fit_latent_gmm,
    interpolate_linear,
    interpolate_spherical,
    latent_map_2d,
    nearest_neighbours,
    sample_latent,
    sample_latent_gmm,
)


def test_sampling_is_seeded():
    assert np.array_equal(sample_latent(4, 8, seed=3), sample_latent(4, 8, seed=3))
    assert not np.array_equal(sample_latent(4, 8, seed=3), sample_latent(4, 8, seed=4))
    with pytest.raises(ValueError, match="latent dimension"):
        sample_latent(4, 0)


def test_interpolations_hit_both_ends_and_slerp_keeps_norms():
    z0, z1 = sample_latent(2, 128, seed=0)
    for fn in (interpolate_linear, interpolate_spherical):
        path = fn(z0, z1, 9)
        assert path.shape == (9, 128)
        np.testing.assert_allclose(path[0], z0, atol=1e-5)
        np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    lin_mid = np.linalg.norm(interpolate_linear(z0, z1, 9)[4])
    slerp_mid = np.linalg.norm(interpolate_spherical(z0, z1, 9)[4])
    typical = (np.linalg.norm(z0) + np.linalg.norm(z1)) / 2
    assert lin_mid < 0.85 * typical  # the straight line cuts through the low-norm interior
    assert slerp_mid == pytest.approx(typical, rel=1e-4)
    np.testing.assert_allclose(interpolate_spherical(z0, 2 * z0, 3)[1], 1.5 * z0, rtol=1e-5)


def test_attribute_vector_and_maps():
    codes = np.vstack([np.zeros((5, 3)), np.ones((5, 3))]).astype("float32")
    mask = np.array([False] * 5 + [True] * 5)
    np.testing.assert_allclose(attribute_vector(codes, mask), [1, 1, 1])
    with pytest.raises(ValueError):
        attribute_vector(codes, np.ones(10, bool))
    rng = np.random.default_rng(0)
    assert latent_map_2d(rng.normal(size=(40, 6)), "pca").shape == (40, 2)
    assert latent_map_2d(rng.normal(size=(40, 6)), "tsne").shape == (40, 2)


def test_nearest_neighbours_find_copies():
    rng = np.random.default_rng(0)
    train = rng.random((50, 8, 8, 3)).astype("float32")
    queries = np.stack([train[7], train[3] + 0.01])
    idx, dist = nearest_neighbours(queries, train)
    assert idx.tolist() == [7, 3]
    assert dist[0] < 1e-3 and dist[1] == pytest.approx(0.01, rel=1e-2)
    idx_self, dist_self = nearest_neighbours(train, train, exclude_self=True)
    assert (idx_self != np.arange(50)).all() and (dist_self > 0.1).all()


def test_latent_map_plot():
    import matplotlib

    matplotlib.use("Agg")
    from idl_utils.latent import plot_latent_map

    rng = np.random.default_rng(0)
    fig = plot_latent_map(rng.normal(size=(20, 2)), rng.random((20, 8, 8, 3)), max_thumbnails=5)
    assert len(fig.axes[0].artists) == 5


def test_latent_gmm_samples_both_of_two_separated_clusters():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-10, 1, (150, 4)), rng.normal(10, 1, (50, 4))])
    gmm = fit_latent_gmm(codes, n_components=2, seed=0)
    z = sample_latent_gmm(gmm, 400, seed=1)
    assert z.shape == (400, 4) and z.dtype == np.float32
    near_low, near_high = (np.abs(z + 10) < 4).all(1), (np.abs(z - 10) < 4).all(1)
    assert (near_low | near_high).mean() > 0.97          # nothing in the empty middle
    assert 0.65 < near_low.mean() < 0.85                 # in proportion to the clusters (3:1)
    assert not (near_low[:200].all() or near_high[:200].all())    # shuffled, not grouped
    np.testing.assert_array_equal(z, sample_latent_gmm(gmm, 400, seed=1))
    diag = sample_latent_gmm(fit_latent_gmm(codes, 2, seed=0, covariance_type="diag"), 50, seed=0)
    assert np.abs(np.abs(diag) - 10).max() < 6
    with pytest.raises(ValueError, match="cannot fit 5 mixture components"):
        fit_latent_gmm(codes[:3], n_components=5)
    with pytest.raises(ValueError, match="covariance_type"):
        fit_latent_gmm(codes, 2, covariance_type="spherical")


def test_copy_check_finds_a_copied_sample_and_the_training_sets_own_spacing():
    from idl_utils.latent import copy_check

    rng = np.random.default_rng(0)
    train = rng.random((50, 8, 8, 3)).astype("float32")
    copies = train[[3, 7]] + 0.001
    fresh = rng.random((2, 8, 8, 3)).astype("float32")
    check, rows = copy_check({"copier": copies, "fresh": fresh}, train, n_reference=20, n_shown=1)
    spacing = check["training set (to each other)"]["median_nn_distance"]
    assert check["copier"]["median_nn_distance"] < 0.01 < spacing
    assert check["fresh"]["median_nn_distance"] > 0.5 * spacing
    np.testing.assert_array_equal(rows["nearest training (copier)"], train[[3]])
    assert list(rows) == ["copier sample", "nearest training (copier)",
                          "fresh sample", "nearest training (fresh)"]
