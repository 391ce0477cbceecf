"""environment.yml (conda) must install the same packages as pyproject.toml (pip/make)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(req: str) -> str:
    return req.strip()[len(_name(req)):].split("#")[0].strip()


def _pyproject() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += [r for r in extra if not r.startswith(project["name"])]
    out: dict[str, set[str]] = {}
    for r in reqs:
        out.setdefault(_name(r), set()).add(_spec(r))
    return out


def _environment() -> dict[str, str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    out = {}
    for line in lines[start + 1:]:
        item = line.split("#")[0].strip()
        if not item.startswith("- "):
            continue
        req = item[2:].strip()
        if req.startswith("-e"):
            continue
        out[_name(req)] = _spec(req)
    return out


def test_same_packages():
    assert set(_environment()) == set(_pyproject())


def test_same_version_constraints():
    py = _pyproject()
    for name, spec in _environment().items():
        assert spec in py[name], f"{name}: environment.yml says {spec!r}, pyproject.toml {py[name]}"


def test_environment_installs_the_kit_and_explains_each_dependency():
    text = (ROOT / "environment.yml").read_text()
    assert "- -e ." in text
    for line in text.splitlines():
        if re.match(r"\s+- [a-z]", line) and "pip:" not in line and "-e ." not in line:
            assert "#" in line, f"say why this dependency is there: {line.strip()}"
