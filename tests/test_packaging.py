"""The repository's layout: ``setup.cfg`` beside ``pyproject.toml``, one source per tool."""

from __future__ import annotations

import configparser
import tomllib
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
