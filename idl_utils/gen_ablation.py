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
today               notebook 01's GAN as it trains today (``beta1``: Adam beta_1 = 0); the
                    reference of the equal-time variants below, which all keep beta_1 = 0
g32                 a narrower generator (first-layer width 32 instead of 48): cheaper steps
g32-d64             g32 with a wider discriminator (64)
g32-b16             g32 with batches of 16
w32                 both networks at width 32
hinge               g32-d64 with the hinge loss
sn-hinge            hinge with spectral normalisation in the discriminator
r1                  g32-d64 with a lazy R1 penalty on real images (gamma 0.1, every 16 steps)
cond                g32-d64, class-conditional: label embedding in G, projection discriminator
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

**Equal time, reproducibly.** On a shared machine a wall-clock budget buys a different number
of steps every run. The step-budget mode separates the two: first time every variant's
training step against the reference's, in alternation (A B A B ..., so that a change in the
machine's load hits all of them alike; :func:`time_steps`)::

    python -m idl_utils.gen_ablation --time-steps --variants today,g32,cond --out DIR

writes ``DIR/step_costs.json`` (median ms per step of each variant and its ratio to the first).
Then train each variant for the steps that ``--equal-time`` seconds buy at the reference's
step cost ``--reference-ms`` (``make speed``'s GAN step; 255 ms on the machine that made the
published tables) times the variant's measured ratio::

    python -m idl_utils.gen_ablation --equal-time 714 --step-costs DIR/step_costs.json \\
        --variants today,g32,cond --out DIR

