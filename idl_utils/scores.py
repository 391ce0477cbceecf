"""FID and KID: how far generated images are from real ones, in a feature space.

Both compare two *sets* of images through a :class:`FeatureExtractor` (``(n, h, w, 3)`` in
[0, 1] -> ``(n, d)``):

* **FID** (Fréchet distance): fit a Gaussian to each set's features and measure
  ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``. Lower is better; 0 for identical sets.
* **KID** (kernel distance): the unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets. Unbiased, so it can dip just
  below 0 for sets from one distribution; less biased than FID for small sets.

The matrix square root is computed through symmetric eigen-decompositions, which are real by
construction (no complex "1989424.07 - 0.003j" results), and tiny negative eigenvalues from
rounding are clamped to 0.

Feature extractors: the standard FID network (:mod:`idl_utils.fid_inception`, weights from the
package registry), :func:`inception_extractor` (Keras' InceptionV3 with ImageNet weights, when
they can be downloaded; not the network papers use) or :func:`classifier_extractor`: a small
CNN trained on the real images to predict a label that exists in the data, whose penultimate
layer gives the features. :func:`get_feature_extractor` picks one and says which, loudly.
Scores from different extractors are not comparable with each other or with published FIDs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .provenance import announce, offline_forced, record_source

INCEPTION_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclass(frozen=True)
class FeatureExtractor:
    """``name`` labels every score computed with it (e.g. ``"InceptionV3 pool3"``)."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    dim: int

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images (n, h, w, 3), got {images.shape}")
        return np.asarray(self.fn(images), dtype="float64")


# --------------------------------------------------------------------------- the distances

def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negatives from rounding -> 0)."""
    sym = (matrix + matrix.T) / 2
    w, v = np.linalg.eigh(sym)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets ``(n, d)`` and ``(m, d)``: a real number >= 0.

    ``tr((S1 S2)^(1/2)) = tr((A S2 A)^(1/2))`` with ``A = S1^(1/2)``; ``A S2 A`` is symmetric
    PSD, so its eigenvalues are real and (after clamping rounding noise) non-negative."""
    a, b = np.asarray(features_a, "float64"), np.asarray(features_b, "float64")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (n, d) and (m, d), got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least 2 samples per set to estimate a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    fid = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_covmean)
    if not np.isfinite(fid):
        raise FloatingPointError("FID is not finite: check the features for NaN/inf")
    return max(fid, 0.0)


