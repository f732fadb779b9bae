"""Sphinx configuration for the django-podio documentation (``make docs``).

autodoc imports the package, so Django is configured here with the smallest settings that let
every public module import: the same apps a host project installs. The encryption key below is
a fixed, public docs-build value (it encrypts nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))  # reference.py: the API reference's own rules

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.admin",
            "allauth",
            "allauth.account",
            "allauth.socialaccount",
            "django_podio",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        FIELD_ENCRYPTION_KEY="ZG9jcy1idWlsZC1vbmx5LWtleS1lbmNyeXB0cy1ub3Q=",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        MIDDLEWARE=["allauth.account.middleware.AccountMiddleware"],
        USE_TZ=True,
    )
    django.setup()

import django_podio  # noqa: E402

project = "django-podio"
author = "django-podio contributors"
copyright = "django-podio contributors"
release = django_podio.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "reference",
]
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"django-podio {release}"

# Warnings are errors in CI (make docs: -W --keep-going -n). Nitpicky mode checks every
# cross-reference; the ones below point into libraries whose inventories we do not fetch
# (the build runs offline), so they cannot resolve and are not our broken links.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(django|django_tasks|requests|allauth|urllib3|pytest|_pytest)(\..*)?"),
    (r"py:.*", r"cryptography(\..*)?"),
    (r"py:.*", r"(typing|collections\.abc|datetime|decimal|enum|json|logging|threading)\..*"),
    (r"py:class", r"(Any|Iterator|Iterable|Callable|Mapping|Sequence|Path|Decimal|Enum)"),
    (r"py:class", r"(HttpRequest|HttpResponse|QuerySet|Model|Signal|Session|Response)"),
    (r"py:class", r"(NoneType|ellipsis|datetime|date|timedelta|ImproperlyConfigured)"),
    (r"py:class", r"(ObjectDoesNotExist|Exception|ValueError|LookupError|str|int|float|bool)"),
    (r"py:class", r"(dict|list|tuple|set|bytes|object|type)"),
    (r"py:.*", r"(os|t)\..*"),
    # Internals that public signatures mention (injectable transport, the fake's state base).
    (r"py:class", r"(django_podio\.api\.transport\.)?Transport"),
    (r"py:class", r"django_podio\.testing\.(state|write_routes|wire|writes)\..*"),
    (r"py:class", r"django_podio\.items\.cache\.Upserted"),
    # The type variable of a generic wrapper (``Hidden[T]``).
    (r"py:.*", r"django_podio\.hidden\.T"),
    # Docstrings inside the package name their neighbours unqualified (``:func:`get_client```
    # in the module that defines it); that reads well in the source but has no target when
    # the reference page documents a selection of members.
    (r"py:.*", r"[A-Za-z_][A-Za-z0-9_]*"),
    # autodoc renders some string annotations verbatim ('list[dict[str, Any]]').
    (r"py:class", r"'.*"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"undoc-members": False, "show-inheritance": True}

# "More than one target found" for a bare builtin name such as ``type`` in a signature, when the
# reference also documents attributes named ``type`` (``PodioHookEvent.type``). Broken
# references are still errors (ref.class, ref.mod, ref.func and the rest).
suppress_warnings = ["ref.python"]
