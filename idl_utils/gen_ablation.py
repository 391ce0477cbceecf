"""Which of the generative models' options buys what: train each variant for the same
wall-clock budget, on the same images and seed, and score it the same way.

==================  ===========================================================================
variant             what changes (GAN variants start from notebook 01's GAN, VAE ones from its VAE)
==================  ===========================================================================
base                nothing: notebook 01's GAN recipe
ema                 samples from a moving average of the generator's weights (``ema_decay``)
beta1               Adam ``beta_1 = 0`` instead of 0.5 (as StyleGAN2 and DiffAugment's runs)
diffaug             DiffAugment (colour, translation, cutout) before the discriminator
flip                random horizontal flips of the training images
all                 ema + beta1 + diffaug + flip
vae                 nothing: notebook 01's VAE recipe, sampled from N(0, I)
vae-sigma           σ-VAE: Gaussian likelihood with a learned shared sigma
vae-sigma-optimal   σ-VAE with the optimal sigma, sqrt(MSE), set every batch
vae-gmm             the VAE sampled from a Gaussian mixture fitted to its codes of the training images
vae-sigma-gmm       vae-sigma + vae-gmm
vae-all             vae-sigma + vae-gmm + flip
==================  ===========================================================================

The images are split once (seeded): ``holdout`` real images the models never see are the
reference set for the scores, the rest train every variant. Each variant is trained from the
same seed until its time is up (:class:`~idl_utils.generative.TimeBudget`), then
``n_score`` samples are scored against the held-out images with
:func:`~idl_utils.scores.score_sets` (KID ± std, the headline, plus precision and recall; FID
is kept in the JSON). A "real (training images)" row scores training images the same way:
the floor. GAN rows also report :func:`~idl_utils.generative.discriminator_gap`.

Usage::

    python -m idl_utils.gen_ablation --dataset openmoji --size 32 --seconds 300 \\
        --variants base,ema,beta1,diffaug,flip,all

writes ``ablation_generative.json`` and ``ablation_generative.md`` to the reports folder.
Wall-clock budgets depend on the machine and on what else runs on it: compare variants of one
run, on one machine, and repeat with other seeds before trusting a small gap.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import DEFAULT_SEED, PROJECT_ROOT, reports_dir, set_seed
from .diffaugment import DEFAULT_POLICY
from .features import FeatureExtractor
from .results import atomic_write_json, atomic_write_text, markdown_table

#: notebook 01's recipes (its parameters cell): the base every variant changes one thing of
GAN_RECIPE: dict[str, Any] = {"latent_dim": 128, "width": 48, "batch_size": 32, "learning_rate": 2e-4}
VAE_RECIPE: dict[str, Any] = {"latent_dim": 64, "width": 32, "batch_size": 64, "learning_rate": 1e-3,
                              "beta": 1.0}
#: where ``make ablation`` publishes its two runs (``gan/`` and ``vae/``), read by notebook 01
PUBLISHED_DIR = PROJECT_ROOT / "reports" / "ablation"
EMA_DECAY = 0.999
GMM_COMPONENTS = 10
MAX_EPOCHS = 1_000_000          # the time budget stops training long before


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: ``kind`` ``"gan"`` or ``"vae"``; keyword arguments of the
    model's constructor (``model``) and of :func:`~idl_utils.generative.train_generative`
    (``train``); how a VAE is sampled (``prior``: ``"normal"`` or ``"gmm"``)."""

    kind: str
    description: str
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    prior: str = "normal"


