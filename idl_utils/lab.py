"""``make lab``: JupyterLab on ``notebooks/`` with the kit's kernel.

jupytext's server extension (installed with the ``lab`` extra) opens the ``.py`` twins as
notebooks, and ``[tool.jupytext]`` in ``pyproject.toml`` pairs them with the ``.ipynb``: saving
the ``.py`` updates both, and the ``.ipynb`` keeps the outputs. The file browser lists only the
``.py`` of each pair: with both twins open, saving one rewrites the other under its editor, and
JupyterLab's "Overwrite" then drops the edit made in the first. The kernel is the one
``make setup`` registers in ``.venv`` (:data:`KERNEL`, shown as :data:`KERNEL_DISPLAY_NAME`, as
in the notebooks' metadata), so ``import idl_utils`` works in every notebook and opening one
changes nothing in it.

Run ``python -m idl_utils.lab --help`` for the options (``make lab ARGS="--port 8899"``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"  # the name make setup registers the kit's kernel under (the notebooks' metadata says it)
# its display name: the notebooks' metadata carries the same, so JupyterLab, which writes the running
# kernel's name into a notebook it opens, leaves the file as it was (tests/test_notebooks.py checks)
KERNEL_DISPLAY_NAME = "Python 3 (idl-kit)"
# jupyter_server's own ContentsManager.hide_globs, which lab_command extends with the .ipynb twins
SERVER_HIDDEN = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~"]


def free_port(host: str = "127.0.0.1", preferred: int = 8888) -> int:
    """``preferred`` if nothing listens on it, else a port the system says is free."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free TCP port on {host}")  # pragma: no cover - binding port 0 does not fail


#: JupyterLab settings ``make lab`` sets for this environment (admin defaults, which a student's own
#: settings still override): a click on a ``.py`` twin opens it as a notebook (jupytext's
#: factory), and no news feed is fetched (offline machines; no pop-up).
LAB_DEFAULTS = {
    "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
}


def write_lab_defaults(prefix: Path | str = sys.prefix) -> Path:
    """Merge :data:`LAB_DEFAULTS` into ``<prefix>/share/jupyter/lab/settings/overrides.json``
    (keeping any other settings there) and return its path."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(settings, dict):
        raise ValueError(f"{path} should hold a JSON object; fix or delete it")
    for plugin, values in LAB_DEFAULTS.items():
        settings[plugin] = {**settings.get(plugin, {}), **values}
    text = json.dumps(settings, indent=2) + "\n"
    if not path.exists() or path.read_text() != text:  # a lab starting meanwhile reads the old or the new
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    return path


def ipynb_twins(root: Path | str) -> list[str]:
    """Names of the ``.ipynb`` files in ``root`` that are paired with an ``NN_name.py``: the ones
    the lab's file browser leaves out, so that each notebook is opened once, as its ``.py``."""
    return sorted(py.with_suffix(".ipynb").name for py in Path(root).glob("[0-9][0-9]_*.py")
                  if py.with_suffix(".ipynb").exists())


def forget_language_info(model: dict, **_) -> None:
    """jupyter_server pre-save hook: drop the ``language_info`` that JupyterLab writes into every
    notebook once its kernel starts (Python's exact version: it differs by machine, and the
    committed notebooks leave it out), so a notebook that was only opened saves byte for byte as
    it was. Nothing reads it back: the kernelspec says which kernel runs the notebook."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        model["content"].get("metadata", {}).pop("language_info", None)


def restage_if_only_outputs_changed(path: Path | str) -> bool:
    """Re-add a tracked notebook to git's index when git's filter finds no change in it (a save that
    changed only outputs or execution counts): that stages nothing, but ``git status``, which trusts a
    file's new size without running the filter, would otherwise list the notebook as modified. A
    notebook with a real change, an untracked one, or one outside a git checkout is left alone.
    True if it was re-added."""
    path = Path(path)

    def git(*args: str) -> int:
        return subprocess.run(["git", "-C", str(path.parent), *args, "--", path.name],
                              capture_output=True, timeout=120).returncode

    try:
        with _GIT_INDEX:
            return (git("ls-files", "--error-unmatch") == 0 and git("diff", "--quiet") == 0
                    and git("add") == 0)
    except (OSError, subprocess.TimeoutExpired):
        return False  # no git, or a stuck one: git status merely lists the notebook


_GIT_INDEX = threading.Lock()  # one git command on this lab's index at a time


def refresh_git_status(os_path: str, **_) -> None:
    """jupyter_server post-save hook: :func:`restage_if_only_outputs_changed` for a saved notebook,
    in the background (git's filter takes a second or more, and the save need not wait for it)."""
    if os_path.endswith(".ipynb"):
        threading.Thread(target=restage_if_only_outputs_changed, args=(os_path,), daemon=True).start()


def lab_url(host: str, port: int, token: str) -> str:
    """The address a browser opens (the token logs it in)."""
    return f"http://{host}:{port}/lab?token={token}"


def lab_command(root: Path, *, port: int, token: str, host: str = "127.0.0.1",
                open_browser: bool = False) -> list[str]:
    """The command that starts JupyterLab on ``root`` with this Python's kernel as the default,
    listing each paired notebook once (its ``.py``), saving notebooks without ``language_info``
    (:func:`forget_language_info`) and keeping ``git status`` in step (:func:`refresh_git_status`).
    ``port_retries=0``: fail rather than move to another port than the one printed."""
    if not Path(root).is_dir():
        raise FileNotFoundError(f"{root} is not a folder: run make lab from the kit's checkout")
    if not token:
        raise ValueError("an empty token would let anyone on this machine run code: pass a token")
    command = [sys.executable, "-m", "jupyterlab",
               f"--ServerApp.root_dir={root}", f"--ServerApp.ip={host}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.open_browser={open_browser}",
               f"--MappingKernelManager.default_kernel_name={KERNEL}",
               f"--ContentsManager.hide_globs={json.dumps(SERVER_HIDDEN + ipynb_twins(root))}",
               "--ContentsManager.pre_save_hook=idl_utils.lab.forget_language_info",
               "--ContentsManager.post_save_hook=idl_utils.lab.refresh_git_status"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # containers and CI run as root, which Jupyter refuses by default
        command.append("--ServerApp.allow_root=True")
    return command


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: 8888 if free)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS,
                        help="folder to serve (default: the kit's notebooks/)")
    args = parser.parse_args(argv)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        sys.exit("JupyterLab is not installed: run `make lab` (it installs the `lab` extra), "
                 "or `pip install -e '.[lab]'`")
    write_lab_defaults()
    port = args.port if args.port is not None else free_port(args.ip)
    token = secrets.token_hex(24)
    root = args.notebooks
    command = lab_command(root, port=port, token=token, host=args.ip, open_browser=not args.no_browser)
    shown = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip
    print(f"\nJupyterLab on {root} with the kit's kernel. Open:\n\n    {lab_url(shown, port, token)}\n\n"
          "Each notebook is listed once, as its .py: saving it updates the paired .ipynb too, which keeps\n"
          "your outputs; git never sees them (make setup's nbstripout filter). Stop with Ctrl-C.\n",
          flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
