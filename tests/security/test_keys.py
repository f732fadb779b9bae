"""FIELD_ENCRYPTION_KEY: a wrong key refuses loudly; rotation works end to end."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_podio import get_client, tokens
from django_podio.exceptions import DecryptionError
from django_podio.models import PodioConnection

from ..conftest import login_with_podio

pytestmark = pytest.mark.django_db
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


@pytest.fixture
def logged_in(client, fake, settings):
    login_with_podio(client)
    return PodioConnection.objects.get().user


def reencrypt(*args: str) -> str:
    out = StringIO()
    call_command("podio_reencrypt", *args, stdout=out)
    return out.getvalue()


def test_wrong_key_refuses_instead_of_sending_ciphertext(logged_in, fake):
    fake.reset_log()
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        with pytest.raises(DecryptionError) as info:
            get_client(logged_in).get("/user/status")
        with pytest.raises(DecryptionError):
            tokens.refresh_connection(
                PodioConnection.objects.values_list("pk", flat=True).get(), margin=10**9
            )
    assert "FIELD_ENCRYPTION_KEY" in str(info.value)
    assert fake.requests == []  # nothing reached Podio, so no ciphertext was sent as a token


def test_rotation_end_to_end(logged_in, fake, settings):
    key_a = settings.FIELD_ENCRYPTION_KEY
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, key_a]):
        assert "0 values already current, 2 would be re-encrypted" in reencrypt("--dry-run")
        assert "0 values already current, 2 re-encrypted, 0 undecryptable" in reencrypt()
        assert "2 values already current, 0 re-encrypted" in reencrypt()
        out = StringIO()
        call_command("check", databases=["default"], stdout=out)
        assert "no issues" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        assert get_client(logged_in).get("/user/status")["user"]["mail"] == "ada@example.com"
        result = tokens.refresh_connection(PodioConnection.objects.get(), margin=10**9)
        assert result.outcome is tokens.Outcome.REFRESHED
    with override_settings(FIELD_ENCRYPTION_KEY=key_a), pytest.raises(DecryptionError):
        PodioConnection.objects.get()


def test_reencrypt_writes_nothing_when_a_value_is_undecryptable(logged_in, fake, settings):
    from django.db import connection as db

    key_a = settings.FIELD_ENCRYPTION_KEY
    second = PodioConnection.objects.create(
        user=logged_in, access_token="other-access", refresh_token="other-refresh"
    )
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM django_podio_podioconnection ORDER BY id")
        before = [row[0] for row in cursor.fetchall()]
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_C):
        second.access_token = "under-c"
        second.save(update_fields=["access_token"])
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, key_a]):
        with pytest.raises(CommandError) as info:
            reencrypt()
    assert "1 undecryptable" in str(info.value) and "Nothing was written" in str(info.value)
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM django_podio_podioconnection ORDER BY id")
        after = [row[0] for row in cursor.fetchall()]
    assert after[0] == before[0]  # the readable row was not rewritten either


def test_a_fresh_login_replaces_an_undecryptable_connection(client, fake, settings):
    """A key dropped too early: logging in with Podio again is the repair, not a 500."""
    login_with_podio(client)
    before = PodioConnection.objects.get()
    client.logout()
    settings.FIELD_ENCRYPTION_KEY = KEY_B  # the old key is gone: every stored secret is junk
    response = login_with_podio(client)
    assert response.status_code == 302, response.content[:300]
    after = PodioConnection.objects.get()
    assert after.pk == before.pk
    assert after.refresh_token and after.refresh_token != before.refresh_token
    get_client(after.user).get("/user/status")  # the new tokens, under the new key, work
    assert tokens.refresh_connection(after, force=True).outcome is tokens.Outcome.REFRESHED
