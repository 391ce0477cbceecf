"""The one setup call at the top of every notebook."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from .config import DEFAULT_SEED, Profile, get_profile, reports_dir, set_seed
from .provenance import OfflineFallbackWarning, gpu_names, package_versions

#: The kit's repository: the one place its URL is written. The notebooks need it before the kit
#: is installed, so their first code cell is a verbatim copy of :data:`COLAB_SETUP_CELL` and
#: their Colab badge is :func:`colab_badge`; tests/test_notebooks.py fails when they drift.
COLAB_REPO = "https://github.com/idl-kit/idl-kit"
COLAB_BRANCH = "main"

#: The first code cell of every notebook. On Colab it clones the kit next to the notebook and
#: installs it (with its dependencies; Colab's own TensorFlow stays); anywhere else it does
#: nothing. Plain Python, since nothing of the kit exists yet when it runs.
COLAB_SETUP_CELL = f"""\
# On Colab: fetch and install the kit (anywhere else this cell does nothing)
import os
import subprocess
import sys

KIT_REPO = "{COLAB_REPO}"
if "google.colab" in sys.modules:
    if not os.path.isdir("idl-kit"):
        subprocess.run(["git", "clone", "-q", "--depth=1", KIT_REPO, "idl-kit"], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "./idl-kit"], check=True)
    sys.path.insert(0, "idl-kit")"""


def colab_badge(notebook: str) -> str:
    """The markdown "Open in Colab" badge of ``notebook`` (a stem such as ``"02_text_to_text"``),
    pointing at :data:`COLAB_REPO`."""
    if not notebook or "/" in notebook or notebook.endswith((".py", ".ipynb")):
        raise ValueError(f"colab_badge() wants a notebook's stem such as '02_text_to_text', got {notebook!r}")
    path = COLAB_REPO.removeprefix("https://github.com/")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/{COLAB_BRANCH}/notebooks/{notebook}.ipynb)")


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
    # a fallback data source is announced in a banner under its cell; the warning that scripts
    # and tests rely on would repeat its first line with a source path, so a notebook skips it
    warnings.filterwarnings("ignore", category=OfflineFallbackWarning)
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
            info["colab"] = f"yes, kit from {COLAB_REPO}" + (
                "" if gpus else " -- Runtime > Change runtime type > GPU is faster")
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:>{width}}: {value}")
    return profile


def show_model(model: Any) -> None:
    """Print a model's layers as a plain-text table -- name, type, output shape, parameters --
    and the total: what ``model.summary()`` shows, without the terminal colour codes and rich
    display objects that a saved notebook would keep."""
    rows = [("layer", "type", "output shape", "parameters")]
    for layer in model.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):  # a layer used more than once has no single output
            shape = "(several)"
        rows.append((layer.name, type(layer).__name__, shape, f"{layer.count_params():,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f'Model "{model.name}": {model.count_params():,} parameters')
    for row in rows:
        print("  ".join(cell.rjust(w) if i == 3 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip())
