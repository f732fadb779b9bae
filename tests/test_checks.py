"""System checks: each problem a host project can make is reported with its id and a hint."""

import pytest
from allauth.socialaccount.models import SocialApp
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_podio import checks

from .factories import make_connection


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_clean_configuration_has_no_messages(db):
    assert checks.check_settings() == []
    assert checks.check_allauth() == []


def test_unknown_podio_key(settings):
    settings.PODIO = {**settings.PODIO, "API_URLL": "typo"}
    messages = checks.check_settings()
    assert ids(messages) == ["django_podio.E001"]
    assert "API_URLL" in messages[0].msg and "API_URL" in messages[0].hint


@pytest.mark.parametrize(
    "key,value",
    [("PAGE_SIZE", 501), ("MAX_RETRIES", -1), ("TIMEOUT", "soon"), ("REFRESH_MARGIN", "300")],
)
def test_invalid_values(settings, key, value):
    settings.PODIO = {**settings.PODIO, key: value}
    assert "django_podio.E002" in ids(checks.check_settings())


def test_plain_http_in_production_warns(settings):
    settings.PODIO = {"API_URL": "http://podio.example.com"}
    assert ids(checks.check_settings()) == ["django_podio.W002"]


def test_missing_middleware(settings, db):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "allauth" not in m]
    assert ids(checks.check_allauth()) == ["django_podio.E004"]


def test_missing_allauth_apps(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "allauth.account"]
    assert "django_podio.E003" in ids(checks.check_allauth())


def test_store_tokens_warns(settings, db):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    assert ids(checks.check_allauth()) == ["django_podio.W001"]


def test_no_app_configured(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert ids(checks.check_allauth()) == ["django_podio.E005"]


def test_app_in_settings_and_database(db):
    SocialApp.objects.create(provider="podio", name="Podio", client_id="x", secret="y")
    assert ids(checks.check_allauth()) == ["django_podio.E006"]


def test_app_only_in_database_is_fine(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    SocialApp.objects.create(provider="podio", name="Podio", client_id="x", secret="y")
    assert checks.check_allauth() == []


def test_database_check_wrong_key_and_rotation_pending(settings, db):
    make_connection()
    assert checks.check_encrypted_data(databases=["default"]) == []
    other = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=other):
        messages = checks.check_encrypted_data(databases=["default"])
        assert ids(messages) == ["django_podio.E007"]
        assert "podio_reencrypt" in messages[0].hint
    with override_settings(FIELD_ENCRYPTION_KEY=[other, settings.FIELD_ENCRYPTION_KEY]):
        assert ids(checks.check_encrypted_data(databases=["default"])) == ["django_podio.W003"]


def test_manage_py_check_database_reports_a_wrong_key(settings, db):
    make_connection()
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        with pytest.raises(SystemCheckError) as info:
            call_command("check", databases=["default"])
    assert "django_podio.E007" in str(info.value)
