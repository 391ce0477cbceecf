"""FID, KID, precision and recall: how far generated images are from real ones, in a feature space.

All compare two *sets* of images through a :class:`~idl_utils.features.FeatureExtractor`
(``(n, h, w, 3)`` in [0, 1] -> ``(n, d)``):

* **KID** (kernel distance), the headline score: the unbiased squared MMD with the cubic
  polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets, with its
  standard deviation over them. Its expected value does not depend on the number of images, so
  it can dip just below 0 for sets from one distribution, and gaps within one std are ties.
* **FID** (Fréchet distance): fit a Gaussian to each set's features and measure
  ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Lower is better, but it is biased
  upward for small sets: at 500 images even two halves of the real data score well above 0
  (:func:`fid_bias_note` says so next to that floor).
* **Precision and recall** (Kynkäänniemi et al., 2019, "Improved precision and recall metric
  for assessing generative models"): each set's manifold is the union of balls around its
  samples reaching each one's k-th nearest neighbour. Precision is the share of generated
  samples inside the real manifold (realism), recall the share of real samples inside the
  generated one (coverage): a blurry model can have coverage without realism, a collapsed one
  realism without coverage.

The matrix square root is computed through symmetric eigen-decompositions, which are real by
construction (no complex "1989424.07 - 0.003j" results), and tiny negative eigenvalues from
rounding are clamped to 0.

Feature extractors: the standard FID network (:mod:`idl_utils.fid_inception`, weights from the
package registry) or :func:`classifier_extractor`: a small CNN trained on the real images to
predict a label that exists in the data, whose penultimate layer gives the features.
:func:`get_feature_extractor` picks one and says which, loudly. Scores from different
extractors are not comparable with each other or with published FIDs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .features import FeatureExtractor
from .fid_inception import fid_inception_extractor
from .provenance import announce, record_source

DEFAULT_K = 3                      # Kynkäänniemi et al.'s choice: small k, tight manifolds
PUBLISHED_FID_IMAGES = 50_000      # the number of images published FIDs are computed with


# --------------------------------------------------------------------------- the distances

def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (n, d) and (m, d) with the same d, got {a.shape} and "
                         f"{b.shape} (features of images, not the images themselves?)")
    return a, b


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negatives from rounding -> 0)."""
    sym = (matrix + matrix.T) / 2
    w, v = np.linalg.eigh(sym)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(a: np.ndarray, b: np.ndarray, low_rank: bool) -> float:
    """``tr((S1 S2)^(1/2))`` for the covariances ``S1``, ``S2`` of the centred sets ``a``, ``b``.

    ``low_rank=False``: ``tr((R S2 R)^(1/2))`` with ``R = S1^(1/2)``, via ``d x d`` matrices.
    ``low_rank=True``: with ``S1 = A'A/(n-1)`` and ``S2 = B'B/(m-1)``, the non-zero eigenvalues
    of ``S1 S2`` are the squared singular values of ``A B'`` (``n x m``) over ``(n-1)(m-1)``, so
    the trace is their sum of singular values: the same number without any ``d x d`` matrix,
    much cheaper when the sets are smaller than the feature size (500 images, 2,048 features)."""
    n, m = len(a), len(b)
    if low_rank:
        return float(np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1)))
    root_a = _sqrt_psd(a.T @ a / (n - 1))
    middle = root_a @ (b.T @ b / (m - 1)) @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets ``(n, d)`` and ``(m, d)``: a real number >= 0.

    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``; the last term is computed with
    ``n x m`` matrices when a set has fewer samples than features, else with ``d x d`` ones
    (:func:`_trace_sqrt_product`; both are exact, they differ only in rounding)."""
    a, b = _check_pair(features_a, features_b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least 2 samples per set to estimate a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    a, b = a - mu_a, b - mu_b
    trace_a, trace_b = float((a**2).sum() / (len(a) - 1)), float((b**2).sum() / (len(b) - 1))
    tr_covmean = _trace_sqrt_product(a, b, low_rank=min(len(a), len(b)) < a.shape[1])
    fid = float(np.sum((mu_a - mu_b) ** 2) + trace_a + trace_b - 2 * tr_covmean)
    if not np.isfinite(fid):
        raise FloatingPointError("FID is not finite: check the features for NaN/inf")
    return max(fid, 0.0)


def kernel_distance(features_a: np.ndarray, features_b: np.ndarray, *, n_subsets: int = 50,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation over ``n_subsets`` random subsets of the unbiased
    squared MMD with kernel ``(x.y/d + 1)^3``."""
    a, b = _check_pair(features_a, features_b)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("need at least 2 samples per set")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
               - 2 * kxy.mean())
        values.append(mmd)
    return float(np.mean(values)), float(np.std(values))


