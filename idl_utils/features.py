"""Feature extractors: what every image score (FID, KID, precision and recall) looks through.

A :class:`FeatureExtractor` turns ``(n, h, w, 3)`` images in [0, 1] into ``(n, d)`` features
and carries a name that labels every score computed with it. This module only defines the
interface, so that both the networks (:mod:`idl_utils.fid_inception`) and the scores
(:mod:`idl_utils.scores`) can use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FeatureExtractor:
    """``name`` labels every score computed with it (e.g. ``"FID InceptionV3 pool3 ..."``);
    ``fn`` maps ``(n, h, w, 3)`` float32 images in [0, 1] to ``(n, dim)`` features."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    dim: int

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype="float32")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images (n, h, w, 3), got {images.shape}")
        return np.asarray(self.fn(images), dtype="float64")


def batched(fn: Callable[[np.ndarray], Any], items: np.ndarray, batch_size: int) -> np.ndarray:
    """``fn`` applied to consecutive slices of ``batch_size`` items, the results concatenated
    along the first axis: a network sees a bounded batch however many images are scored."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(items) == 0:
        raise ValueError("no items to process (an empty set of images?)")
    return np.concatenate([np.asarray(fn(items[s: s + batch_size]))
                           for s in range(0, len(items), batch_size)])
