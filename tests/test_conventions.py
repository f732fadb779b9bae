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


def _imports(path: Path) -> set[str]:
    """Every ``django_podio`` module a source file imports, at any depth (lazy ones too)."""
    import ast

    package = "django_podio." + ".".join(path.relative_to(ROOT / "django_podio").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("django_podio")}


def test_services_never_import_the_entry_points_above_them():
    """design.md "Layers": hooks/ and items/ (services) import neither tasks.py nor the views;
    the receive → tasks → hooks circle stays broken."""
    entry = {"django_podio.tasks", "django_podio.views", "django_podio.admin"}
    for folder in ("hooks", "items", "tokens"):
        for path in sorted((ROOT / "django_podio" / folder).glob("*.py")):
            above = {
                m for m in _imports(path) if m in entry or m.startswith("django_podio.management")
            }
            assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}"
