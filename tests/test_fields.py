"""The encrypted fields: ciphertext at rest, no silent failure, expressions, rotation."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection as db
from django.db.models import Value
from django.test import override_settings

from django_podio import fields
from django_podio.exceptions import DecryptionError
from django_podio.models import PodioConnection

from .factories import make_connection, make_user

pytestmark = pytest.mark.django_db
KEY_B = Fernet.generate_key().decode()


def raw_values(pk: int) -> tuple:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token, app_token FROM django_podio_podioconnection "
            "WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_raw_column_holds_ciphertext_not_plaintext():
    conn = make_connection(access="plain-access-123", refresh="plain-refresh-456")
    access, refresh, app = raw_values(conn.pk)
    assert "plain-access-123" not in access and access.startswith("gAAAAA")
    assert "plain-refresh-456" not in refresh
    assert app is None
    fresh = PodioConnection.objects.get(pk=conn.pk)
    assert (fresh.access_token, fresh.refresh_token, fresh.app_token) == (
        "plain-access-123",
        "plain-refresh-456",
        None,
    )


def test_same_plaintext_gives_different_ciphertext():
    a = make_connection(make_user("a"), access="same")
    b = make_connection(make_user("b"), access="same")
    assert raw_values(a.pk)[0] != raw_values(b.pk)[0]


def test_empty_string_round_trips():
    conn = make_connection(refresh="")
    assert PodioConnection.objects.get(pk=conn.pk).refresh_token == ""


def test_wrong_key_raises_instead_of_returning_ciphertext():
    conn = make_connection()
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B), pytest.raises(DecryptionError) as info:
        PodioConnection.objects.get(pk=conn.pk)
    assert "PodioConnection.access_token" in str(info.value)
    assert "gAAAAA" not in str(info.value)


def test_corrupt_ciphertext_raises():
    conn = make_connection()
    with db.cursor() as cursor:
        cursor.execute(
            "UPDATE django_podio_podioconnection SET access_token = %s WHERE id = %s",
            ["plaintext-sneaked-in", conn.pk],
        )
    with pytest.raises(DecryptionError):
        PodioConnection.objects.get(pk=conn.pk)


def test_bulk_update_stores_the_right_ciphertext():
    a = make_connection(make_user("a"), access="old-a")
    b = make_connection(make_user("b"), access="old-b")
    a.access_token, b.access_token = "bulk-a", "bulk-b"
    PodioConnection.objects.bulk_update([a, b], ["access_token"])
    assert PodioConnection.objects.get(pk=a.pk).access_token == "bulk-a"
    assert PodioConnection.objects.get(pk=b.pk).access_token == "bulk-b"
    assert "bulk-a" not in raw_values(a.pk)[0]


def test_update_with_value_expression_encrypts_the_value():
    conn = make_connection()
    PodioConnection.objects.filter(pk=conn.pk).update(access_token=Value("via-value"))
    assert PodioConnection.objects.get(pk=conn.pk).access_token == "via-value"
    assert "via-value" not in raw_values(conn.pk)[0]
    field = PodioConnection._meta.get_field("access_token")
    PodioConnection.objects.filter(pk=conn.pk).update(
        access_token=Value("typed-value", output_field=field)
    )
    assert PodioConnection.objects.get(pk=conn.pk).access_token == "typed-value"


def test_update_with_plain_value_and_bulk_create():
    conn = make_connection()
    PodioConnection.objects.filter(pk=conn.pk).update(refresh_token="plain-update")
    assert PodioConnection.objects.get(pk=conn.pk).refresh_token == "plain-update"
    user = make_user("bulk")
    [_created] = PodioConnection.objects.bulk_create(
        [PodioConnection(user=user, access_token="bc-access")]
    )
    assert PodioConnection.objects.get(user=user).access_token == "bc-access"


def test_lookups_on_secrets_are_refused_loudly():
    make_connection()
    with pytest.raises(FieldError):
        list(PodioConnection.objects.filter(access_token="access-token-value"))
    assert PodioConnection.objects.filter(app_token__isnull=True).count() == 1


def test_key_rotation_old_key_then_reencrypt_then_new_key_only():
    key_a = settings.FIELD_ENCRYPTION_KEY
    conn = make_connection(access="rotating-access")
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, key_a]):
        assert PodioConnection.objects.get(pk=conn.pk).access_token == "rotating-access"
        access, refresh, _ = raw_values(conn.pk)
        assert fields.key_index(access) == fields.key_index(refresh) == 1
        access, refresh = fields.reencrypt(access), fields.reencrypt(refresh)
        assert fields.key_index(access) == fields.key_index(refresh) == 0
        with db.cursor() as cursor:
            cursor.execute(
                "UPDATE django_podio_podioconnection SET access_token = %s, refresh_token = %s "
                "WHERE id = %s",
                [access, refresh, conn.pk],
            )
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        assert PodioConnection.objects.get(pk=conn.pk).access_token == "rotating-access"
    with override_settings(FIELD_ENCRYPTION_KEY=key_a), pytest.raises(DecryptionError):
        PodioConnection.objects.get(pk=conn.pk)


def test_form_input_is_not_decrypted():
    field = PodioConnection._meta.get_field("access_token")
    ciphertext = fields.encrypt("secret")
    assert field.to_python(ciphertext) == ciphertext


# The key is read at first use, not at import ---------------------------------------------------


def test_writing_a_secret_without_a_key_is_a_clear_configuration_error(settings):
    del settings.FIELD_ENCRYPTION_KEY
    with pytest.raises(ImproperlyConfigured) as info:
        make_connection()
    assert "FIELD_ENCRYPTION_KEY is not set" in str(info.value)
    assert "Fernet.generate_key()" in str(info.value)


def test_reading_a_secret_with_a_malformed_key_is_a_configuration_error(settings):
    conn = make_connection()
    settings.FIELD_ENCRYPTION_KEY = [settings.FIELD_ENCRYPTION_KEY, "too-short"]
    with pytest.raises(ImproperlyConfigured, match=r"key 2 of 2") as info:
        PodioConnection.objects.get(pk=conn.pk)
    assert "too-short" not in str(info.value)
    assert not isinstance(info.value, DecryptionError)


def test_a_key_set_after_a_failure_works_at_once(settings):
    key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured):
        fields.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEY = key
    assert fields.decrypt(fields.encrypt("secret")) == "secret"


def test_importing_the_app_does_not_build_a_crypter(tmp_path):
    """django-encrypted-model-fields reads the key when its module is imported: we never do."""
    code = (
        "import os, sys, django\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.admin', 'django.contrib.auth',"
        " 'django.contrib.contenttypes', 'django.contrib.sessions', 'django.contrib.messages',"
        " 'allauth', 'allauth.account', 'allauth.socialaccount', 'django_podio'],"
        " MIDDLEWARE=['allauth.account.middleware.AccountMiddleware'])\n"
        "django.setup()\n"
        "import django_podio.models, django_podio.admin, django_podio.checks, django_podio.tokens\n"
        "from django.core.management import load_command_class\n"
        "load_command_class('django_podio', 'podio_reencrypt')\n"
        "print('encrypted_model_fields.fields' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
