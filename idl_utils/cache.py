"""Trained-model cache: "load the trained model if it exists, otherwise train".

Weights and training info (history, seconds) are stored under ``data/cache/`` (git-ignored,
or ``$IDL_CACHE_DIR``) in a folder named after the model and a hash of its configuration, so
changing any hyper-parameter trains afresh while re-running a notebook -- or resuming an
interrupted ``make reproduce`` -- reuses everything already trained. Set ``IDL_RETRAIN=1`` to
ignore the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .config import cache_dir
from .results import atomic_write_json

RETRAIN_ENV = "IDL_RETRAIN"


def config_key(config: Mapping[str, Any]) -> str:
    """A short, stable hash of a JSON-able configuration (key order does not matter)."""
    import keras

    blob = json.dumps({"config": config, "keras": keras.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cache_path(name: str, config: Mapping[str, Any], part: str = "") -> Path:
    """The cache folder for model ``name`` with ``config``; with ``part`` (e.g. ``"snapshots"``)
    a folder beside it for what that training run writes along the way (progress grids,
    weights from earlier epochs), keyed the same way."""
    if not name or any(c in name for c in "/\\ "):
        raise ValueError(f"model name {name!r} must be a plain identifier such as 't2t_kit'")
    return cache_dir() / (f"{name}-{config_key(config)}" + (f"-{part}" if part else ""))


def load_or_train(
    name: str,
    config: Mapping[str, Any],
    build: Callable[[], Any],
    train: Callable[[Any], Mapping[str, Any]],
) -> tuple[Any, dict[str, Any]]:
    """Return ``(model, info)``: the cached model if this ``config`` was trained before,
    otherwise ``build()`` a fresh one, ``train(model)`` it and cache the result.

    ``build`` must return a *built* Keras model (so weights can be loaded into it); ``train``
    returns a JSON-able dict (history, seconds, ...) that is cached with the weights.
    ``info["cached"]`` tells which happened.
    """
    folder = cache_path(name, config)
    weights, info_file = folder / "model.weights.h5", folder / "info.json"
    model = build()
    if weights.exists() and info_file.exists() and os.environ.get(RETRAIN_ENV, "") not in {"1", "true"}:
        model.load_weights(weights)
        info = json.loads(info_file.read_text(encoding="utf-8"))
        print(f"[cache] loaded {name} from {folder} (trained in {info.get('seconds', 0):.1f} s); "
              f"set {RETRAIN_ENV}=1 to retrain", flush=True)
        return model, {**info, "cached": True}
    info = dict(train(model))
    info.setdefault("config", dict(config))
    # Write into a temporary folder and rename it into place: an interrupted save leaves no
    # half-written cache entry that a later run would trust.
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model.save_weights(tmp / "model.weights.h5")
        atomic_write_json(tmp / "info.json", info)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            # another process (a parallel test worker) saved the same model meanwhile: the same
            # configuration and seed give the same weights, so keep its copy
            if not (folder / "model.weights.h5").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model, {**info, "cached": False}
