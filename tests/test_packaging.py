"""The repository's layout: ``setup.cfg`` beside ``pyproject.toml``, one source per tool; what the
wheel ships."""

from __future__ import annotations

import configparser
import gettext
import importlib.util
import io
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    assert parser.read(ROOT / "setup.cfg"), "no setup.cfg at the top level"
    return parser


def test_setup_cfg_holds_the_tools_that_read_it():
    sections = set(setup_cfg().sections())
    assert {"tool:pytest", "mypy", "mypy.plugins.django-stubs", "check-manifest"} <= sections
    # Package metadata is pyproject.toml's alone.
    assert not sections & {"metadata", "options"}


def test_each_tool_has_one_source():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    tools = set(pyproject["tool"])
    assert not tools & {"pytest", "mypy", "django-stubs", "check-manifest", "coverage"}, tools
    # ruff reads no setup.cfg: its configuration stays in pyproject.toml.
    assert "ruff" in tools and not any("ruff" in s for s in setup_cfg().sections())
    assert not (ROOT / "pytest.ini").exists() and not (ROOT / "mypy.ini").exists()


def test_pytest_reads_its_configuration_from_setup_cfg(pytestconfig):
    assert pytestconfig.inipath == ROOT / "setup.cfg"
    assert pytestconfig.getini("DJANGO_SETTINGS_MODULE") == "tests.settings"


def test_the_sdist_carries_setup_cfg():
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    assert "setup.cfg" in manifest


def test_the_wheel_ships_the_compiled_danish_catalog(tmp_path):
    """Built as pip builds it for a user (isolated, from this tree): the ``.mo`` is in the
    wheel, so Danish works without gettext or a compile step on the host."""
    # From a copy: an in-tree build leaves build/lib behind, which later builds would reuse.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv*",
            ".tox",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            "_build",
            "demo-data",
            "*.sqlite3*",
        ),
    )
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = tmp_path.glob("django_podio-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        catalog = archive.read("django_podio/locale/da/LC_MESSAGES/django.mo")
    assert "django_podio/locale/da/LC_MESSAGES/django.po" in names
    assert catalog == (ROOT / "django_podio/locale/da/LC_MESSAGES/django.mo").read_bytes()
    translations = gettext.GNUTranslations(io.BytesIO(catalog))
    assert translations.gettext("Podio connection") == "Podio-forbindelse"


def test_the_sdist_and_wheel_checks_ask_for_the_catalog():
    """``make package`` (scripts/check_dist.py) refuses a dist without the catalogs."""
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / "scripts/check_dist.py")
    assert spec is not None and spec.loader is not None
    check_dist = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_dist)
    assert "django_podio/locale/da/LC_MESSAGES/django.mo" in check_dist.WHEEL_NEEDS
    assert "django_podio/locale/da/LC_MESSAGES/django.mo" in check_dist.SDIST_NEEDS
