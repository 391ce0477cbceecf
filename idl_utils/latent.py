"""Latent-space tools: sampling, interpolation, arithmetic, 2-D maps, copy checks, and a
second-stage prior for a VAE (:func:`fit_latent_gmm`, :func:`sample_latent_gmm`).

All functions work on plain arrays ``(n, latent_dim)``; turning codes into images is
:func:`idl_utils.generative.decode`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .builders import check_latent_dim


def sample_latent(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """``n`` vectors from the prior ``N(0, I)``: ``(n, latent_dim)`` float32, seeded."""
    check_latent_dim(latent_dim)
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")


def fit_latent_gmm(codes: np.ndarray, n_components: int = 10, seed: int = 0, *,
                   covariance_type: str = "full") -> Any:
    """A Gaussian mixture (scikit-learn's ``GaussianMixture``, ``n_components`` Gaussians,
    ``"full"`` or ``"diag"`` covariances) fitted to ``codes`` ``(n, latent_dim)``, typically a
    VAE's encoder means of the training images (:func:`idl_utils.generative.encode`).

    Why: a VAE's aggregate posterior -- where the codes of real images actually lie -- does not
    fill N(0, I) evenly, so some prior samples fall where no training image was encoded and
    decode to mush. Sampling codes from a density fitted to the real codes instead (a second
    stage, as in Ghosh et al., 2020, "From Variational to Deterministic Autoencoders") avoids
    those holes. Sample it with :func:`sample_latent_gmm`."""
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, dtype="float64")
    if codes.ndim != 2:
        raise ValueError(f"codes must be (n, latent_dim), got shape {codes.shape}")
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    if len(codes) < n_components:
        raise ValueError(f"{len(codes)} codes cannot fit {n_components} mixture components: "
                         "encode more images or use fewer components")
    if covariance_type not in ("full", "diag"):
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}")
    # a small ridge keeps every covariance invertible when the codes are nearly degenerate
    return GaussianMixture(n_components, covariance_type=covariance_type, reg_covar=1e-5,
                           random_state=seed).fit(codes)


def sample_latent_gmm(gmm: Any, n: int, seed: int = 0) -> np.ndarray:
    """``n`` latent vectors ``(n, latent_dim)`` float32 from a mixture fitted by
    :func:`fit_latent_gmm`, seeded and in random order (``GaussianMixture.sample`` returns them
    grouped by component and always with the mixture's own seed): decode them with
    :func:`idl_utils.generative.decode`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    component = rng.choice(len(gmm.weights_), size=n, p=gmm.weights_ / gmm.weights_.sum())
    eps = rng.standard_normal((n, gmm.means_.shape[1]))
    if gmm.covariance_type == "full":
        chol = np.linalg.cholesky(gmm.covariances_)            # (k, d, d), lower triangular
        offsets = np.einsum("nij,nj->ni", chol[component], eps)
    elif gmm.covariance_type == "diag":
        offsets = np.sqrt(gmm.covariances_[component]) * eps
    else:
        raise ValueError(f"sample_latent_gmm handles 'full' and 'diag' mixtures, not {gmm.covariance_type!r}")
    return (gmm.means_[component] + offsets).astype("float32")


def interpolate_linear(z0: np.ndarray, z1: np.ndarray, steps: int = 8) -> np.ndarray:
    """``steps`` points on the straight line from ``z0`` to ``z1`` (both ends included):
    ``(steps, latent_dim)``."""
    t = np.linspace(0.0, 1.0, steps, dtype="float64")[:, None]
    return ((1 - t) * np.asarray(z0, "float64") + t * np.asarray(z1, "float64")).astype("float32")


def interpolate_spherical(z0: np.ndarray, z1: np.ndarray, steps: int = 8) -> np.ndarray:
    """Spherical interpolation (slerp): along the great circle between ``z0`` and ``z1``,
    with the norm interpolated linearly.

    Why: in high dimensions nearly all of N(0, I)'s mass lies near the sphere of radius
    ``sqrt(latent_dim)``. The midpoint of a straight line between two samples is shorter
    (about ``1/sqrt(2)`` of that), i.e. an atypical code the decoder rarely saw; slerp stays
    at typical norms. Falls back to linear for (anti)parallel vectors."""
    a, b = np.asarray(z0, "float64"), np.asarray(z1, "float64")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if na == 0 or nb == 0:
        return interpolate_linear(a, b, steps)
    cos = np.clip(np.dot(a / na, b / nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return interpolate_linear(a, b, steps)
    direction = (np.sin((1 - t) * omega) * (a / na) + np.sin(t * omega) * (b / nb)) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype("float32")


def attribute_vector(codes: np.ndarray, has_attribute: np.ndarray) -> np.ndarray:
    """Latent arithmetic: mean code of the images with an attribute minus the mean of those
    without it. Adding it to a code should add the attribute."""
    has_attribute = np.asarray(has_attribute, dtype=bool)
    if has_attribute.all() or not has_attribute.any():
        raise ValueError("need images both with and without the attribute")
    return (codes[has_attribute].mean(0) - codes[~has_attribute].mean(0)).astype("float32")


def latent_map_2d(codes: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project codes ``(n, d)`` to 2-D ``(n, 2)`` with PCA (linear, fast, axes meaningful) or
    t-SNE (non-linear, keeps neighbourhoods, distances between clusters meaningless)."""
    from sklearn.decomposition import PCA

    codes = np.asarray(codes, dtype="float64")
    if codes.shape[1] <= 2:
        return codes[:, :2].astype("float32")
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(codes).astype("float32")
    if method == "tsne":
        from sklearn.manifold import TSNE

        start = PCA(min(30, codes.shape[1]), random_state=seed).fit_transform(codes)
        return TSNE(2, init="pca", random_state=seed, perplexity=min(30, len(codes) - 1)).fit_transform(
            start).astype("float32")
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def plot_latent_map(coords: np.ndarray, images: np.ndarray, *, max_thumbnails: int = 300,
                    zoom: float = 0.35, seed: int = 0, title: str | None = None) -> Any:
    """Scatter the 2-D ``coords`` and draw thumbnails of (a seeded subset of) ``images`` at
    their positions, so neighbourhoods in latent space can be seen."""
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    fig, ax = plt.subplots(figsize=(10, 10))
    ax.scatter(coords[:, 0], coords[:, 1], s=3, c="lightgray")
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(coords), min(max_thumbnails, len(coords)), replace=False)
    for i in shown:
        box = AnnotationBbox(OffsetImage(np.clip(images[i], 0, 1), zoom=zoom), coords[i], frameon=False)
        ax.add_artist(box)
    ax.set(xticks=[], yticks=[], title=title or "")
    return fig


def nearest_neighbours(queries: np.ndarray, reference: np.ndarray, *, exclude_self: bool = False,
                       batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """For every query image the index of the closest reference image and the pixel RMS distance
    between them: ``(idx (n,), dist (n,))``. ``exclude_self``: queries are the reference set
    itself, skip the trivial match (gives the typical train-to-train distance).

    Used to check that generated images are not copies of training images: a generated image
    much closer to its neighbour than training images are to each other would be a copy."""
    q = np.asarray(queries, "float32").reshape(len(queries), -1)
    r = np.asarray(reference, "float32").reshape(len(reference), -1)
    r_sq = np.einsum("ij,ij->i", r, r)
    idx = np.empty(len(q), dtype=np.int64)
    dist = np.empty(len(q), dtype=np.float64)
    for s in range(0, len(q), batch_size):
        block = q[s: s + batch_size]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + r_sq[None] - 2.0 * block @ r.T
        if exclude_self:
            d2[np.arange(len(block)), np.arange(s, s + len(block))] = np.inf
        idx[s: s + len(block)] = np.argmin(d2, axis=1)
        dist[s: s + len(block)] = np.sqrt(np.maximum(d2[np.arange(len(block)), idx[s: s + len(block)]], 0)
                                          / q.shape[1])
    return idx, dist


def copy_check(samples: dict[str, np.ndarray], train_images: np.ndarray, *, n_reference: int = 1000,
               n_shown: int = 10) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Are generated images copies of training images? For every set in ``samples`` (label ->
    images ``(n, h, w, 3)``) the median and smallest pixel RMS distance to the nearest training
    image, and the same for the first ``n_reference`` training images to each other (key
    ``"training set (to each other)"``: what "near" means in this dataset). Also returns rows
    for an image figure: the first ``n_shown`` samples of each set above their nearest training
    images."""
    check, rows = {}, {}
    for label, images in samples.items():
        idx, dist = nearest_neighbours(images, train_images)
        check[label] = {"median_nn_distance": float(np.median(dist)), "min_nn_distance": float(dist.min())}
        rows[f"{label} sample"] = images[:n_shown]
        rows[f"nearest training ({label})"] = train_images[idx[:n_shown]]
    reference = train_images[: min(len(train_images), n_reference)]
    _, dist = nearest_neighbours(reference, reference, exclude_self=True)
    check["training set (to each other)"] = {"median_nn_distance": float(np.median(dist)),
                                             "min_nn_distance": float(dist.min())}
    return check, rows
