"""make lab: the real JupyterLab server on notebooks/, driven through its REST and websocket API
as a browser would: each notebook is listed once, as its .py, which opens as a notebook, and the kit's
kernel imports idl_utils. (A real browser: tests/test_lab_browser.py.)"""

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from idl_utils.lab import (
    KERNEL,
    NOTEBOOKS,
    SERVER_HIDDEN,
    forget_language_info,
    free_port,
    ipynb_twins,
    lab_command,
    lab_url,
    write_lab_defaults,
)

STARTUP_SECONDS = 90   # a cold start on a busy 2-core machine
SHUTDOWN_SECONDS = 30


class Lab:
    def __init__(self, port: int, token: str):
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None


def test_lab_defaults_merge_into_existing_settings(tmp_path):
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                "@jupyterlab/docmanager-extension:plugin": {"autosave": False}}))
    assert write_lab_defaults(tmp_path) == path
    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert settings["@jupyterlab/docmanager-extension:plugin"] == {
        "autosave": False, "defaultViewers": {"python": "Jupytext Notebook"}}
    assert write_lab_defaults(tmp_path) == path and json.loads(path.read_text()) == settings  # idempotent
    path.write_text("[]")
    with pytest.raises(ValueError, match="JSON object"):
        write_lab_defaults(tmp_path)


def test_lab_command_checks_its_input(tmp_path):
    with pytest.raises(ValueError, match="token"):
        lab_command(tmp_path, port=8888, token="")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        lab_command(tmp_path / "missing", port=8888, token="x")
    command = lab_command(tmp_path, port=8123, token="secret")
    assert "--ServerApp.port=8123" in command and "--IdentityProvider.token=secret" in command
    assert "--ServerApp.port_retries=0" in command  # the printed URL stays right


def test_the_lab_hides_only_paired_ipynb_twins(tmp_path):
    for name in ["01_a.py", "01_a.ipynb", "02_b.py", "Untitled.ipynb", "notes.py"]:
        (tmp_path / name).write_text("")
    assert ipynb_twins(tmp_path) == ["01_a.ipynb"]  # 02_b has no twin; a student's own notebook stays
    hidden = next(arg for arg in lab_command(tmp_path, port=1, token="x") if "hide_globs" in arg)
    assert json.loads(hidden.split("=", 1)[1]) == [*SERVER_HIDDEN, "01_a.ipynb"]


def test_the_pre_save_hook_drops_only_language_info():
    metadata = {"kernelspec": {"name": KERNEL}, "language_info": {"name": "python", "version": "3.11.7"}}
    model = {"type": "notebook", "content": {"metadata": metadata, "cells": []}}
    forget_language_info(model, path="a.ipynb")
    assert model["content"]["metadata"] == {"kernelspec": {"name": KERNEL}}
    text = {"type": "file", "content": "language_info"}
    forget_language_info(text, path="a.py")
    assert text == {"type": "file", "content": "language_info"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (extras: lab, dev)")
    pytest.importorskip("jupytext", reason="jupytext is not installed (the `notebooks` extra installs it)")
    port, token = free_port(preferred=0), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "IDL_PROFILE": "smoke"}
    log = (runtime / "server.log").open("w")
    server = subprocess.Popen(lab_command(NOTEBOOKS, port=port, token=token), env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    client = Lab(port, token)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert server.poll() is None, f"JupyterLab exited: {(runtime / 'server.log').read_text()[-3000:]}"
            try:
                if client.request("GET", "/api/status", timeout=5)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"JupyterLab did not answer in {STARTUP_SECONDS} s"
            time.sleep(0.5)
        yield client
    finally:
        started = time.monotonic()
        try:
            client.request("POST", "/api/shutdown", timeout=10)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            server.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail(f"JupyterLab did not shut down within {SHUTDOWN_SECONDS} s")
        finally:
            log.close()
        client.shutdown_seconds = time.monotonic() - started


def test_the_lab_page_answers_with_the_token_only(lab):
    status, _ = lab.request("GET", "/api/status")
    assert status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(lab.base + "/api/contents", timeout=10)
    assert refused.value.code == 403
    with urllib.request.urlopen(lab_url("127.0.0.1", int(lab.base.rsplit(":", 1)[1]), lab.token),
                                timeout=30) as page:
        assert page.status == 200 and b"JupyterLab" in page.read()


def test_each_notebook_is_listed_once_as_its_py(lab):
    """Two open twins overwrite each other's edits, so the file browser offers only the .py; the
    .ipynb still opens by its address (Colab and nbmake use it) and is saved with the .py."""
    _, listing = lab.request("GET", "/api/contents/?content=1")
    kinds = {item["name"]: item["type"] for item in listing["content"]}
    sources = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert sources, "no notebooks/NN_*.py"
    for name in sources:
        assert kinds.get(name) == "notebook", f"{name} opens as {kinds.get(name)}, not a notebook"
        assert name.replace(".py", ".ipynb") not in kinds, "the .ipynb twin is listed too"
    _, twin = lab.request("GET", f"/api/contents/{sources[0].replace('.py', '.ipynb')}?content=0")
    assert twin["type"] == "notebook"


def test_a_py_twin_opens_as_the_same_notebook(lab):
    source = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))[0]
    _, from_py = lab.request("GET", f"/api/contents/{source.name}?type=notebook&content=1")
    _, from_ipynb = lab.request("GET", f"/api/contents/{source.stem}.ipynb?type=notebook&content=1")
    cells = [[(c["cell_type"], c["source"]) for c in nb["content"]["cells"]] for nb in (from_py, from_ipynb)]
    assert cells[0] == cells[1] and len(cells[0]) > 5
    assert from_py["content"]["metadata"]["kernelspec"]["name"] == KERNEL


async def _execute(lab: Lab, kernel_id: str, code: str, timeout: float = 60) -> str:
    """Run ``code`` in the kernel over the server's websocket, as the browser does; stdout."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = lab.base.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {lab.token}"}))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    # execute_reply (shell) and the printed output (iopub) travel on different channels, so the
    # reply can come first; the iopub "idle" status for this request comes after all its output
    out, status, idle = [], None, False
    deadline = time.monotonic() + timeout
    while status is None or not idle:
        raw = await asyncio.wait_for(ws.read_message(), max(0.1, deadline - time.monotonic()))
        assert raw is not None, "the kernel's websocket closed"
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            raise AssertionError(f"{content['ename']}: {content['evalue']}")
        elif kind == "status":
            idle = content.get("execution_state") == "idle"
        elif kind == "execute_reply":
            status = content["status"]
            if status != "ok":
                raise AssertionError(f"execute_reply {status}")
    ws.close()
    return "".join(out)


def test_a_session_on_the_kits_kernel_imports_the_kit(lab):
    _, specs = lab.request("GET", "/api/kernelspecs")
    assert specs["default"] == KERNEL
    source = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))[0]
    _, session = lab.request("POST", "/api/sessions", {"path": source.name, "type": "notebook",
                                                         "name": source.name, "kernel": {"name": KERNEL}})
    try:
        out = asyncio.run(_execute(lab, session["kernel"]["id"],
                                   "import sys, idl_utils\nprint(sys.prefix)\nprint(idl_utils.__file__)"))
        prefix, kit = out.split()
        assert Path(prefix) == Path(sys.prefix), "the notebook runs in another Python than the kit's"
        assert Path(kit) == Path(__file__).resolve().parent.parent / "idl_utils" / "__init__.py"
    finally:
        lab.request("DELETE", f"/api/sessions/{session['id']}")
    _, sessions = lab.request("GET", "/api/sessions")
    assert sessions == []
