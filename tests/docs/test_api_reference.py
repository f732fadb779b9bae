"""docs/api.rst covers the public surface, without the methods Django generates on models.

``make docs`` proves what was rendered (``docs/reference.py`` fails the build on any public
name of a documented module that the reference does not render). These tests need no Sphinx:
they hold the reference's directives against the modules' public names, and check the rules
``docs/reference.py`` applies.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from django_podio.models import PodioConnection, PodioHookEvent, PodioItem
from django_podio.testing import FakePodio

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load_reference():
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = load_reference()


def directives() -> list[tuple[str, str, dict[str, str]]]:
    """``(kind, target, options)`` of each autodoc directive in api.rst."""
    found = []
    lines = (DOCS / "api.rst").read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^\.\. (automodule|autoclass|autodata|podio-tasks):: (\S+)", line)
        if not match:
            continue
        options = {}
        for option in lines[index + 1 :]:
            found_option = re.match(r"^   :([\w-]+):\s*(.*)$", option)
            if not found_option:
                break
            options[found_option[1]] = found_option[2]
        found.append((match[1], match[2], options))
    return found


def covered(module_name: str) -> set[str]:
    """The names of a module that api.rst's directives document."""
    names: set[str] = set()
    for kind, target, options in directives():
        if kind == "automodule" and target == module_name:
            listed = options.get("members")
            module = importlib.import_module(module_name)
            names |= (
                {n.strip() for n in listed.split(",")}
                if listed
                else set(reference.public_names(module))
            )
            names -= {n.strip() for n in options.get("exclude-members", "").split(",")}
        elif kind in ("autoclass", "autodata") and target.rpartition(".")[0] == module_name:
            names.add(target.rpartition(".")[2])
        elif kind == "podio-tasks" and target == module_name:
            module = importlib.import_module(module_name)
            names |= {
                n for n in reference.public_names(module) if hasattr(getattr(module, n), "func")
            }
    return names


@pytest.mark.parametrize(
    "module_name", ["django_podio.tasks", "django_podio.contrib.celery", "django_podio.conf"]
)
def test_the_modules_the_issue_named_are_documented(module_name):
    assert module_name in reference.documented_modules()


def test_every_public_name_of_each_documented_module_is_in_the_reference():
    missing = {}
    for module_name in reference.documented_modules():
        module = importlib.import_module(module_name)
        names = set(reference.public_names(module)) - covered(module_name)
        # A re-export documented where it is defined counts.
        names = {
            n
            for n in names
            if getattr(getattr(module, n), "__module__", module_name) == module_name
            or getattr(getattr(module, n), "__module__", None) not in reference.documented_modules()
        }
        if names:
            missing[module_name] = sorted(names)
    assert not missing


def test_the_enqueue_helpers_and_defaults_are_named():
    assert {"enqueue_due", "refresh_due", "sync_app"} <= covered("django_podio.tasks")
    assert "CeleryBackend" in covered("django_podio.contrib.celery")
    assert "DEFAULTS" in covered("django_podio.conf")


def test_every_fake_podio_attribute_testing_rst_uses_is_documented():
    """Methods by their docstring; knobs set in ``__init__`` by a ``#:`` comment there."""
    uses = reference.fake_podio_uses()
    assert {"add_user", "add_app", "expire_access_tokens", "issued_secrets"} <= set(uses)
    sources = "\n".join(
        (Path(importlib.import_module(c.__module__).__file__)).read_text()
        for c in FakePodio.__mro__
        if c.__module__.startswith("django_podio.testing")
    )
    undocumented = []
    for name in uses:
        attribute = getattr(FakePodio, name, None)
        if attribute is not None:
            if not (getattr(attribute, "__doc__", None) or getattr(attribute, "fget", None)):
                undocumented.append(name)
        elif not re.search(rf"#: .*\n(\s*#: .*\n)*\s*self\.{name}\b", sources):
            undocumented.append(name)
    assert not undocumented


@pytest.mark.parametrize(
    ("model", "name"),
    [
        (PodioConnection, "get_next_by_created_at"),
        (PodioConnection, "get_previous_by_updated_at"),
        (PodioConnection, "get_status_display"),
        (PodioItem, "get_next_by_fetched_at"),
        (PodioHookEvent, "get_previous_by_received_at"),
    ],
)
def test_djangos_generated_model_methods_are_left_out(model, name):
    assert reference.is_generated(name, getattr(model, name))
    assert reference._skip_member(None, "class", name, getattr(model, name), False, {}) is True


def test_a_models_own_methods_stay():
    for name, obj in vars(PodioConnection).items():
        if callable(obj) and not name.startswith("_"):
            assert not reference.is_generated(name, obj), name