VARIANTS: dict[str, Variant] = {
    "base": Variant("gan", "notebook 01's GAN"),
    "ema": Variant("gan", f"moving average of the generator (decay {EMA_DECAY})", {"ema_decay": EMA_DECAY}),
    "beta1": Variant("gan", "Adam beta_1 = 0", train={"adam_beta_1": 0.0}),
    "diffaug": Variant("gan", f"DiffAugment ({DEFAULT_POLICY})", {"diffaug": DEFAULT_POLICY}),
    "flip": Variant("gan", "random horizontal flips", train={"flip": True}),
    "all": Variant("gan", "ema + beta1 + diffaug + flip", {"ema_decay": EMA_DECAY, "diffaug": DEFAULT_POLICY},
                   {"adam_beta_1": 0.0, "flip": True}),
    "vae": Variant("vae", "notebook 01's VAE, sampled from N(0, I)"),
    "vae-sigma": Variant("vae", "sigma-VAE, learned sigma", {"loss": "sigma"}),
    "vae-sigma-optimal": Variant("vae", "sigma-VAE, optimal sigma = sqrt(MSE)", {"loss": "sigma-optimal"}),
    "vae-gmm": Variant("vae", f"sampled from a {GMM_COMPONENTS}-component GMM of its codes", prior="gmm"),
    "vae-sigma-gmm": Variant("vae", "sigma-VAE + GMM prior", {"loss": "sigma"}, prior="gmm"),
    "vae-all": Variant("vae", "sigma-VAE + GMM prior + flips", {"loss": "sigma"}, {"flip": True}, "gmm"),
}

COLUMNS = ["variant", "model", "what changes", "KID ± std", "precision", "recall", "steps", "epochs",
           "train seconds", "D gap"]


def parse_variants(text: str | Sequence[str]) -> list[str]:
    """Variant names from ``"base,ema"`` or a list, checked against :data:`VARIANTS`."""
    names = [v.strip() for v in text.split(",")] if isinstance(text, str) else [str(v).strip() for v in text]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"unknown generative ablation variant(s) {unknown or names}: choose from "
                         f"{', '.join(VARIANTS)} (comma-separated)")
    return names


