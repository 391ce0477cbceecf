"""The one setup call at the top of every notebook."""

from __future__ import annotations

import os
import sys
from typing import Any

from .config import DEFAULT_SEED, Profile, get_profile, reports_dir, set_seed
from .provenance import gpu_names, package_versions

COLAB_REPO = "https://github.com/idl-kit/idl-kit"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def start_notebook(name: str, *, seed: int = DEFAULT_SEED, quiet: bool = False) -> Profile:
    """Seed everything, configure plots, and print what this run is: notebook, profile, seed,
    versions, CPU/GPU and where outputs go. Returns the active :class:`Profile`."""
    import matplotlib

    if not os.environ.get("MPLBACKEND") and "ipykernel" not in sys.modules:
        matplotlib.use("Agg")  # scripts and tests: no display needed
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 90, "axes.grid": False, "image.cmap": "gray"})
    profile = get_profile()
    set_seed(seed)
    if not quiet:
        versions = package_versions(("keras", "tensorflow", "tensorflow-cpu", "numpy"))
        gpus = gpu_names()
        info: dict[str, Any] = {
            "notebook": name,
            "profile": f"{profile.name}  (set IDL_PROFILE=smoke|default|full)",
            "seed": seed,
            "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
            "device": f"GPU: {', '.join(gpus)}" if gpus else "CPU only (no GPU visible)",
            "outputs": str(reports_dir()),
        }
        if in_colab():
            info["colab"] = "yes" + ("" if gpus else " -- Runtime > Change runtime type > GPU is faster")
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:>{width}}: {value}")
    return profile
