"""Translations: what people read goes through gettext, and the Danish catalog ships complete.

The admin is driven through the real test client as a superuser of a Danish site
(docs/translations.rst's ``LANGUAGE_CODE = "da"``, as pasted). The catalog check is
``scripts/messages.py check`` (``make messages-check``), the one CI runs; it needs GNU
gettext, and under ``CI`` its absence fails.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.utils.functional import Promise

from django_podio.models import PodioConnection

from .conftest import login_with_podio
from .docs.snippets import snippet

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "django_podio" / "locale" / "da" / "LC_MESSAGES"
CHANGELIST = "/admin/django_podio/podioconnection/"


def danish_catalog() -> dict:
    with (CATALOG / "django.mo").open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)


# The admin ---------------------------------------------------------------------------------


def danish_site(settings) -> None:
    namespace: dict = {}
    exec(snippet("translations-danish-site"), namespace)  # noqa: S102 (our own docs)
    settings.LANGUAGE_CODE = namespace["LANGUAGE_CODE"]
    settings.USE_I18N = namespace["USE_I18N"]


@pytest.mark.django_db
def test_the_connection_changelist_speaks_danish(client, fake, admin_client, settings):
    login_with_podio(client)
    danish_site(settings)

    page = admin_client.get(CHANGELIST).content.decode()

    # The model's and its fields' names, a choice, the admin's own columns and its action.
    for danish in (
        "Podio-forbindelser",
        "Art",
        "Udløber den",
        "Sidst fornyet den",
        "Gemte hemmeligheder",
        "Aktiv",
        "Efter art",  # the list filter: Django's "By %s" around our field name
        "Forny Podio-tokens nu",
    ):
        assert danish in page, danish
    for english in ("Podio connections", "Stored secrets", "Refresh the Podio tokens now"):
        assert english not in page, english


@pytest.mark.django_db
def test_the_refresh_action_reports_in_danish(client, fake, admin_client, settings):
    login_with_podio(client)
    connection = PodioConnection.objects.get()
    danish_site(settings)

    response = admin_client.post(
        CHANGELIST, {"action": "refresh_now", "_selected_action": [connection.pk]}, follow=True
    )

    page = response.content.decode()
    assert "1 fornyet" in page and "1 refreshed" not in page
    detail = admin_client.get(f"{CHANGELIST}{connection.pk}/change/").content.decode()
    assert "Fornyelsestoken gemt" in detail and "læsbare" in detail


# Every name a person reads is a translatable one -------------------------------------------


def our_models():
    return list(apps.get_app_config("django_podio").get_models())


def test_model_field_and_choice_names_are_translated():
    catalog = danish_catalog()
    names = []
    for model in our_models():
        names += [model._meta.verbose_name, model._meta.verbose_name_plural]
        for field in model._meta.get_fields():
            if field.auto_created:
                continue  # the primary key and reverse relations: Django's own names
            names.append(field.verbose_name)
            names += [label for _value, label in field.flatchoices or ()]
    untranslatable = [str(name) for name in names if not isinstance(name, Promise)]
    assert untranslatable == []
    missing = sorted({str(name) for name in names} - set(catalog))
    assert missing == []
    assert isinstance(apps.get_app_config("django_podio").verbose_name, Promise)


# The catalog check (make messages-check) ---------------------------------------------------


def gettext_installed() -> bool:
    if all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msgfmt")):
        return True
    if os.environ.get("CI"):
        pytest.fail("GNU gettext is missing and CI is set: apt-get install gettext")
    pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    return False


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "messages.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.gettext
def test_the_committed_catalogs_are_complete_current_and_compiled():
    gettext_installed()
    run = run_check(ROOT)
    assert run.returncode == 0, run.stderr


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "django_podio",
        tmp_path / "django_podio",
        ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"),
    )
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "messages.py", tmp_path / "scripts" / "messages.py")
    return tmp_path


@pytest.mark.gettext
def test_the_check_fails_on_a_message_nobody_extracted(tmp_path):
    gettext_installed()
    root = copy_of_the_package(tmp_path)
    with (root / "django_podio" / "admin.py").open("a") as module:
        module.write('\nNEW = _("A message added without running make messages")\n')

    run = run_check(root)

    assert run.returncode == 1
    assert "is stale" in run.stderr and "A message added without" in run.stderr


@pytest.mark.gettext
def test_the_check_fails_on_an_untranslated_or_uncompiled_message(tmp_path):
    gettext_installed()
    root = copy_of_the_package(tmp_path)
    po = root / "django_podio" / "locale" / "da" / "LC_MESSAGES" / "django.po"
    text = po.read_text()
    po.write_text(text.replace('msgstr "Podio-forbindelse"', 'msgstr ""', 1))

    untranslated = run_check(root)

    assert untranslated.returncode == 1 and "1 untranslated" in untranslated.stderr
    po.write_text(text.replace('msgstr "Podio-forbindelse"', 'msgstr "Podio-kobling"', 1))

    stale_mo = run_check(root)

    assert stale_mo.returncode == 1
    assert "django.mo does not match its .po (1 messages differ)" in stale_mo.stderr


@pytest.mark.gettext
def test_a_new_language_starts_as_the_docs_say(tmp_path):
    """``make messages LOCALES=de`` (docs/translations.rst): make's command, run on a copy."""
    gettext_installed()
    (line,) = [line for line in snippet("translations-new-language").splitlines() if "=" in line]
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", *line.split()[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    assert planned.split()[1:] == ["scripts/messages.py", "update", "de"], planned
    root = copy_of_the_package(tmp_path)

    update = subprocess.run(
        [sys.executable, str(root / "scripts" / "messages.py"), "update", "de"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert update.returncode == 0, update.stderr
    catalog = root / "django_podio" / "locale" / "de" / "LC_MESSAGES"
    assert 'msgid "Podio connection"' in (catalog / "django.po").read_text()
    assert (catalog / "django.mo").is_file()
    check = run_check(root)
    assert check.returncode == 1 and "de/LC_MESSAGES/django.po" in check.stderr
    assert "untranslated" in check.stderr  # until someone translates it
