"""Profiles, seeding and paths: the kit's one switch for "how big a run is this?".

One environment variable, ``IDL_PROFILE``, selects how much data and how many epochs every
notebook uses:

* ``smoke``   -- CI and ``make test``: seconds per notebook, tiny data, proves the code runs.
* ``default`` -- a student's laptop CPU: minutes per notebook, results worth looking at.
* ``full``    -- ``make reproduce``: the numbers that go into the report.

Notebooks read their hyper-parameters from the active profile in a single "parameters" cell::

    P = get_profile()
    EPOCHS = P.choose(smoke=2, default=30, full=60)
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PROFILE_ENV = "IDL_PROFILE"
DATA_DIR_ENV = "IDL_DATA_DIR"
REPORTS_DIR_ENV = "IDL_REPORTS_DIR"
CACHE_DIR_ENV = "IDL_CACHE_DIR"
#: What long steps print: ``bar``, ``summary`` or ``keras`` (see :mod:`idl_utils.training`).
PROGRESS_ENV = "IDL_PROGRESS"
PROGRESS_MODES = ("bar", "summary", "keras")

PROFILES = ("smoke", "default", "full")
DEFAULT_PROFILE = "default"
DEFAULT_SEED = 42
# Batches per compiled call in every training loop (Keras' ``steps_per_execution``): it saves
# Python's per-step overhead, which matters for the kit's small models on a slow CPU, and gives
# the same numbers (tested). Measured on a slow 2-core CPU: the kit's GAN 17% faster per step,
# notebook 02's kit models 2-16% faster, its streamed 3-digit models 1.4-1.7x faster.
STEPS_PER_EXECUTION = 10

#: TensorFlow's switch for its oneDNN CPU kernels. oneDNN picks its kernels at run time by the
#: CPU's instruction set (TensorFlow turns it on by itself only on CPUs with AVX-512 or AMX), so
#: with it on the same seed rounds differently on different machine kinds; with it off every x86
#: CPU runs the same compiled Eigen kernels. Measured (docs/performance.md): the smoke runs of
#: notebooks 02 and 04 give identical numbers on an Intel AVX-512 machine and an AMD AVX2 one only
#: with it off (full-scale runs: not yet measured). The kit's default is off; a value you set yourself wins.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
ONEDNN_DEFAULT = "0"

#: The repository root when the kit is used from a checkout (``pip install -e .``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """The active run profile. ``choose`` picks the value for this profile."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise ValueError(
                f"Unknown profile {self.name!r}. Accepted values: {', '.join(PROFILES)} "
                f"(set the {PROFILE_ENV} environment variable to one of them)."
            )

    def choose(self, *, smoke: T, default: T, full: T) -> T:
        """Return the value given for the active profile, e.g. ``P.choose(smoke=2, default=20,
        full=60)``. All three must be given so that every notebook is explicit about each."""
        return {"smoke": smoke, "default": default, "full": full}[self.name]

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"


def get_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, or the one in ``$IDL_PROFILE`` (``default`` when unset)."""
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
    return Profile(name.strip().lower())


def _dir_from_env(env: str, fallback: Path) -> Path:
    path = Path(os.environ.get(env) or fallback).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Where datasets are cached (``$IDL_DATA_DIR``, else ``data/`` in the checkout)."""
    return _dir_from_env(DATA_DIR_ENV, PROJECT_ROOT / "data")


def reports_dir() -> Path:
    """Where figures, tables and results go: ``$IDL_REPORTS_DIR`` if set, else ``reports/``
    for the ``full`` profile (the published reference) and ``reports/<profile>/`` (git-ignored)
    for the others, so a quick run never overwrites the reference results."""
    profile = get_profile().name
    fallback = PROJECT_ROOT / "reports"
    if profile != "full":
        fallback = fallback / profile
    return _dir_from_env(REPORTS_DIR_ENV, fallback)


def figures_dir() -> Path:
    """``reports/figures``: every figure a student may want in the report, stable names."""
    path = reports_dir() / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Trained-model cache (``$IDL_CACHE_DIR``, else ``data/cache``), git-ignored."""
    return _dir_from_env(CACHE_DIR_ENV, data_dir() / "cache")


def same_kernels_everywhere() -> str:
    """Turn TensorFlow's oneDNN CPU kernels off (:data:`ONEDNN_ENV`) unless you chose otherwise,
    so that x86 CPUs with and without AVX-512 run the same kernels; runs on ``import idl_utils``.
    Returns the value in force. It must happen before TensorFlow is imported: if TensorFlow
    was imported first (say ``import keras`` before ``import idl_utils``), this warns and says
    what to do, because the setting can no longer take effect in this process. On a GPU it
    changes nothing: there the GPU's kernels run, not oneDNN."""
    chosen = ONEDNN_ENV in os.environ
    value = os.environ.setdefault(ONEDNN_ENV, ONEDNN_DEFAULT)
    if not chosen and "tensorflow" in sys.modules:
        warnings.warn(
            f"TensorFlow was imported before idl_utils, so the kit could not set {ONEDNN_ENV}="
            f"{ONEDNN_DEFAULT} in time: on a CPU with AVX-512 your numbers may differ slightly from "
            "the kit's published ones. Restart the kernel and import idl_utils (or any idl_utils "
            f"module) before keras/tensorflow, or set {ONEDNN_ENV} yourself to silence this.",
            stacklevel=2)
    return value


def set_seed(seed: int = DEFAULT_SEED, *, deterministic_ops: bool = True) -> int:
    """Seed Python, NumPy and the Keras backend in one place, and ask TensorFlow for
    deterministic kernels so that the same seed on the same machine gives the same numbers.

    Returns the seed so notebooks can record it.
    """
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic_ops and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - very old TF; determinism is best effort there
            pass
    return seed


def progress_mode() -> str:
    """What long steps print, from ``$IDL_PROGRESS`` (default ``bar``): ``bar`` a progress bar
    and a summary line, ``summary`` the summary line only (``make test``, ``make reproduce``: the
    saved notebooks keep no redraws), ``keras`` Keras' own per-epoch log for trainings."""
    mode = os.environ.get(PROGRESS_ENV, "").strip().lower() or "bar"
    if mode not in PROGRESS_MODES:
        raise ValueError(f"{PROGRESS_ENV}={mode!r} is not one of {', '.join(PROGRESS_MODES)}: "
                         f"unset it or pick one (bar: a progress bar and a summary line)")
    return mode


def progress_bar(items: Iterable[T], *, desc: str, total: int | None = None) -> Iterable[T]:
    """``items`` with a progress bar (tqdm: a widget in Jupyter) when :func:`progress_mode` is
    ``bar``, else as they are; either way a long loop that is not a training (rasterising a
    dataset, say) follows the same switch as the trainings."""
    if progress_mode() != "bar":
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, mininterval=1, leave=False, file=sys.stdout)