def _train_variant(variant: Variant, train_images: np.ndarray, seconds: float, seed: int,
                   recipes: Mapping[str, Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    from .generative import GAN, VAE, TimeBudget, train_generative

    recipe = dict(recipes[variant.kind])
    batch_size, learning_rate = recipe.pop("batch_size"), recipe.pop("learning_rate")
    cls = GAN if variant.kind == "gan" else VAE
    set_seed(seed)
    model = cls(image_size=int(train_images.shape[1]), seed=seed, **recipe, **variant.model).build_all()
    budget = TimeBudget(seconds)
    record = train_generative(model, train_images, epochs=MAX_EPOCHS, batch_size=batch_size,
                              learning_rate=learning_rate, seed=seed, callbacks=[budget], verbose=0,
                              **variant.train)
    optimizer = model.g_optimizer if variant.kind == "gan" else model.optimizer
    return model, {"steps": int(optimizer.iterations.numpy()), "epochs": record["epochs_run"],
                   "train_seconds": round(record["seconds"], 1)}


def _samples(model: Any, variant: Variant, train_images: np.ndarray, n: int, seed: int) -> np.ndarray:
    from .generative import sample_prior

    return sample_prior(model, train_images, n, seed, variant.prior or "normal", n_components=GMM_COMPONENTS)


def generative_ablation(images: np.ndarray, variants: Sequence[str], *, seconds: float,
                        extractor: FeatureExtractor, seed: int = DEFAULT_SEED, holdout: int = 500,
                        n_score: int = 500, gan_recipe: Mapping[str, Any] | None = None,
                        vae_recipe: Mapping[str, Any] | None = None,
                        cache_features: bool = False, grid_dir: str | Path | None = None) -> dict[str, Any]:
    """Train every variant in ``variants`` (names of :data:`VARIANTS`) for ``seconds`` of wall
    time on ``images`` ``(n, s, s, 3)`` in [0, 1] minus ``holdout`` held-out ones, then score
    ``min(n_score, holdout)`` samples of each against the held-out images with ``extractor``.

    ``gan_recipe``/``vae_recipe`` override entries of :data:`GAN_RECIPE`/:data:`VAE_RECIPE`
    (for quick checks). ``grid_dir``: also save the first 48 scored images of every set as
    ``<grid_dir>/<variant>.png`` (one grid per row of the table, the real images included), so
    the table can be checked by eye. Returns ``{"config": ..., "rows": [...], "scores": {...}}``: one row per
    variant (columns :data:`COLUMNS`) after the real-images floor; ``scores`` keeps every
    :func:`~idl_utils.scores.feature_scores` result and the discriminator gaps."""
    from .generative import discriminator_gap
    from .scores import format_kid, score_sets

    names = parse_variants(variants)
    images = np.asarray(images, dtype="float32")
    if not 2 <= holdout <= len(images) // 2:
        raise ValueError(f"holdout must be between 2 and half of the {len(images)} images, got {holdout}")
    recipes = {"gan": {**GAN_RECIPE, **(gan_recipe or {})}, "vae": {**VAE_RECIPE, **(vae_recipe or {})}}
    order = np.random.default_rng(seed).permutation(len(images))
    heldout, train = images[order[:holdout]], images[order[holdout:]]
    n = min(n_score, holdout)
    sets = {"real (training images)": train[:n]}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        variant = VARIANTS[name]
        model, info[name] = _train_variant(variant, train, seconds, seed, recipes)
        sets[name] = _samples(model, variant, train, n, seed)
        if variant.kind == "gan":
            info[name]["discriminator_gap"] = discriminator_gap(model, train[:holdout], heldout)
        print(f"{name}: {info[name]['steps']} steps, {info[name]['epochs']} epochs, "
              f"{info[name]['train_seconds']} s", flush=True)
    if grid_dir is not None:
        save_grids(sets, grid_dir)
    scores = score_sets(heldout[:n], sets, extractor, seed=seed, cache=cache_features)
    rows = []
    for name, s in scores.items():
        variant = VARIANTS.get(name)
        run = info.get(name, {})
        gap = run.get("discriminator_gap")
        rows.append({"variant": name, "model": variant.kind.upper() if variant else "real",
                     "what changes": variant.description if variant else "the floor: real vs real",
                     "KID ± std": format_kid(s), "precision": s["precision"], "recall": s["recall"],
                     "steps": run.get("steps", ""), "epochs": run.get("epochs", ""),
                     "train seconds": run.get("train_seconds", ""),
                     "D gap": "" if gap is None else round(gap["gap"], 3)})
    config = {"n_images": len(images), "n_train": len(train), "holdout": holdout, "n_score": n,
              "seconds": seconds, "seed": seed, "features": extractor.name, "recipes": recipes,
              "variants": {name: VARIANTS[name].description for name in names}}
    return {"config": config, "rows": rows,
            "scores": {name: {**s, **info.get(name, {})} for name, s in scores.items()}}


def ablation_verdicts(result: Mapping[str, Any]) -> list[str]:
    """One sentence per variant of :func:`generative_ablation`'s ``result``: its KID against
    its kind's base (``base`` for GAN variants, ``vae`` for VAE ones) with
    :func:`~idl_utils.scores.kid_verdict` (a gap within one KID standard deviation is a tie),
    plus precision and recall. Variants whose base is not in ``result`` are skipped."""
    from .scores import kid_verdict

    scores = result["scores"]
    lines = []
    for name, s in scores.items():
        variant = VARIANTS.get(name)
        base = {"gan": "base", "vae": "vae"}.get(variant.kind) if variant else None
        if base is None or name == base or base not in scores:
            continue
        b = scores[base]
        verdict = kid_verdict(s, b, (name, base))
        lines.append(f"{name} vs {base}: KID {s['kid']:.4f} vs {b['kid']:.4f} -- {verdict}; "
                     f"precision {s['precision']:.2f} vs {b['precision']:.2f}, "
                     f"recall {s['recall']:.2f} vs {b['recall']:.2f}")
    return lines


def best_variants(result: Mapping[str, Any]) -> dict[str, str]:
    """The variant with the lowest KID of each kind (``"gan"``, ``"vae"``) in
    :func:`generative_ablation`'s ``result``; kinds with no scored variant are left out."""
    best: dict[str, str] = {}
    for name, s in result["scores"].items():
        variant = VARIANTS.get(name)
        if variant is None or s.get("kid") is None:
            continue
        if variant.kind not in best or s["kid"] < result["scores"][best[variant.kind]]["kid"]:
            best[variant.kind] = name
    return best


def dataset_comparison(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per scored variant of several :func:`generative_ablation` results, each run on a
    different dataset (label -> result, e.g. ``{"all emoji": ..., "faces": ...}``): the data, how
    many images trained the model, its KID ± std beside that dataset's own real-vs-real floor,
    precision, recall, epochs and the discriminator gap. KIDs on different datasets are measured
    against different held-out images, so compare each with its own floor, not across rows."""
    from .scores import format_kid

    rows = []
    for label, result in results.items():
        floor = next((s for name, s in result["scores"].items() if name not in VARIANTS), None)
        for name, s in result["scores"].items():
            if name not in VARIANTS:
                continue
            gap = s.get("discriminator_gap")
            rows.append({"data": label, "training images": result["config"]["n_train"], "variant": name,
                         "KID ± std": format_kid(s), "floor KID": "" if floor is None else format_kid(floor),
                         "precision": s["precision"], "recall": s["recall"], "epochs": s.get("epochs", ""),
                         "D gap": "" if gap is None else round(gap["gap"], 3)})
    return rows


def save_grids(sets: Mapping[str, np.ndarray], folder: str | Path, n: int = 48,
               ncols: int = 12) -> list[Path]:
    """Save the first ``n`` images of every set in ``sets`` (name -> ``(m, h, w, 3)`` in [0, 1])
    as a PNG grid ``<folder>/<name>.png`` (spaces and brackets in a name become ``_``), written
    atomically. Returns the paths."""
    import os
    import re

    from PIL import Image

    from .image_data import image_grid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, images in sets.items():
        grid = np.round(image_grid(np.asarray(images)[:n], ncols) * 255).astype(np.uint8)
        path = folder / (re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_") + ".png")
        tmp = path.with_name(f".tmp-{path.name}")
        Image.fromarray(grid).save(tmp, format="PNG")
        os.replace(tmp, path)
        paths.append(path)
    return paths


def ablation_markdown(result: Mapping[str, Any]) -> str:
    """:func:`generative_ablation`'s ``result`` as a titled markdown table."""
    cfg = result["config"]
    title = (f"Generative ablation: {cfg['seconds']:g} s per variant, {cfg['n_train']} training images, "
             f"{cfg['n_score']} samples vs {cfg['n_score']} held-out images, seed {cfg['seed']}; "
             f"features: {cfg['features']}")
    return f"# {title}\n\n{markdown_table(result['rows'], COLUMNS, floatfmt='.3g')}\n"


def write_ablation(result: Mapping[str, Any], out_dir: str | Path | None = None,
                   name: str = "ablation_generative") -> tuple[Path, Path]:
    """Write :func:`generative_ablation`'s ``result`` as ``<name>.json`` and a markdown table
    ``<name>.md`` (default folder: the reports folder). Returns both paths."""
    folder = Path(out_dir) if out_dir is not None else reports_dir()
    json_path = atomic_write_json(folder / f"{name}.json", result)
    md_path = atomic_write_text(folder / f"{name}.md", ablation_markdown(result))
    return json_path, md_path


def load_ablation(folder: str | Path, name: str = "ablation_generative") -> dict[str, Any] | None:
    """The result :func:`write_ablation` wrote to ``folder``, or ``None`` if there is none yet
    (``make ablation`` makes it). A file that exists but cannot be read is an error."""
    import json

    path = Path(folder) / f"{name}.json"
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
        result["config"], result["rows"], result["scores"]  # noqa: B018 -- the keys every reader needs
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a generative ablation result ({err!r}): delete it and "
                         f"re-run `make ablation`") from None
    return result


#: config entries that must agree for two ablation runs to be merged into one table
MERGE_KEYS = ("n_images", "n_train", "holdout", "n_score", "seconds", "seed", "features", "recipes",
              "dataset")


def merge_ablations(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One result from several :func:`generative_ablation` runs of the same data, seed, budget
    and features that trained different variants (e.g. side by side, one core each): the real
    floor once, then every run's variants in order. Runs that differ in a :data:`MERGE_KEYS`
    entry, or that share a variant, cannot be merged (``ValueError``)."""
    if not results:
        raise ValueError("merge_ablations needs at least one ablation result")
    first = results[0]["config"]
    for other in results[1:]:
        differ = [k for k in MERGE_KEYS if first.get(k) != other["config"].get(k)]
        if differ:
            raise ValueError(f"these ablation runs differ in {', '.join(differ)}: only runs of the same "
                             f"data, seed, budget and features can share one table")
    rows, scores, variants = [], {}, {}
    for result in results:
        for row in result["rows"]:
            name = row["variant"]
            if name in VARIANTS and name in scores:
                raise ValueError(f"variant {name!r} is in more than one of the runs to merge")
            if name in VARIANTS or name not in scores:
                rows.append(row)
                scores[name] = result["scores"][name]
        variants.update(result["config"]["variants"])
    return {"config": {**first, "variants": variants, "merged_runs": len(results)}, "rows": rows,
            "scores": scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="openmoji", help="openmoji, a folder of images or tfds:<name>")
    parser.add_argument("--subset", default="all", help="openmoji only: all, single or faces")
    parser.add_argument("--size", type=int, default=32, help="image size (a power of two, 16..128)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many images")
    parser.add_argument("--seconds", type=float, default=300.0, help="wall-clock training budget per variant")
    parser.add_argument("--variants", default="base,ema,beta1,diffaug,flip,all",
                        help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--holdout", type=int, default=500, help="real images kept out of training")
    parser.add_argument("--n-score", type=int, default=500, help="samples scored per variant")
    parser.add_argument("--features", default="fid-inception", choices=("fid-inception", "classifier"),
                        help="the standard FID network, or a CNN trained here on the dataset's labels")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON and markdown table")
    parser.add_argument("--grids", action="store_true",
                        help="also save a sample grid per variant (<out>/grids/)")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="FOLDER",
                        help="train nothing: merge the results (and grids) in these folders into --out")
    args = parser.parse_args(argv)
    if args.merge:
        return _merge_folders(args.merge, args.out or reports_dir())
    from .image_data import load_image_dataset
    from .scores import get_feature_extractor

    names = parse_variants(args.variants)
    data = load_image_dataset(args.dataset, image_size=args.size, limit=args.limit, subset=args.subset,
                              seed=args.seed)
    extractor = get_feature_extractor(data.images, data.labels, "label", prefer=args.features, seed=args.seed)
    result = generative_ablation(data.images, names, seconds=args.seconds, extractor=extractor,
                                 seed=args.seed, holdout=args.holdout, n_score=args.n_score,
                                 cache_features=args.features == "fid-inception",
                                 grid_dir=(args.out or reports_dir()) / "grids" if args.grids else None)
    result["config"]["dataset"] = data.card.as_dict()
    json_path, md_path = write_ablation(result, args.out)
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 0


def _merge_folders(folders: Sequence[Path], out: Path) -> int:
    import shutil

    results = []
    for folder in folders:
        result = load_ablation(folder)
        if result is None:
            raise SystemExit(f"no ablation result in {folder}: run its part first (see `make ablation`)")
        results.append(result)
    merged = merge_ablations(results)
    for folder in folders:     # the grids: every part's variants, the real images from the first
        for grid in sorted((folder / "grids").glob("*.png")):
            target = out / "grids" / grid.name
            if not target.exists() or grid.stem in VARIANTS:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(grid, target)
    json_path, md_path = write_ablation(merged, out)
    print(md_path.read_text())
    print(f"merged {len(folders)} runs into {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