The steps are fixed numbers, so the table is reproducible on any machine; its columns give
each variant's steps, its measured cost ratio and the seconds those steps take at the
reference's speed.
"""

from __future__ import annotations

import argparse
import os
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
R1_GAMMA = 0.1
#: a moving average with a half-life of about 230 steps, ~5% of a 4,000-step run (StyleGAN2-ADA
#: keeps its half-life at or below 5% of the images seen); 0.999's is 693 steps
SHORT_EMA_DECAY = 0.997
BY_CLASS_COLUMNS = 12          # a conditional GAN's grid by class: one row of this many per class
REFERENCE_MS = 255.0            # make speed's GAN step on the machine that made the published tables
_BETA1: dict[str, Any] = {"adam_beta_1": 0.0}
_W32: dict[str, Any] = {"width": 32}
_W24: dict[str, Any] = {"width": 24}


@dataclass(frozen=True)
class Variant:
    """One row of the ablation: ``kind`` ``"gan"`` or ``"vae"``; keyword arguments of the
    model's constructor (``model``) and of :func:`~idl_utils.generative.train_generative`
    (``train``, which may override the recipe's ``batch_size`` and ``learning_rate``); how a
    VAE is sampled (``prior``: ``"normal"`` or ``"gmm"``); ``conditional``: a class-conditional
    GAN on the dataset's labels (``n_classes`` from the data); ``recalibrate``: a GAN sampled
    after :func:`~idl_utils.generative.recalibrate_batch_norm`. ``trains_as``: the variant
    whose training this one shares (it differs only in how it samples): its step cost and,
    with the model cache, its trained model."""

    kind: str
    description: str
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    prior: str = "normal"
    conditional: bool = False
    recalibrate: bool = False
    trains_as: str = ""


VARIANTS: dict[str, Variant] = {
    "base": Variant("gan", "notebook 01's GAN"),
    "ema": Variant("gan", f"moving average of the generator (decay {EMA_DECAY})", {"ema_decay": EMA_DECAY}),
    "beta1": Variant("gan", "Adam beta_1 = 0", train={"adam_beta_1": 0.0}),
    "diffaug": Variant("gan", f"DiffAugment ({DEFAULT_POLICY})", {"diffaug": DEFAULT_POLICY}),
    "flip": Variant("gan", "random horizontal flips", train={"flip": True}),
    "all": Variant("gan", "ema + beta1 + diffaug + flip", {"ema_decay": EMA_DECAY, "diffaug": DEFAULT_POLICY},
                   {"adam_beta_1": 0.0, "flip": True}),
    "today": Variant("gan", "notebook 01's GAN before the equal-time table (width 48, Adam beta_1 = 0)",
                     train=_BETA1),
    "g32": Variant("gan", "generator width 32 (48 today)", {"g_width": 32}, _BETA1),
    "g32-d64": Variant("gan", "generator width 32, discriminator 64", {"g_width": 32, "d_width": 64}, _BETA1),
    "g32-b16": Variant("gan", "generator width 32, batches of 16", {"g_width": 32},
                       {**_BETA1, "batch_size": 16}),
    "w32": Variant("gan", "both networks width 32 (48 today)", _W32, _BETA1),
    "w24": Variant("gan", "both networks width 24 (48 today)", _W24, _BETA1),
    "w32-bn": Variant("gan", "w32 sampled with recalibrated batch-norm statistics", _W32, _BETA1,
                      recalibrate=True, trains_as="w32"),
    "cond": Variant("gan", "w32, class-conditional (label embedding in G, projection D)", _W32, _BETA1,
                    conditional=True),
    "cond-bn": Variant("gan", "cond sampled with recalibrated batch-norm statistics", _W32, _BETA1,
                       conditional=True, recalibrate=True, trains_as="cond"),
    "cond-hinge": Variant("gan", "cond + hinge loss", {**_W32, "loss": "hinge"}, _BETA1, conditional=True),
    "cond-sn-hinge": Variant("gan", "cond + hinge loss + spectral norm in D",
                             {**_W32, "loss": "hinge", "spectral_norm": True}, _BETA1, conditional=True),
    "cond-r1": Variant("gan", f"cond + lazy R1 (gamma {R1_GAMMA}, every 16 steps)",
                       {**_W32, "r1_gamma": R1_GAMMA}, _BETA1, conditional=True),
    "cond-ema": Variant("gan", f"cond sampled from a moving average of G (decay {SHORT_EMA_DECAY})",
                        {**_W32, "ema_decay": SHORT_EMA_DECAY}, _BETA1, conditional=True),
    "cond-ema-bn": Variant("gan", "cond-ema with recalibrated batch-norm statistics",
                           {**_W32, "ema_decay": SHORT_EMA_DECAY}, _BETA1, conditional=True, recalibrate=True,
                           trains_as="cond-ema"),
    "vae": Variant("vae", "notebook 01's VAE, sampled from N(0, I)"),
    "vae-sigma": Variant("vae", "sigma-VAE, learned sigma", {"loss": "sigma"}),
    "vae-sigma-optimal": Variant("vae", "sigma-VAE, optimal sigma = sqrt(MSE)", {"loss": "sigma-optimal"}),
    "vae-gmm": Variant("vae", f"sampled from a {GMM_COMPONENTS}-component GMM of its codes", prior="gmm"),
    "vae-sigma-gmm": Variant("vae", "sigma-VAE + GMM prior", {"loss": "sigma"}, prior="gmm"),
    "vae-all": Variant("vae", "sigma-VAE + GMM prior + flips", {"loss": "sigma"}, {"flip": True}, "gmm"),
}

COLUMNS = ["variant", "model", "what changes", "KID ± std", "precision", "recall", "steps", "epochs",
           "train seconds", "D gap"]
#: the columns of a step-budget (equal-time) run: each variant's measured step cost replaces
#: the machine's wall time
STEP_COLUMNS = ["variant", "model", "what changes", "KID ± std", "precision", "recall", "steps",
                "ms/step", "cost vs ref", "equal-time seconds", "D gap"]


def training_name(name: str) -> str:
    """The variant whose training ``name`` shares (itself unless it differs only in sampling)."""
    return VARIANTS[name].trains_as or name


def parse_variants(text: str | Sequence[str]) -> list[str]:
    """Variant names from ``"base,ema"`` or a list, checked against :data:`VARIANTS`."""
    names = [v.strip() for v in text.split(",")] if isinstance(text, str) else [str(v).strip() for v in text]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        raise ValueError(f"unknown generative ablation variant(s) {unknown or names}: choose from "
                         f"{', '.join(VARIANTS)} (comma-separated)")
    return names


def _variant_kwargs(variant: Variant, n_classes: int | None,
                    recipes: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keyword arguments of the variant's model and of its training (without labels)."""
    recipe = dict(recipes[variant.kind])
    train = {"batch_size": recipe.pop("batch_size"), "learning_rate": recipe.pop("learning_rate"),
             **variant.train}
    model_kwargs = {**recipe, **variant.model}
    if variant.conditional:
        if n_classes is None:
            raise ValueError(f"{variant.description}: a conditional variant needs the images' labels")
        model_kwargs["n_classes"] = n_classes
    return model_kwargs, train


def _build_variant(variant: Variant, image_size: int, seed: int, n_classes: int | None,
                   recipes: Mapping[str, Mapping[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The variant's model (built, seeded) and the keyword arguments of its training."""
    from .generative import GAN, VAE

    model_kwargs, train = _variant_kwargs(variant, n_classes, recipes)
    cls = GAN if variant.kind == "gan" else VAE
    set_seed(seed)
    return cls(image_size=image_size, seed=seed, **model_kwargs).build_all(), train


def _n_classes(labels: np.ndarray | None) -> int | None:
    return None if labels is None else int(np.max(labels)) + 1


def _digest(array: np.ndarray) -> str:
    import hashlib

    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.shape}|{array.dtype}|".encode() + array.tobytes()).hexdigest()[:16]


def _train_variant(variant: Variant, train_images: np.ndarray, budget: float | int, seed: int,
                   recipes: Mapping[str, Mapping[str, Any]], train_labels: np.ndarray | None = None,
                   *, by_steps: bool = False, cache: bool = False) -> tuple[Any, dict[str, Any]]:
    """Train ``variant`` for ``budget`` seconds of wall time, or ``budget`` steps if ``by_steps``.
    ``cache`` (step budgets only): keep the trained model in the kit's model cache
    (:func:`~idl_utils.cache.load_or_train`), keyed by everything that decides its weights, so
    that a table can be re-made, or assembled from runs in several processes, without training
    a variant twice."""
    from .cache import load_or_train
    from .generative import StepBudget, TimeBudget, steps_taken, train_generative

    n_classes = _n_classes(train_labels) if variant.conditional else None
    model_kwargs, train = _variant_kwargs(variant, n_classes, recipes)
    if variant.conditional:
        train["labels"] = train_labels

    def build() -> Any:
        return _build_variant(variant, int(train_images.shape[1]), seed, n_classes, recipes)[0]

    def fit(model: Any) -> dict[str, Any]:
        stop = StepBudget(int(budget)) if by_steps else TimeBudget(float(budget))
        record = train_generative(model, train_images, epochs=MAX_EPOCHS, seed=seed, callbacks=[stop],
                                  verbose=0, **train)
        return {"steps": steps_taken(model), "epochs": record["epochs_run"],
                "train_seconds": round(record["seconds"], 1)}

    if not (cache and by_steps):
        model = build()
        return model, fit(model)
    config = {"kind": variant.kind, "model": model_kwargs,
              "train": {k: v for k, v in train.items() if k != "labels"}, "steps": int(budget), "seed": seed,
              "images": _digest(np.asarray(train_images, dtype="float32")),
              "labels": None if train_labels is None or not variant.conditional else _digest(train_labels)}
    model, info = load_or_train(f"gen_ablation_{variant.kind}", config, build, fit)
    return model, {k: info[k] for k in ("steps", "epochs", "train_seconds")}


def time_steps(images: np.ndarray, variants: Sequence[str], *, labels: np.ndarray | None = None,
               steps: int = 30, rounds: int = 3, seed: int = DEFAULT_SEED, clock: str = "cpu",
               recipes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Milliseconds per training step of every variant, timed in alternation: each variant is
    built, compiled and its step traced (a few untimed steps), then ``rounds`` times every
    variant trains ``steps`` steps in turn (A B C A B C ...), so a change in the machine's load
    hits them all alike.

    ``clock="cpu"`` (default) counts the process's CPU time, ``"wall"`` the elapsed time. With
    one TensorFlow thread (``TF_NUM_INTRAOP_THREADS=1``) a step's CPU time is its wall time on
    an otherwise idle core, and it stays so while other jobs share the machine, when the wall
    time of a step measures mostly the others' load. Both are recorded.

    Returns ``{"ms_per_step": {name: median}, "ratio": {name: median / the first variant's
    median}, "rounds": {name: [ms, ...]}, "wall_ms_per_step": ..., "cpu_ms_per_step": ...}``;
    the ratios are what :func:`equal_time_steps` uses. Steps run in the kit's groups of
    :data:`~idl_utils.config.STEPS_PER_EXECUTION`, as in training. A variant that trains as
    another (``trains_as``) is timed as that one."""
    import time

    from .config import STEPS_PER_EXECUTION
    from .generative import StepBudget, train_generative, training_dataset

    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock must be 'cpu' or 'wall', got {clock!r}")
    names = list(dict.fromkeys(training_name(n) for n in parse_variants(variants)))
    recipes = recipes or {"gan": GAN_RECIPE, "vae": VAE_RECIPE}
    images = np.asarray(images, dtype="float32")
    steps = max(1, -(-steps // STEPS_PER_EXECUTION)) * STEPS_PER_EXECUTION

    built = {}
    for name in names:
        variant = VARIANTS[name]
        model, train = _build_variant(variant, int(images.shape[1]), seed, _n_classes(labels), recipes)
        if variant.conditional:
            train["labels"] = labels
        # compiles the model and traces its step; later fits reuse both
        train_generative(model, images, epochs=MAX_EPOCHS, seed=seed, verbose=0,
                         callbacks=[StepBudget(STEPS_PER_EXECUTION)], **train)
        data = training_dataset(images, train["batch_size"], seed, flip=train.get("flip", False),
                                labels=train.get("labels")).repeat()
        built[name] = (model, data)
    timings: dict[str, dict[str, list[float]]] = {c: {name: [] for name in names} for c in ("cpu", "wall")}
    for _ in range(rounds):
        for name in names:
            model, data = built[name]
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
            timings["wall"][name].append(1000.0 * (time.perf_counter() - wall) / steps)
            timings["cpu"][name].append(1000.0 * (time.process_time() - cpu) / steps)
    medians = {c: {name: float(np.median(t)) for name, t in per.items()} for c, per in timings.items()}
    reference = names[0]
    chosen = medians[clock]
    return {"reference": reference, "clock": clock, "steps": steps, "rounds_run": rounds,
            "tf_threads": os.environ.get("TF_NUM_INTRAOP_THREADS", "default"),
            "ms_per_step": {n: round(m, 1) for n, m in chosen.items()},
            "ratio": {n: round(m / chosen[reference], 3) for n, m in chosen.items()},
            "rounds": {n: [round(t, 1) for t in timings[clock][n]] for n in names},
            "cpu_ms_per_step": {n: round(m, 1) for n, m in medians["cpu"].items()},
            "wall_ms_per_step": {n: round(m, 1) for n, m in medians["wall"].items()},
            "variants": {n: VARIANTS[n].description for n in names}}


def add_step_costs(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` :func:`time_steps` costs with the variants of a later timing ``new`` added. A
    variant in both keeps its ``old`` cost (step budgets may have been trained on it); the new
    run's copy shows how far two timings agree (``runs`` keeps every run's ratios). Both must be
    timed against the same reference with the same clock: each ratio is relative to the
    reference timed beside it, in its own run."""
    for key in ("reference", "clock"):
        if old.get(key) != new.get(key):
            raise ValueError(f"step costs timed with another {key} ({old.get(key)!r} vs {new.get(key)!r}) "
                             "cannot share a table: time every variant again")
    merged = {**old}
    for key in ("ms_per_step", "ratio", "rounds", "cpu_ms_per_step", "wall_ms_per_step", "variants"):
        merged[key] = {**new.get(key, {}), **old.get(key, {})}
    earlier = old.get("runs") or [{k: old[k] for k in ("ms_per_step", "ratio") if k in old}]
    merged["runs"] = [*earlier, {k: new[k] for k in ("ms_per_step", "ratio") if k in new}]
    return merged


def equal_time_steps(costs: Mapping[str, Any], variants: Sequence[str], seconds: float,
                     reference_ms: float = REFERENCE_MS, multiple: int | None = None) -> dict[str, int]:
    """Steps each variant trains so that all take ``seconds`` at the reference's speed:
    ``seconds / (reference_ms * ratio)``, with ``ratio`` the variant's step cost relative to
    the reference in ``costs`` (:func:`time_steps`), rounded to a whole number of groups of
    ``multiple`` steps (default :data:`~idl_utils.config.STEPS_PER_EXECUTION`)."""
    from .config import STEPS_PER_EXECUTION

    multiple = multiple or STEPS_PER_EXECUTION
    ratio = {n: costs["ratio"].get(training_name(n) if n in VARIANTS else n) for n in variants}
    missing = [n for n, r in ratio.items() if r is None]
    if missing:
        raise ValueError(f"no measured step cost for {', '.join(missing)}: time them first "
                         f"(python -m idl_utils.gen_ablation --time-steps --variants ...)")
    return {n: max(multiple, int(round(seconds * 1000.0 / (reference_ms * r) / multiple)) * multiple)
            for n, r in ratio.items()}


def _samples(model: Any, variant: Variant, train_images: np.ndarray, n: int, seed: int,
             labels: np.ndarray | None = None) -> np.ndarray:
    from .generative import generate, recalibrate_batch_norm

    if variant.recalibrate:
        recalibrate_batch_norm(model, seed=seed)
    if variant.conditional:
        # labels in proportion to the training frequencies (recorded when it trained)
        return generate(model, n, seed)
    return generate(model, n, seed, prior=variant.prior or "normal", images=train_images,
                    n_components=GMM_COMPONENTS)


def generative_ablation(images: np.ndarray, variants: Sequence[str], *, seconds: float | None = None,
                        extractor: FeatureExtractor, seed: int = DEFAULT_SEED, holdout: int = 500,
                        n_score: int = 500, gan_recipe: Mapping[str, Any] | None = None,
                        vae_recipe: Mapping[str, Any] | None = None,
                        cache_features: bool = False, grid_dir: str | Path | None = None,
                        labels: np.ndarray | None = None, steps: int | Mapping[str, int] | None = None,
                        equal_time: float | None = None, step_costs: Mapping[str, Any] | None = None,
                        reference_ms: float = REFERENCE_MS, cache_models: bool = False) -> dict[str, Any]:
    """Train every variant in ``variants`` (names of :data:`VARIANTS`) for ``seconds`` of wall
    time on ``images`` ``(n, s, s, 3)`` in [0, 1] minus ``holdout`` held-out ones, then score
    ``min(n_score, holdout)`` samples of each against the held-out images with ``extractor``.

    Or, instead of ``seconds``, a reproducible budget of training steps: ``steps`` (the same
    number for every variant, or one per variant), or ``equal_time`` seconds at the reference's
    ``reference_ms`` per step, each variant trained for the steps those buy at its measured
    cost in ``step_costs`` (:func:`time_steps`' result; :func:`equal_time_steps`). The costs
    are kept in the result and its table. ``labels`` ``(n,)``: the images' classes, needed
    by conditional variants (which are scored on samples drawn in the training classes'
    proportions) and kept beside the split. ``cache_models``: with a step budget, keep every
    trained model in the kit's model cache and reuse it when the same variant, data, seed and
    steps come again (``IDL_RETRAIN=1`` retrains).

    ``gan_recipe``/``vae_recipe`` override entries of :data:`GAN_RECIPE`/:data:`VAE_RECIPE`
    (for quick checks). ``grid_dir``: also save the first 48 scored images of every set as
    ``<grid_dir>/<variant>.png`` (one grid per row of the table, the real images included), so
    the table can be checked by eye, and for a conditional variant ``<variant>_by_class.png``,
    one row per class (:func:`~idl_utils.generative.generate_by_class`). Returns
    ``{"config": ..., "rows": [...], "scores": {...}}``: one row per variant (columns
    :data:`COLUMNS`, or :data:`STEP_COLUMNS` with a step budget) after the real-images floor;
    ``scores`` keeps every :func:`~idl_utils.scores.feature_scores` result and the
    discriminator gaps."""
    from .generative import discriminator_gap
    from .scores import format_kid, score_sets

    names = parse_variants(variants)
    if sum(b is not None for b in (seconds, steps, equal_time)) != 1:
        raise ValueError("give one budget: seconds= (wall clock), steps= or equal_time= (with step_costs=)")
    if equal_time is not None:
        if step_costs is None:
            raise ValueError("equal_time= needs step_costs= (time_steps' measured costs)")
        steps = equal_time_steps(step_costs, names, equal_time, reference_ms)
    elif isinstance(steps, (int, np.integer)):
        steps = dict.fromkeys(names, int(steps))
    if steps is not None and (missing := [n for n in names if n not in steps]):
        raise ValueError(f"no step budget for {', '.join(missing)}")
    images = np.asarray(images, dtype="float32")
    if not 2 <= holdout <= len(images) // 2:
        raise ValueError(f"holdout must be between 2 and half of the {len(images)} images, got {holdout}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    recipes = {"gan": {**GAN_RECIPE, **(gan_recipe or {})}, "vae": {**VAE_RECIPE, **(vae_recipe or {})}}
    order = np.random.default_rng(seed).permutation(len(images))
    heldout, train = images[order[:holdout]], images[order[holdout:]]
    heldout_labels = train_labels = None
    if labels is not None:
        labels = np.asarray(labels).astype("int64")
        heldout_labels, train_labels = labels[order[:holdout]], labels[order[holdout:]]
    n = min(n_score, holdout)
    sets = {"real (training images)": train[:n]}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        variant = VARIANTS[name]
        budget = seconds if steps is None else steps[name]
        model, info[name] = _train_variant(variant, train, budget, seed, recipes, train_labels,
                                           by_steps=steps is not None, cache=cache_models)
        sets[name] = _samples(model, variant, train, n, seed)
        if grid_dir is not None and variant.conditional:
            from .generative import generate_by_class

            by_class = generate_by_class(model, BY_CLASS_COLUMNS, seed)
            save_grids({f"{name}_by_class": by_class.reshape(-1, *by_class.shape[2:])}, grid_dir,
                       n=len(by_class) * BY_CLASS_COLUMNS, ncols=BY_CLASS_COLUMNS)
        if variant.kind == "gan":
            gap_labels = ({"train_labels": train_labels[:holdout], "heldout_labels": heldout_labels}
                          if variant.conditional else {})
            info[name]["discriminator_gap"] = discriminator_gap(model, train[:holdout], heldout, **gap_labels)
        if steps is not None and step_costs is not None:
            trainer = training_name(name)
            ratio = step_costs["ratio"][trainer]
            at_reference = info[name]["steps"] * reference_ms * ratio / 1000
            info[name].update({"ms_per_step": step_costs["ms_per_step"][trainer], "cost_ratio": ratio,
                               "equal_time_seconds": round(at_reference, 1)})
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
                     "ms/step": run.get("ms_per_step", ""), "cost vs ref": run.get("cost_ratio", ""),
                     "equal-time seconds": run.get("equal_time_seconds", ""),
                     "D gap": "" if gap is None else round(gap["gap"], 3)})
    config = {"n_images": len(images), "n_train": len(train), "holdout": holdout, "n_score": n,
              "seconds": seconds, "seed": seed, "features": extractor.name, "recipes": recipes,
              "variants": {name: VARIANTS[name].description for name in names}}
    if steps is not None:
        config.update({"budget": "steps", "steps": {name: int(steps[name]) for name in names},
                       "equal_time": equal_time, "reference_ms": reference_ms})
        if step_costs is not None:
            config["step_costs"] = dict(step_costs)
    return {"config": config, "rows": rows,
            "scores": {name: {**s, **info.get(name, {})} for name, s in scores.items()}}


def ablation_verdicts(result: Mapping[str, Any]) -> list[str]:
    """One sentence per variant of :func:`generative_ablation`'s ``result``: its KID against
    its kind's base (``base`` for GAN variants, or ``today`` in a table without ``base`` such as
    the equal-time one; ``vae`` for VAE ones) with
    :func:`~idl_utils.scores.kid_verdict` (a gap within one KID standard deviation is a tie),
    plus precision and recall. Variants whose base is not in ``result`` are skipped."""
    from .scores import kid_verdict

    scores = result["scores"]
    bases = {"gan": "base" if "base" in scores else "today", "vae": "vae"}
    lines = []
    for name, s in scores.items():
        variant = VARIANTS.get(name)
        base = bases.get(variant.kind) if variant else None
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


@dataclass
class FacesVsAll:
    """Notebook 01's varied-vs-uniform comparison (:func:`faces_vs_all`): the table rows, one
    sentence per variant, ``(variant, all-emoji grid, faces grid)`` image paths, and what is
    missing (one sentence per model kind that has not run on both datasets)."""

    rows: list[dict[str, Any]]
    verdicts: list[str]
    grids: list[tuple[str, Path, Path]]
    missing: list[str]


def faces_vs_all(folder: str | Path = PUBLISHED_DIR, kinds: Sequence[str] = ("gan", "vae")) -> FacesVsAll:
    """Compare the ablation runs on all emoji with those on the faces (``<folder>/faces/<kind>``):
    :func:`dataset_comparison` rows of the variants run on the faces, and per variant whether its
    KID came out closer to its own dataset's real-vs-real floor on the faces (a tie within the two
    KIDs' standard deviations), as a :func:`idl_utils.narrate.hypothesis` sentence. The all-emoji
    run is the first of ``<folder>/<kind>-equal`` (the equal-time table) and ``<folder>/<kind>``
    that scored every variant the faces run has."""
    from .narrate import hypothesis

    folder = Path(folder)
    out = FacesVsAll([], [], [], [])
    for kind in kinds:
        uniform = load_ablation(folder / "faces" / kind)
        every, every_dir = None, folder / kind
        for candidate in (folder / f"{kind}-equal", folder / kind):
            run = load_ablation(candidate)
            wanted = set(uniform["config"]["variants"]) if uniform is not None else None
            if wanted is not None and run is not None and wanted <= set(run["scores"]):
                every, every_dir = run, candidate
                break
        runs = {"faces": uniform, "all emoji": every}
        if any(run is None for run in runs.values()):
            out.missing.append(f"no {kind.upper()} variant run on both datasets: run `make ablation` "
                               "(or `make ablation-gan-equal`) and `make ablation-faces`")
            continue
        uniform = runs["faces"]
        out.rows += [row for row in dataset_comparison({"all emoji": runs["all emoji"], "faces": uniform})
                     if row["variant"] in uniform["scores"]]
        for name in uniform["config"]["variants"]:
            above = {}
            for label, run in runs.items():
                floor = next(s["kid"] for n, s in run["scores"].items() if n not in run["config"]["variants"])
                above[label] = run["scores"][name]["kid"] - floor
            noise = sum(run["scores"][name]["kid_std"] for run in runs.values())
            out.verdicts.append(hypothesis(f"{name}: uniform data is easier to imitate",
                                           "faces", above["faces"], "all emoji", above["all emoji"],
                                           what="KID above its floor", percent=False,
                                           higher_is_better=False, tie=noise))
            out.grids.append((name, every_dir / "grids" / f"{name}.png",
                              folder / "faces" / kind / "grids" / f"{name}.png"))
    return out


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
    by_steps = cfg.get("budget") == "steps"
    if by_steps:
        budget = "a fixed number of steps per variant"
        if cfg.get("equal_time"):
            budget = (f"equal time: the steps {cfg['equal_time']:g} s buy at the reference's "
                      f"{cfg['reference_ms']:g} ms per step times each variant's measured cost")
    else:
        budget = f"{cfg['seconds']:g} s per variant"
    title = (f"Generative ablation: {budget}, {cfg['n_train']} training images, "
             f"{cfg['n_score']} samples vs {cfg['n_score']} held-out images, seed {cfg['seed']}; "
             f"features: {cfg['features']}")
    table = markdown_table(result["rows"], STEP_COLUMNS if by_steps else COLUMNS, floatfmt=".3g")
    return f"# {title}\n\n{table}\n"


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
              "dataset", "budget", "equal_time", "reference_ms")


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
    merged = {**first, "variants": variants, "merged_runs": len(results)}
    if first.get("budget") == "steps":     # every part's step budgets
        merged["steps"] = {name: n for result in results for name, n in result["config"]["steps"].items()}
    return {"config": merged, "rows": rows,
            "scores": scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="openmoji", help="openmoji, a folder of images or tfds:<name>")
    parser.add_argument("--subset", default="all", help="openmoji only: all, single or faces")
    parser.add_argument("--size", type=int, default=32, help="image size (a power of two, 16..128)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many images")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, default=None,
                        help="wall-clock training budget per variant (default 300 without another budget)")
    budget.add_argument("--steps", type=int, default=None,
                        help="the same number of training steps for every variant")
    budget.add_argument("--equal-time", type=float, default=None, metavar="SECONDS",
                        help="train each variant for the steps SECONDS buy at --reference-ms per step times "
                             "its cost in --step-costs")
    budget.add_argument("--time-steps", action="store_true",
                        help="train nothing: time the variants' steps in alternation "
                             "-> <out>/step_costs.json")
    parser.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                        help="--time-steps: count CPU time (robust to other jobs, with one TF thread) "
                             "or wall time")
    parser.add_argument("--timing-steps", type=int, default=30, help="--time-steps: steps per timed call")
    parser.add_argument("--rounds", type=int, default=3, help="--time-steps: rounds of alternation")
    parser.add_argument("--add", action="store_true",
                        help="--time-steps: add these variants to <out>/step_costs.json, not replace it")
    parser.add_argument("--step-costs", type=Path, default=None,
                        help="step_costs.json from --time-steps (for --equal-time)")
    parser.add_argument("--reference-ms", type=float, default=REFERENCE_MS,
                        help="the reference variant's ms per step that --equal-time counts in")
    parser.add_argument("--no-cache", action="store_true",
                        help="with --steps/--equal-time: train every variant afresh instead of reusing "
                             "(and keeping) trained models in the model cache")
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
    if args.equal_time is not None and args.step_costs is None:
        parser.error("--equal-time needs --step-costs (made by --time-steps)")
    import json

    from .image_data import load_image_dataset
    from .scores import get_feature_extractor

    names = parse_variants(args.variants)
    data = load_image_dataset(args.dataset, image_size=args.size, limit=args.limit, subset=args.subset,
                              seed=args.seed)
    out = args.out or reports_dir()
    if args.time_steps:
        costs = time_steps(data.images, names, labels=data.labels, seed=args.seed, clock=args.clock,
                           steps=args.timing_steps, rounds=args.rounds)
        path = Path(out) / "step_costs.json"
        if args.add and path.exists():
            costs = add_step_costs(json.loads(path.read_text()), costs)
        path = atomic_write_json(path, costs)
        for name in names:
            print(f"{name}: {costs['ms_per_step'][name]} {costs['clock']} ms per step "
                  f"({costs['ratio'][name]:.3f} x {costs['reference']}; "
                  f"wall {costs['wall_ms_per_step'][name]} ms), rounds {costs['rounds'][name]}")
        print(f"wrote {path}")
        return 0
    step_costs = None
    if args.step_costs is not None:
        step_costs = json.loads(args.step_costs.read_text())
    extractor = get_feature_extractor(data.images, data.labels, "label", prefer=args.features, seed=args.seed)
    seconds = args.seconds
    if seconds is None and args.steps is None and args.equal_time is None:
        seconds = 300.0
    result = generative_ablation(data.images, names, seconds=seconds, steps=args.steps,
                                 equal_time=args.equal_time, step_costs=step_costs,
                                 reference_ms=args.reference_ms, extractor=extractor, labels=data.labels,
                                 seed=args.seed, holdout=args.holdout, n_score=args.n_score,
                                 cache_features=args.features == "fid-inception",
                                 cache_models=not args.no_cache,
                                 grid_dir=out / "grids" if args.grids else None)
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
