"""Trained-model cache: "load the trained model if it exists, otherwise train".

Weights and training info (history, seconds) are stored under ``data/cache/`` (git-ignored,
or ``$IDL_CACHE_DIR``) in a folder named after the model and a hash of its configuration, so
changing any hyper-parameter trains afresh while re-running a notebook -- or resuming an
interrupted ``make reproduce`` -- reuses everything already trained. Set ``IDL_RETRAIN=1`` to
ignore the cache.

Each entry holds ``model.weights.h5``, ``info.json`` and, written last, ``checksum.sha256``
(``sha256sum`` format, so ``sha256sum -c checksum.sha256`` checks it by hand too). An entry is
verified before it is used; a damaged one (a truncated weights file after a full disk, an
``info.json`` that is not JSON, a file changed after it was saved) is treated as missing: one
:class:`CacheEntryWarning` names its folder and what is wrong, and the model is trained again
into the same folder. Entries saved before the kit wrote checksums are used when their weights
file reads back in full and their ``info.json`` parses, and gain a checksum once loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .config import cache_dir
from .results import atomic_write_json, atomic_write_text
from .wheels import sha256_of

RETRAIN_ENV = "IDL_RETRAIN"
WEIGHTS_FILE, INFO_FILE, CHECKSUM_FILE = "model.weights.h5", "info.json", "checksum.sha256"


class CacheEntryWarning(UserWarning):
    """A cached model could not be trusted (damaged or unreadable) and is trained again."""


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


def _checksum_text(folder: Path) -> str:
    return "".join(f"{sha256_of(folder / name)}  {name}\n" for name in (WEIGHTS_FILE, INFO_FILE))


def _hdf5_problem(path: Path) -> str | None:
    """Why the HDF5 file at ``path`` does not read back in full, or None when it does."""
    import h5py

    def read(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            obj[()]

    try:
        with h5py.File(path, "r") as f:
            f.visititems(read)
    except Exception as exc:  # h5py reports damage as OSError, KeyError, RuntimeError, ...
        return f"{WEIGHTS_FILE} does not read back ({_first_line(exc)})"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def check_entry(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Check the cache entry in ``folder`` without loading it into a model: ``(info, None)``
    when it can be used, ``(None, why not)`` when it is damaged or incomplete."""
    missing = [name for name in (WEIGHTS_FILE, INFO_FILE) if not (folder / name).is_file()]
    if missing:
        return None, f"{' and '.join(missing)} missing"
    checksum = folder / CHECKSUM_FILE
    if checksum.exists():
        try:
            recorded = checksum.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"{CHECKSUM_FILE} unreadable ({_first_line(exc)})"
        lines = recorded.splitlines()
        bad = [name for name in (WEIGHTS_FILE, INFO_FILE)
               if f"{sha256_of(folder / name)}  {name}" not in lines]
        if bad:
            return None, (f"{' and '.join(bad)} {'does' if len(bad) == 1 else 'do'} not match "
                          f"{CHECKSUM_FILE} (cut short, overwritten or damaged since it was saved)")
    else:  # saved before the kit wrote checksums
        problem = _hdf5_problem(folder / WEIGHTS_FILE)
        if problem:
            return None, problem
    try:
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, f"{INFO_FILE} is not readable JSON ({_first_line(exc)})"
    if not isinstance(info, dict):
        return None, f"{INFO_FILE} does not hold a JSON object"
    return info, None


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
    ``info["cached"]`` tells which happened. A damaged cache entry is trained again, with a
    :class:`CacheEntryWarning` naming its folder and what was wrong (see the module's notes).
    """
    folder = cache_path(name, config)
    if folder.exists() and os.environ.get(RETRAIN_ENV, "") not in {"1", "true"}:
        # the entry is checked before build(), so a healthy one costs a single build
        info, problem = check_entry(folder)
        if info is not None:
            model = build()
            try:
                model.load_weights(folder / WEIGHTS_FILE)
            except Exception as exc:  # intact file, other model: the code changed since
                problem = f"its weights do not load into this model ({_first_line(exc)})"
            else:
                if not (folder / CHECKSUM_FILE).exists():  # an entry from before checksums
                    atomic_write_text(folder / CHECKSUM_FILE, _checksum_text(folder))
                print(f"[cache] loaded {folder.name} (trained in {info.get('seconds', 0):.0f} s; "
                      f"{RETRAIN_ENV}=1 retrains)", flush=True)
                return model, {**info, "cached": True}
        warnings.warn(f"[cache] {folder} cannot be used: {problem}; training {name} again, "
                      "which replaces it", CacheEntryWarning, stacklevel=2)
    model = build()
    info = dict(train(model))
    info.setdefault("config", dict(config))
    # Write into a temporary folder and rename it into place: an interrupted save leaves no
    # half-written cache entry that a later run would trust. The checksum is written last.
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model.save_weights(tmp / WEIGHTS_FILE)
        atomic_write_json(tmp / INFO_FILE, info)
        atomic_write_text(tmp / CHECKSUM_FILE, _checksum_text(tmp))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            # another process (a parallel test worker) saved the same model meanwhile: the same
            # configuration and seed give the same weights, so keep its copy
            if not (folder / WEIGHTS_FILE).exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model, {**info, "cached": False}
