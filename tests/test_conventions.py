"""The project's own conventions kept in step: ``.pre-commit-config.yaml``, ``make lint``, tox
and pyproject.toml name the same linters, at the same versions, for the same oldest Django."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pinned(name: str) -> str:
    """The version the test extra pins ``name`` to (``name==X``)."""
    for requirement in PYPROJECT["project"]["optional-dependencies"]["test"]:
        match = re.fullmatch(rf"{re.escape(name)}==(\S+)", requirement)
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not pinned in the test extra")


def oldest_django() -> str:
    (django,) = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("Django")]
    return re.search(r">=\s*(\d+\.\d+)", django).group(1)


def pre_commit_hooks() -> dict[str, dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {
        hook["id"]: {**hook, "repo": repo["repo"], "rev": repo["rev"]}
        for repo in config["repos"]
        for hook in repo["hooks"]
    }


def test_pre_commit_runs_the_linters_of_make_lint_at_the_pinned_versions():
    hooks = pre_commit_hooks()
    assert set(hooks) == {"ruff-check", "ruff-format", "django-upgrade"}
    assert hooks["ruff-check"]["rev"] == hooks["ruff-format"]["rev"] == "v" + pinned("ruff")
    assert hooks["django-upgrade"]["rev"] == pinned("django-upgrade")
    assert hooks["django-upgrade"]["args"] == ["--target-version", oldest_django()]


def test_make_lint_runs_the_same_checks():
    recipe = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "lint"], capture_output=True, text=True, check=True
    ).stdout
    assert "ruff check " in recipe and "ruff format --check " in recipe
    assert f"django-upgrade --target-version {oldest_django()}" in recipe


def test_tox_lint_pins_the_same_versions():
    tox = (ROOT / "tox.ini").read_text()
    lint = tox[tox.index("[testenv:lint]") :].split("\n[", 1)[0]
    assert f"ruff=={pinned('ruff')}" in lint
    assert f"django-upgrade=={pinned('django-upgrade')}" in lint
    assert f"django-upgrade --target-version {oldest_django()}" in lint