# --------------------------------------------------------------------------- precision and recall

def _check_k(k: int, n: int, which: str) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (nearest neighbours) must be a positive integer, got {k!r}")
    if n < k + 1:
        raise ValueError(f"precision/recall with k={k} needs at least {k + 1} {which}samples (each "
                         f"one's {k} nearest neighbours, itself excluded), got {n}: score more images "
                         "or lower k")


def _squared_distances(a: np.ndarray, b: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` squared Euclidean distances; rounding below 0 clamped to 0."""
    d2 = (a * a).sum(1)[:, None] + b_norms[None, :] - 2 * (a @ b.T)
    return np.maximum(d2, 0, out=d2)


def _finite_features(features: np.ndarray, which: str) -> np.ndarray:
    f = np.asarray(features, "float64")
    if f.ndim != 2:
        raise ValueError(f"{which} features must be (n, d), got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"{which} features contain NaN or inf: check the images and the extractor")
    return f


def knn_radii(features: np.ndarray, k: int = DEFAULT_K, *, batch_size: int = 1024) -> np.ndarray:
    """``(n,)`` distance from each of ``features`` ``(n, d)`` to its ``k``-th nearest neighbour
    in the same set, itself excluded (an exact duplicate counts as a neighbour at distance 0).
    The ball of that radius around each sample, united, is the set's manifold estimate.
    Distances are computed ``batch_size`` rows at a time: memory ``batch_size x n``, never
    ``n x n``."""
    f = _finite_features(features, "the")
    _check_k(k, len(f), "")
    norms = (f * f).sum(1)
    radii = np.empty(len(f))
    for start in range(0, len(f), batch_size):
        stop = min(start + batch_size, len(f))
        d2 = _squared_distances(f[start:stop], f, norms)
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf      # not its own neighbour
        radii[start:stop] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return np.sqrt(radii)


def precision_recall(real_features: np.ndarray, generated_features: np.ndarray, k: int = DEFAULT_K, *,
                     batch_size: int = 1024, real_radii: np.ndarray | None = None) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) of ``generated_features``
    ``(m, d)`` against ``real_features`` ``(n, d)``, with ``k``-nearest-neighbour manifolds.

    * ``precision``: the share of generated samples within the real manifold (some real
      sample's ball reaching its k-th real neighbour): are the samples realistic?
    * ``recall``: the share of real samples within the generated manifold: does the model
      cover the variety of the data?

    Both are 1 for identical sets; for two *independent* samples of one distribution they are
    below 1 (balls around a finite sample miss some of the distribution), so compare with the
    same real-vs-real floor as FID. Memory is ``batch_size x max(n, m)`` floats, so 5,000 x
    5,000 sets of 2048-d features take tens of MB. ``real_radii`` (from :func:`knn_radii` with
    the same ``k``) saves recomputing them when several sets are scored against one real set."""
    real = _finite_features(real_features, "real")
    fake = _finite_features(generated_features, "generated")
    real, fake = _check_pair(real, fake)
    _check_k(k, len(real), "real ")
    _check_k(k, len(fake), "generated ")
    if real_radii is None:
        real_radii = knn_radii(real, k, batch_size=batch_size)
    real_radii = np.asarray(real_radii, "float64")
    if real_radii.shape != (len(real),):
        raise ValueError(f"real_radii must have one radius per real sample ({len(real)},), "
                         f"got {real_radii.shape}")
    fake_radii = knn_radii(fake, k, batch_size=batch_size)
    real_r2, fake_r2, real_norms = real_radii ** 2, fake_radii ** 2, (real * real).sum(1)
    realistic = np.zeros(len(fake), dtype=bool)
    covered = np.zeros(len(real), dtype=bool)
    for start in range(0, len(fake), batch_size):     # one (batch, n) block serves both scores
        stop = min(start + batch_size, len(fake))
        d2 = _squared_distances(fake[start:stop], real, real_norms)
        realistic[start:stop] = (d2 <= real_r2[None, :]).any(1)
        covered |= (d2 <= fake_r2[start:stop, None]).any(0)
    return {"precision": float(realistic.mean()), "recall": float(covered.mean())}


# --------------------------------------------------------------------------- scoring sets of images

def feature_scores(real_features: np.ndarray, generated_features: np.ndarray, *,
                   features: str = "given features", seed: int = 0, k: int = DEFAULT_K,
                   real_radii: np.ndarray | None = None) -> dict[str, Any]:
    """KID (mean and std), FID, precision and recall of ``generated_features`` against
    ``real_features`` (both ``(n, d)``), labelled with the name of the ``features``. KID is
    averaged over random subsets of half of each set (at most 1,000), so that the subsets
    differ and ``kid_std`` measures sampling noise (what :func:`kid_verdict` compares gaps
    with). ``pr_k`` is the k of the precision/recall manifolds."""
    fa, fb = _check_pair(real_features, generated_features)
    subset = max(2, min(1000, len(fa) // 2, len(fb) // 2))
    kid, kid_std = kernel_distance(fa, fb, seed=seed, subset_size=subset)
    pr = precision_recall(fa, fb, k, real_radii=real_radii)
    return {"kid": kid, "kid_std": kid_std, "fid": frechet_distance(fa, fb), **pr, "pr_k": k,
            "features": features, "n_real": len(fa), "n_generated": len(fb)}


def image_scores(real: np.ndarray, generated: np.ndarray, extractor: FeatureExtractor, *,
                 seed: int = 0, k: int = DEFAULT_K) -> dict[str, Any]:
    """:func:`feature_scores` (KID ± std, FID, precision, recall) of ``generated`` against
    ``real`` images, in the features of ``extractor`` and labelled with its name."""
    return feature_scores(extractor(real), extractor(generated), features=extractor.name, seed=seed, k=k)


def cached_features(extractor: FeatureExtractor, images: np.ndarray) -> np.ndarray:
    """``extractor(images)``, stored in the model cache (``features/<hash>.npy``) under a hash of
    the extractor's name and the images' exact bytes, so that re-running a notebook does not
    push the same images through an expensive network again. Only for extractors whose weights
    are fixed by their name (such as the standard FID network); ``IDL_RETRAIN=1`` recomputes."""
    import hashlib
    import io

    from .cache import RETRAIN_ENV
    from .config import cache_dir
    from .results import atomic_write_bytes

    images = np.ascontiguousarray(images, dtype="float32")
    digest = hashlib.sha256(f"{extractor.name}|{images.shape}|".encode() + images.tobytes()).hexdigest()[:20]
    path = cache_dir() / "features" / f"{digest}.npy"
    if path.exists() and os.environ.get(RETRAIN_ENV, "") not in {"1", "true"}:
        return np.load(path)
    features = extractor(images)
    buffer = io.BytesIO()
    np.save(buffer, features)
    atomic_write_bytes(path, buffer.getvalue())
    return features


def score_sets(real: np.ndarray, sets: Mapping[str, np.ndarray], extractor: FeatureExtractor, *,
               seed: int = 0, cache: bool = False, k: int = DEFAULT_K) -> dict[str, dict[str, Any]]:
    """:func:`image_scores` of every image set in ``sets`` (name -> images) against ``real``,
    with the real images' features and k-NN radii computed once (it matters for an expensive
    extractor). ``cache=True`` keeps every set's features (see :func:`cached_features`)."""
    features = (lambda images: cached_features(extractor, images)) if cache else extractor
    real_features = features(real)
    radii = knn_radii(real_features, k)
    return {name: feature_scores(real_features, features(images), features=extractor.name, seed=seed, k=k,
                                 real_radii=radii)
            for name, images in sets.items()}


# --------------------------------------------------------------------------- verdicts and tables

def kid_verdict(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("a", "b")) -> str:
    """Which of two :func:`image_scores` results has the lower KID, honestly: a gap smaller than
    the larger of the two KID standard deviations (over random subsets) is called a tie."""
    gap, noise = b["kid"] - a["kid"], max(a["kid_std"], b["kid_std"])
    if gap > noise:
        return f"{names[0]} better"
    if -gap > noise:
        return f"{names[1]} better"
    return "a tie (within 1 std)"


def fid_verdict(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("a", "b")) -> str:
    """Which of two :func:`image_scores` results has the lower FID. FID comes without a spread
    here, so this is a plain comparison; lean on :func:`kid_verdict` for close calls."""
    return f"{names[0]} better" if a["fid"] < b["fid"] else f"{names[1]} better"


#: Below this precision almost no sample lies near a real image: the model has not learned the data.
UNLEARNED_PRECISION = 0.05


def precision_recall_reading(name: str, precision: float, recall: float) -> str:
    """What a model's precision and recall say about *why* it is far from the data
    (Kynkäänniemi et al., 2019), as one sentence: few realistic samples (not learned yet),
    narrower than it is realistic (recall under half the precision: the signature of dropped
    modes), more varied than realistic (precision under half the recall: the signature of blur),
    or balanced. The comparison is relative: a low precision stays low (compare it with the
    real-vs-real floor).

    >>> precision_recall_reading("GAN", 0.10, 0.014)
    'GAN: narrower than it is realistic (precision 0.10, recall 0.01): the signature of dropped modes'
    """
    shown = f"(precision {precision:.2f}, recall {recall:.2f})"
    if precision < UNLEARNED_PRECISION:
        return f"{name}: few samples lie near a real image {shown}: it has not learned the data yet"
    if recall < precision / 2:
        return f"{name}: narrower than it is realistic {shown}: the signature of dropped modes"
    if precision < recall / 2:
        return f"{name}: more varied than realistic {shown}: the signature of blur"
    return f"{name}: precision and recall within a factor of two of each other {shown}"


def format_kid(result: Mapping[str, Any]) -> str:
    """``"0.0916 ± 0.0021"``: a result's KID and its std, to the std's second significant digit
    (more digits would be noise)."""
    kid, std = float(result["kid"]), float(result["kid_std"])
    if not (std > 0 and math.isfinite(std)):
        return f"{kid:.4g} ± {std:.2g}"
    decimals = min(8, max(0, 1 - math.floor(math.log10(std))))
    return f"{kid:.{decimals}f} ± {std:.{decimals}f}"


def fid_bias_note(n_images: int, floor_fid: float | None = None) -> str:
    """The sentence to print next to the real-vs-real floor: FID at ``n_images`` images per set
    is biased upward (published FIDs use 50,000), so its floor is not 0 and FIDs compare only at
    equal set sizes, while KID's expected value does not depend on the number of images."""
    if n_images < 2:
        raise ValueError(f"n_images must be the number of images per scored set (>= 2), got {n_images}")
    floor = "its floor is above 0" if floor_fid is None else f"real vs real scores {floor_fid:.3g}, not 0"
    if n_images >= PUBLISHED_FID_IMAGES:
        return f"FID at {n_images:,} images per set, as in published FIDs; real vs real is its floor."
    return (f"FID at {n_images:,} images is biased upward: {floor}, and FIDs compare only at "
            f"{n_images:,} images (published ones use {PUBLISHED_FID_IMAGES:,}). KID is unbiased "
            "(floor about 0): the headline.")


def score_table(scores: Mapping[str, Mapping[str, Any]], *, floor: str | None = "real vs real (floor)",
                extra: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows for :func:`~idl_utils.results.markdown_table`, headline first: model, KID ± std,
    FID, precision, recall, images per set, then any ``extra`` columns of that model
    (e.g. ``{"GAN": {"epochs": 20}}``; blank in other rows) and a note: the row named ``floor`` carries
    :func:`fid_bias_note`. ``scores`` maps names to :func:`feature_scores` results."""
    if not scores:
        raise ValueError("no scores to tabulate")
    extra = extra or {}
    # every row gets every extra column (blank where a model has none): a table takes its
    # columns from the first row, which is usually the floor
    extra_columns = list(dict.fromkeys(c for columns in extra.values() for c in columns))
    rows = []
    for name, s in scores.items():
        row = {"model": name, "KID ± std": format_kid(s), "FID": s["fid"],
               "precision": s.get("precision", ""), "recall": s.get("recall", ""),
               "images": s.get("n_generated", ""),
               **{c: extra.get(name, {}).get(c, "") for c in extra_columns}, "note": ""}
        if name == floor:
            row["note"] = fid_bias_note(int(s["n_generated"]), s["fid"])
        rows.append(row)
    if not any(row["note"] for row in rows):
        for row in rows:
            del row["note"]
    return rows


def comparison_row(model: str, kit_label: str, course_label: str, kit: dict[str, Any],
                   course: dict[str, Any], kit_seconds: float, course_seconds: float) -> dict[str, Any]:
    """One row of notebook 01's course-vs-kit table: KID ± std of both models (from
    :func:`image_scores`) and the KID verdict first, then FID, precision and recall (when
    scored) and the training seconds of each."""
    row = {"model": model, "kit": kit_label, "course": course_label,
           "KID kit": format_kid(kit), "KID course": format_kid(course),
           "KID verdict": kid_verdict(kit, course, ("kit", "course")),
           "FID kit": kit["fid"], "FID course": course["fid"]}
    for key in ("precision", "recall"):
        if key in kit and key in course:
            row[f"{key} kit"], row[f"{key} course"] = kit[key], course[key]
    return {**row, "kit seconds": round(kit_seconds), "course seconds": round(course_seconds)}


def verdict_row(row: dict[str, Any], standard_kit: dict[str, Any] | None = None,
                standard_course: dict[str, Any] | None = None) -> dict[str, Any]:
    """Which builders win a :func:`comparison_row`, by KID and by FID, in the features it was
    scored with and, when given, in the standard FID network's (``standard_kit`` and
    ``standard_course``: the two models' :func:`score_sets` results there)."""
    names = ("kit", "course")
    verdict = {k: row[k] for k in ("model", "kit", "course", "kit seconds", "course seconds")}
    verdict["substitute features: KID"] = row["KID verdict"]
    verdict["substitute features: FID"] = fid_verdict({"fid": row["FID kit"]}, {"fid": row["FID course"]},
                                                      names)
    if standard_kit is not None and standard_course is not None:
        verdict["standard network: KID"] = kid_verdict(standard_kit, standard_course, names)
        verdict["standard network: FID"] = fid_verdict(standard_kit, standard_course, names)
    return verdict


def _course_pairs(names: Iterable[str]) -> list[tuple[str, str, str]]:
    """``(kind, kit name, course name)`` for every row named ``"<kind> (kit, <n> epochs)"`` that
    has a ``"<kind> (course, ...)"`` row beside it (notebook 01's naming)."""
    names = list(names)
    pairs = []
    for kit in names:
        found = re.fullmatch(r"(\w+) \(kit, \d+ epochs\)", kit)
        if found:
            kind = found.group(1)
            course = next((n for n in names if n.startswith(f"{kind} (course, ")), None)
            if course is not None:
                pairs.append((kind, kit, course))
    return pairs


def course_comparison(scores: Mapping[str, dict[str, Any]],
                      records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Notebook 01's course-vs-kit table: one :func:`comparison_row` per kit snapshot
    (``"VAE (kit, 6 epochs)"``) against the course model of its kind (``"VAE (course, 3
    epochs)"``), from their ``scores`` and training ``records`` (``epochs``, ``seconds``)."""
    rows = []
    for kind, kit, course in _course_pairs(scores):
        rows.append(comparison_row(kind, f"{records[kit]['epochs']} epochs", course.split(", ", 1)[1][:-1],
                                   scores[kit], scores[course], records[kit]["seconds"],
                                   records[course]["seconds"]))
    return rows


def course_verdicts(comparison: Sequence[dict[str, Any]],
                    standard: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One :func:`verdict_row` per row of :func:`course_comparison`, with the two models'
    scores in the standard FID network where ``standard`` (name -> scores) has them."""
    standard = standard or {}
    return [verdict_row(row, standard.get(f"{row['model']} (kit, {row['kit']})"),
                        standard.get(f"{row['model']} (course, {row['course']})"))
            for row in comparison]


# --------------------------------------------------------------------------- feature extractors

def build_feature_classifier(image_size: int, n_classes: int, feature_dim: int = 128):
    """A small CNN: 3 strided conv blocks, global average pooling, ``Dense(feature_dim)``
    (the features, layer ``"features"``) and a softmax over ``n_classes``."""
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for i, w in enumerate((32, 64, 128)):
        x = layers.Conv2D(w, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(w, 3, padding="same", activation="relu", name=f"conv{i}b")(x)
    x = layers.GlobalAveragePooling2D()(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="label")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, outputs, name="feature_classifier")


def _digest(images: np.ndarray, labels: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(images).tobytes() + labels.tobytes()).hexdigest()[:12]


def classifier_extractor(images: np.ndarray, labels: np.ndarray, label_name: str, *, epochs: int = 8,
                         seed: int = 0, cache_name: str = "fid_features") -> FeatureExtractor:
    """Train (or load from the model cache) :func:`build_feature_classifier` on the *real*
    ``images`` to predict ``labels`` (``(n,)`` ints), and use its penultimate layer as features.
    The extractor's name says so: ``"<label_name> CNN features"``."""
    import keras

    from .cache import load_or_train
    from .training import fit_timed

    labels = np.asarray(labels, dtype="int64")
    n_classes = int(labels.max()) + 1
    size = int(images.shape[1])
    config = {"image_size": size, "n_classes": n_classes, "n": len(images), "epochs": epochs, "seed": seed,
              "label": label_name, "data_digest": _digest(images, labels)}

    def train(model) -> dict[str, Any]:
        order = np.random.default_rng(seed).permutation(len(images))
        n_val = max(1, len(images) // 10)
        val, train_idx = order[:n_val], order[n_val:]
        return fit_timed(model, images[train_idx], labels[train_idx], batch_size=64, epochs=epochs,
                         validation_data=(images[val], labels[val]), shuffle=True,
                         name="feature classifier",
                         compile_args={"optimizer": keras.optimizers.Adam(1e-3),
                                       "loss": "sparse_categorical_crossentropy",
                                       "metrics": ["accuracy"]})

    model, info = load_or_train(cache_name, config, build=lambda: build_feature_classifier(size, n_classes),
                                train=train)
    val_acc = info["history"].get("val_accuracy", [float("nan")])[-1]
    print(f"feature classifier: validation accuracy {val_acc:.3f} predicting {label_name} "
          f"({n_classes} classes; majority class {np.bincount(labels).max() / len(labels):.3f})")
    head = keras.Model(model.inputs, model.get_layer("features").output)

    def fn(batch: np.ndarray) -> np.ndarray:
        if batch.shape[1] != size:
            raise ValueError(f"this extractor was trained on {size}x{size} images, got {batch.shape[1]}")
        return head.predict(batch, batch_size=256, verbose=0)

    return FeatureExtractor(f"{label_name} CNN features", fn, 128)


def get_feature_extractor(images: np.ndarray, labels: np.ndarray | None, label_name: str, *,
                          prefer: str = "fid-inception", epochs: int = 8, seed: int = 0) -> FeatureExtractor:
    """The feature extractor for the scores, chosen by ``prefer`` and said out loud:

    * ``"fid-inception"``: the standard FID network (:mod:`idl_utils.fid_inception`; its weights
      come from the package registry, so this works without other internet access). Scores are
      comparable with published FIDs computed on the same number of images. When it cannot be
      had, a banner says why and the classifier below is used;
    * ``"classifier"``: a CNN trained here on the real images to predict ``labels``."""
    choices = ("fid-inception", "classifier")
    if prefer not in choices:
        raise ValueError(f"prefer must be one of {choices}, got {prefer!r}")
    if prefer == "fid-inception":
        try:
            extractor = fid_inception_extractor()
            record_source("fid_features", extractor.name)
            return extractor
        except RuntimeError as exc:
            reason = str(exc)
        announce(f"FID/KID: the {prefer!r} network is unavailable -> using a SUBSTITUTE extractor.\n"
                 f"Why: {reason}.\n"
                 f"Features: a small CNN trained here on the real images to predict '{label_name}'.\n"
                 "Scores are comparable between models in this run, NOT with published FID values.")
    if labels is None:
        raise ValueError("the substitute feature extractor needs labels for the real images "
                         "(e.g. OpenMoji's Unicode block); or use prefer='fid-inception'")
    extractor = classifier_extractor(images, labels, label_name, epochs=epochs, seed=seed)
    record_source("fid_features", extractor.name, substitute_for="InceptionV3")
    return extractor