def kernel_distance(features_a: np.ndarray, features_b: np.ndarray, *, n_subsets: int = 50,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation over ``n_subsets`` random subsets of the unbiased
    squared MMD with kernel ``(x.y/d + 1)^3``."""
    a, b = np.asarray(features_a, "float64"), np.asarray(features_b, "float64")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (n, d) and (m, d), got {a.shape} and {b.shape}")
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


def _feature_scores(fa: np.ndarray, fb: np.ndarray, name: str, seed: int) -> dict[str, Any]:
    # subsets of at most half of each set, so that they differ and the std measures sampling noise
    subset = max(2, min(1000, len(fa) // 2, len(fb) // 2))
    kid, kid_std = kernel_distance(fa, fb, seed=seed, subset_size=subset)
    return {"fid": frechet_distance(fa, fb), "kid": kid, "kid_std": kid_std,
            "features": name, "n_real": len(fa), "n_generated": len(fb)}


def image_scores(real: np.ndarray, generated: np.ndarray, extractor: FeatureExtractor, *,
                 seed: int = 0) -> dict[str, Any]:
    """FID and KID of ``generated`` against ``real`` images, labelled with the extractor. KID is
    averaged over random subsets of half of each set (at most 1,000 images); its ``kid_std``
    over those subsets is what :func:`kid_verdict` compares gaps with."""
    return _feature_scores(extractor(real), extractor(generated), extractor.name, seed)


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


def score_sets(real: np.ndarray, sets: dict[str, np.ndarray], extractor: FeatureExtractor, *,
               seed: int = 0, cache: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`image_scores` of every image set in ``sets`` (name -> images) against ``real``,
    with the real images' features computed once (it matters for an expensive extractor).
    ``cache=True`` keeps every set's features (see :func:`cached_features`)."""
    features = (lambda images: cached_features(extractor, images)) if cache else extractor
    real_features = features(real)
    return {name: _feature_scores(real_features, features(images), extractor.name, seed)
            for name, images in sets.items()}


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


def comparison_row(model: str, kit_label: str, course_label: str, kit: dict[str, Any],
                   course: dict[str, Any], kit_seconds: float, course_seconds: float) -> dict[str, Any]:
    """One row of notebook 01's course-vs-kit table: FID and KID of both models (from
    :func:`image_scores`), the KID verdict and the training seconds of each."""
    return {"model": model, "kit": kit_label, "course": course_label,
            "FID kit": kit["fid"], "FID course": course["fid"],
            "KID kit": kit["kid"], "KID course": course["kid"],
            "KID verdict": kid_verdict(kit, course, ("kit", "course")),
            "kit seconds": round(kit_seconds), "course seconds": round(course_seconds)}


def verdict_row(row: dict[str, Any], standard_kit: dict[str, Any] | None = None,
                standard_course: dict[str, Any] | None = None) -> dict[str, Any]:
    """Which builders win a :func:`comparison_row`, by FID and by KID, in the features it was
    scored with and, when given, in the standard FID network's (``standard_kit`` and
    ``standard_course``: the two models' :func:`score_sets` results there)."""
    names = ("kit", "course")
    verdict = {k: row[k] for k in ("model", "kit", "course", "kit seconds", "course seconds")}
    verdict["substitute features: FID"] = fid_verdict({"fid": row["FID kit"]}, {"fid": row["FID course"]},
                                                      names)
    verdict["substitute features: KID"] = row["KID verdict"]
    if standard_kit is not None and standard_course is not None:
        verdict["standard network: FID"] = fid_verdict(standard_kit, standard_course, names)
        verdict["standard network: KID"] = kid_verdict(standard_kit, standard_course, names)
    return verdict


# --------------------------------------------------------------------------- feature extractors

def _weights_reachable() -> bool:
    cached = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / INCEPTION_WEIGHTS
    if cached.exists():
        return True
    from .image_data import _network_reachable

    return _network_reachable()


def _batched(fn: Callable[[np.ndarray], Any], images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([np.asarray(fn(images[s: s + batch_size]))
                           for s in range(0, len(images), batch_size)])


def inception_extractor(batch_size: int = 64) -> FeatureExtractor:
    """InceptionV3 (ImageNet weights, downloaded once by Keras and cached in ``~/.keras``),
    2048-d average-pooled features of images resized to 299x299: the standard FID features.
    Raises ``RuntimeError`` quickly when the weights cannot be had."""
    import keras

    if offline_forced() or not _weights_reachable():
        raise RuntimeError("InceptionV3 ImageNet weights are not cached and the download host "
                           "(storage.googleapis.com) is unreachable" +
                           (" (IDL_OFFLINE is set)" if offline_forced() else ""))
    try:
        net = keras.applications.InceptionV3(include_top=False, weights="imagenet", pooling="avg",
                                             input_shape=(299, 299, 3))
    except Exception as exc:
        raise RuntimeError(f"could not load InceptionV3 ImageNet weights ({type(exc).__name__}: "
                           f"{str(exc)[:150]})") from exc

    def fn(images: np.ndarray) -> np.ndarray:
        def one(batch):
            x = keras.ops.image.resize(batch * 255.0, (299, 299), interpolation="bilinear")
            return net(keras.applications.inception_v3.preprocess_input(x), training=False)

        return _batched(one, images, batch_size)

    return FeatureExtractor("InceptionV3 pool3 (ImageNet)", fn, 2048)


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
    from .results import stopwatch

    labels = np.asarray(labels, dtype="int64")
    n_classes = int(labels.max()) + 1
    size = int(images.shape[1])
    config = {"image_size": size, "n_classes": n_classes, "n": len(images), "epochs": epochs, "seed": seed,
              "label": label_name, "data_digest": _digest(images, labels)}

    def train(model) -> dict[str, Any]:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(images))
        n_val = max(1, len(images) // 10)
        val, train_idx = order[:n_val], order[n_val:]
        with stopwatch("feature classifier training") as t:
            hist = model.fit(images[train_idx], labels[train_idx], batch_size=64, epochs=epochs,
                             validation_data=(images[val], labels[val]), shuffle=True, verbose=2)
        return {"history": {k: [float(v) for v in vs] for k, vs in hist.history.items()},
                "seconds": t["seconds"]}

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
                          prefer: str = "inception", epochs: int = 8, seed: int = 0) -> FeatureExtractor:
    """The feature extractor for FID/KID, chosen by ``prefer`` and said out loud:

    * ``"fid-inception"``: the standard FID network (:mod:`idl_utils.fid_inception`; its weights
      come from the package registry, so this works without other internet access). Scores are
      comparable with published FIDs computed on the same number of images;
    * ``"inception"``: Keras' InceptionV3 with ImageNet weights (downloaded from Google storage);
    * ``"classifier"``: a CNN trained here on the real images to predict ``labels``.

    When the preferred network cannot be had, a banner says why and the classifier is used."""
    choices = ("fid-inception", "inception", "classifier")
    if prefer not in choices:
        raise ValueError(f"prefer must be one of {choices}, got {prefer!r}")
    if prefer != "classifier":
        try:
            if prefer == "fid-inception":
                from .fid_inception import fid_inception_extractor

                extractor = fid_inception_extractor()
            else:
                extractor = inception_extractor()
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
