"""Arithmetic queries as image sequences: one 28x28 glyph per character.

Every character of a query or an answer becomes an image over the course's 13 glyph classes
(the vocabulary ``'0123456789+- '``):

* a digit: a randomly chosen MNIST image of that class;
* ``'+'`` / ``'-'``: strokes drawn with NumPy, with random centre, length, thickness and a
  slight tilt, soft-edged like MNIST's pen strokes;
* the padding space: a blank (all-zero) image.

So ``'81+24'`` becomes ``(5, 28, 28)`` and all 2-digit queries ``(n, 5, 28, 28)``
(``(n, 7, 28, 28)`` for 3 digits); answers ``(n, d+1, 28, 28)``. Pixels are ``float32`` in
``[0, 1]``.

**Reproducible without storing anything.** Which MNIST image a character gets, and how an
operator is drawn, is a hash of ``(seed, query, role, position)`` -- the query identified by
its operands and operator, not by where it sits in an array. A query therefore gets the same
images in any batch, any order and any subset, so validation and test images are fixed, and
2,000,000 three-digit queries can be rendered batch by batch on the fly
(``idl_utils.seq_models.QueryBatches`` with :class:`MnistQueryImages`) in bounded memory.

**Honest splits.** :func:`glyph_banks` gives the digit images each part of a split may use.
``"honest"``: training (and validation) queries use MNIST training digits only and test
queries MNIST test digits only, so test accuracy measures reading *unseen handwriting*.
``"course_mixed"``: the course notebook's way -- both draw from all digits, so test queries
reuse digit images seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .mnist import MnistData
from .queries import VOCAB, QuerySet, decode_text, encode_text, text_to_indices

#: The 13 glyph classes: class ``i`` is the character ``VOCAB[i]`` (10 digits, '+', '-', blank).
GLYPH_CLASSES = VOCAB
PLUS, MINUS, BLANK = VOCAB.index("+"), VOCAB.index("-"), VOCAB.index(" ")
IMAGE_SIZE = 28
SPLIT_MODES = ("honest", "course_mixed")

# Operator strokes, in pixels (MNIST digits fill a ~20x20 box in the middle of 28x28).
STROKE_LENGTH = (11.0, 18.0)
STROKE_THICKNESS = (1.8, 3.6)
CENTRE_JITTER = 2.0
MAX_TILT_DEGREES = 12.0

_ROLES = {"query": 1, "answer": 2, "operator": 3}
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# --------------------------------------------------------------------------- hashing
def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, vectorised: a well-mixed 64-bit hash of each ``uint64``."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return z ^ (z >> np.uint64(31))


def hash_keys(*parts: np.ndarray | int) -> np.ndarray:
    """Combine integer arrays/scalars (broadcast together) into one ``uint64`` hash each."""
    arrays = np.broadcast_arrays(*[np.asarray(p, dtype=np.int64) for p in parts])
    h = np.zeros(arrays[0].shape, dtype=np.uint64)
    for a in arrays:
        h = _splitmix64(h ^ a.astype(np.uint64))
    return h


def _uniform(h: np.ndarray, stream: int) -> np.ndarray:
    """Uniform floats in [0, 1) from hashes ``h``, one independent stream per ``stream``."""
    return (_splitmix64(h ^ np.uint64(stream)) >> np.uint64(11)).astype(np.float64) / 2.0**53


def query_ids(qs: QuerySet) -> np.ndarray:
    """A unique, order-independent integer per query: ``(op, a, b)`` -> ``int64``."""
    base = np.int64(10**qs.digits)
    op = (np.asarray(qs.op) == "-").astype(np.int64)
    return (op * base + np.asarray(qs.a, np.int64)) * base + np.asarray(qs.b, np.int64)


# --------------------------------------------------------------------------- digit banks
@dataclass(frozen=True)
class GlyphBank:
    """Digit images to draw characters from: ``images`` ``(n, 28, 28)`` ``uint8``, ``labels``
    ``(n,)`` in 0..9, and a ``name`` saying where they came from (``'mnist-train'``)."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    _order: np.ndarray = field(init=False, repr=False, compare=False)
    _starts: np.ndarray = field(init=False, repr=False, compare=False)
    _counts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"bank images must be (n, 28, 28), got {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(f"labels {labels.shape} do not match images {images.shape}")
        counts = np.bincount(labels.astype(np.int64), minlength=10)
        if len(counts) > 10 or (counts == 0).any():
            raise ValueError(f"bank {self.name!r} needs at least one image of every digit 0-9, "
                             f"has counts {counts.tolist()}")
        order = np.argsort(labels, kind="stable")
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_counts", counts)
        object.__setattr__(self, "_starts", np.concatenate([[0], np.cumsum(counts)[:-1]]))

    def __len__(self) -> int:
        return len(self.labels)

    def pick(self, digits: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Indices into ``images``: for each digit class, the image chosen by hash ``h``."""
        digits = np.asarray(digits, dtype=np.int64)
        offset = (h % self._counts[digits].astype(np.uint64)).astype(np.int64)
        return self._order[self._starts[digits] + offset]


def glyph_banks(mnist: MnistData, mode: str = "honest") -> dict[str, GlyphBank]:
    """The digit images each part of a split may use: ``{"train": bank, "test": bank}``.

    ``"honest"``: training/validation queries use MNIST's training digits, test queries its
    test digits (accuracy then measures unseen handwriting). ``"course_mixed"``: the course
    notebook's sampling, both from all digits (test queries reuse training handwriting).
    """
    if mode == "honest":
        return {"train": GlyphBank(mnist.x_train, mnist.y_train, "mnist-train"),
                "test": GlyphBank(mnist.x_test, mnist.y_test, "mnist-test")}
    if mode == "course_mixed":
        both = GlyphBank(np.concatenate([mnist.x_train, mnist.x_test]),
                         np.concatenate([mnist.y_train, mnist.y_test]), "mnist-all")
        return {"train": both, "test": both}
    raise ValueError(f"Unknown split mode {mode!r}. Accepted: {', '.join(SPLIT_MODES)} "
                     "('honest': test queries only use MNIST test digits).")


# --------------------------------------------------------------------------- operators
_GRID = np.arange(IMAGE_SIZE, dtype=np.float32) - (IMAGE_SIZE - 1) / 2


def _stroke(cx, cy, length, thickness, angle) -> np.ndarray:
    """Soft-edged straight strokes, ``(n, 28, 28)``: one per row of the parameter arrays."""
    dx = _GRID[None, None, :] - cx[:, None, None]
    dy = _GRID[None, :, None] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    along = np.abs(dx * cos + dy * sin)
    across = np.abs(-dx * sin + dy * cos)
    along_in = np.clip(length[:, None, None] / 2 + 0.5 - along, 0, 1)
    across_in = np.clip(thickness[:, None, None] / 2 + 0.5 - across, 0, 1)
    return (along_in * across_in).astype(np.float32)


def draw_operators(ops: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Draw ``'+'`` / ``'-'`` glyphs (``ops`` holds :data:`PLUS` / :data:`MINUS` class
    indices), each with random centre, stroke lengths, thickness and tilt taken from its hash
    ``h``. Returns ``(n, 28, 28)`` ``float32`` in ``[0, 1]``."""
    ops, h = np.asarray(ops), np.asarray(h, dtype=np.uint64)
    if ops.shape != h.shape or ops.ndim != 1:
        raise ValueError(f"ops {ops.shape} and hashes {h.shape} must be matching 1-D arrays")
    if not np.isin(ops, (PLUS, MINUS)).all():
        raise ValueError("draw_operators only draws '+' and '-' (class indices 10 and 11)")
    u = [_uniform(h, s) for s in range(7)]
    cx = (u[0] * 2 - 1) * CENTRE_JITTER
    cy = (u[1] * 2 - 1) * CENTRE_JITTER
    lo, hi = STROKE_LENGTH
    thickness = STROKE_THICKNESS[0] + u[2] * (STROKE_THICKNESS[1] - STROKE_THICKNESS[0])
    tilt = np.deg2rad((u[3] * 2 - 1) * MAX_TILT_DEGREES)
    horizontal = _stroke(cx, cy, lo + u[4] * (hi - lo), thickness, tilt)
    vertical = _stroke(cx, cy, lo + u[5] * (hi - lo), thickness,
                       np.pi / 2 + tilt + np.deg2rad((u[6] * 2 - 1) * 6))
    is_plus = (ops == PLUS)[:, None, None]
    return np.where(is_plus, np.maximum(horizontal, vertical), horizontal)


# --------------------------------------------------------------------------- rendering
def render_indices(idx: np.ndarray, keys: np.ndarray, bank: GlyphBank, *, seed: int,
                   role: str = "query") -> np.ndarray:
    """Glyph class indices ``(n, L)`` -> images ``(n, L, 28, 28)`` ``float32`` in ``[0, 1]``.

    ``keys`` ``(n,)`` identify the sequences (see :func:`query_ids`): with the same ``seed``,
    ``role`` and bank, the same key always gets the same images."""
    idx = np.asarray(idx, dtype=np.int64)
    keys = np.asarray(keys, dtype=np.int64)
    if idx.ndim != 2 or keys.shape != (idx.shape[0],):
        raise ValueError(f"need indices (n, L) and keys (n,), got {idx.shape} and {keys.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= len(GLYPH_CLASSES)):
        raise ValueError(f"glyph classes must lie in 0..{len(GLYPH_CLASSES) - 1}")
    if role not in _ROLES:
        raise ValueError(f"role must be one of {sorted(_ROLES)}, got {role!r}")
    n, length = idx.shape
    h = hash_keys(seed, _ROLES[role], keys[:, None], np.arange(length)[None, :])
    out = np.zeros((n, length, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    is_digit = idx < 10
    if is_digit.any():
        picks = bank.pick(idx[is_digit], h[is_digit])
        out[is_digit] = bank.images[picks].astype(np.float32) / 255.0
    is_op = (idx == PLUS) | (idx == MINUS)
    if is_op.any():
        out[is_op] = draw_operators(idx[is_op], h[is_op])
    return out  # blanks stay zero


def render_text(strings: np.ndarray | list[str], length: int, bank: GlyphBank, *, seed: int,
                keys: np.ndarray | None = None, role: str = "query") -> np.ndarray:
    """Strings (padded to ``length``) -> ``(n, length, 28, 28)`` images. A character outside
    the vocabulary raises a ``ValueError``. ``keys`` default to ``0..n-1``."""
    idx = text_to_indices(strings, length)
    keys = np.arange(len(idx)) if keys is None else keys
    return render_indices(idx, keys, bank, seed=seed, role=role)


def render_queries(qs: QuerySet, bank: GlyphBank, *, seed: int) -> np.ndarray:
    """The queries of ``qs`` as images ``(n, 2d+1, 28, 28)`` (``(n, 5, 28, 28)`` for d=2)."""
    return render_text(qs.queries, qs.query_length, bank, seed=seed, keys=query_ids(qs),
                       role="query")


def render_answers(qs: QuerySet, bank: GlyphBank, *, seed: int) -> np.ndarray:
    """The answers of ``qs`` as images ``(n, d+1, 28, 28)`` (other images than the query's)."""
    return render_text(qs.answers, qs.answer_length, bank, seed=seed, keys=query_ids(qs),
                       role="answer")


# --------------------------------------------------------------------------- representations
@dataclass(frozen=True)
class MnistQueryImages:
    """Image-to-text: query images in, the answer's characters out (an
    ``idl_utils.seq_models.Representation``). Inputs ``(n, 2d+1, 28, 28)`` rendered from
    ``bank`` with ``seed``; targets ``(n, d+1, 13)`` one-hot, as in text-to-text.

    Use one instance with the training bank for training and validation and another with
    the test bank for testing (:func:`glyph_banks`).

    ``redraw=True`` (for training): :meth:`for_epoch` gives every epoch other MNIST images
    and operator strokes for the same queries, so a reader cannot memorise which handwriting
    went with which answer; the base ``seed`` (epoch 0, and validation) stays fixed.
    ``idl_utils.seq_models.QueryBatches`` asks for the epoch's images."""

    bank: GlyphBank
    seed: int = 0
    redraw: bool = False
    name: str = "mnist_query_images"

    def for_epoch(self, epoch: int) -> MnistQueryImages:
        """The representation training epoch ``epoch`` (0-based) draws its images with."""
        if not self.redraw or epoch == 0:
            return self
        return replace(self, seed=int(hash_keys(self.seed, 4, epoch)[()] >> np.uint64(1)))

    def input_shape(self, digits: int) -> tuple[int, int, int]:
        return (2 * digits + 1, IMAGE_SIZE, IMAGE_SIZE)

    def output_shape(self, digits: int) -> tuple[int, int]:
        return (digits + 1, len(VOCAB))

    def encode_inputs(self, qs: QuerySet) -> np.ndarray:
        return render_queries(qs, self.bank, seed=self.seed)

    def encode_targets(self, qs: QuerySet) -> np.ndarray:
        return encode_text(qs.answers, qs.answer_length)

    def decode(self, scores: np.ndarray, digits: int) -> np.ndarray:
        return decode_text(scores)


def glyph_grid(images: np.ndarray, *, gap: int = 2) -> np.ndarray:
    """Lay out ``(L, 28, 28)`` glyphs side by side (one image, for plotting)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected (L, 28, 28) glyphs, got {images.shape}")
    length, hgt, wid = images.shape
    out = np.full((hgt, length * (wid + gap) - gap), np.nan, dtype=np.float32)
    for i, img in enumerate(images):
        out[:, i * (wid + gap):i * (wid + gap) + wid] = img
    return out
