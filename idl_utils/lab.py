"""``make lab``: JupyterLab on ``notebooks/`` with the kit's kernel.

jupytext's server extension (installed with the ``lab`` extra) opens the ``.py`` twins as
notebooks, and ``[tool.jupytext]`` in ``pyproject.toml`` pairs them with the ``.ipynb``: saving
either one updates both. The kernel is the one ``make setup`` registers in ``.venv`` ("Python 3
(idl-kit)"), so ``import idl_utils`` works in every notebook.

Run ``python -m idl_utils.lab --help`` for the options (``make lab ARGS="--port 8899"``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"  # the name make setup registers the kit's kernel under (the notebooks' metadata says it)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


def lab_url(host: str, port: int, token: str) -> str:
    """The address a browser opens (the token logs it in)."""
    return f"http://{host}:{port}/lab?token={token}"


def lab_command(root: Path, *, port: int, token: str, host: str = "127.0.0.1",
                open_browser: bool = False) -> list[str]:
    """The command that starts JupyterLab on ``root`` with this Python's kernel as the default.
    ``port_retries=0``: fail rather than move to another port than the one printed."""
    if not Path(root).is_dir():
        raise FileNotFoundError(f"{root} is not a folder: run make lab from the kit's checkout")
    if not token:
        raise ValueError("an empty token would let anyone on this machine run code: pass a token")
    command = [sys.executable, "-m", "jupyterlab",
               f"--ServerApp.root_dir={root}", f"--ServerApp.ip={host}", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.open_browser={open_browser}",
               f"--MappingKernelManager.default_kernel_name={KERNEL}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # containers and CI run as root, which Jupyter refuses by default
        command.append("--ServerApp.allow_root=True")
    return command


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: 8888 if free)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    args = parser.parse_args(argv)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        sys.exit("JupyterLab is not installed: run `make lab` (it installs the `lab` extra), "
                 "or `pip install -e '.[lab]'`")
    write_lab_defaults()
    port = args.port if args.port is not None else free_port(args.ip)
    token = secrets.token_hex(24)
    command = lab_command(NOTEBOOKS, port=port, token=token, host=args.ip, open_browser=not args.no_browser)
    shown = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip
    print(f"\nJupyterLab on {NOTEBOOKS} with the kit's kernel. Open:\n\n    {lab_url(shown, port, token)}\n\n"
          "Open a notebook's .py or .ipynb: they are one notebook (saving updates both). Stop with Ctrl-C.\n",
          flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
