"""The core promise: once Podio has answered a refresh, the new pair is committed.

Whatever transaction the caller is in, whatever odd fields the answer has, and on SQLite as on
PostgreSQL. Each test here failed on f846340.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_podio import get_client, signals, tokens
from django_podio.api import oauth
from django_podio.conf import AppCredentials
from django_podio.exceptions import (
    ConnectionNotFound,
    DecryptionError,
    PodioError,
    RateLimited,
)
from django_podio.models import PodioConnection
from django_podio.testing.faults import Fault

from .conftest import login_with_podio
from .factories import make_user
from .scan import find_leaks
from .views import AfterPodio

EIGHT_HOURS = 8 * 60 * 60


def refresh_grants(fake) -> list:
    return [
        r
        for r in fake.requests_to("/oauth/token", method="POST")
        if r.form and r.form.get("grant_type") == "refresh_token"
    ]


def due(connection: PodioConnection) -> None:
    PodioConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def committed_refresh_token(pk: int) -> str:
    """The refresh token as another connection sees it: only what was committed."""
    seen: dict[str, str] = {}

    def read() -> None:
        try:
            seen["token"] = PodioConnection.objects.get(pk=pk).refresh_token
        finally:
            db.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return seen["token"]


@pytest.fixture
def login(client, fake):
    login_with_podio(client)
    return PodioConnection.objects.get()


# The caller's transaction ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_view_that_fails_after_a_refresh_keeps_the_new_pair(
    client, fake, login, monkeypatch
):
    monkeypatch.setitem(db.settings_dict, "ATOMIC_REQUESTS", True)
    due(login)
    spent = login.refresh_token
    client.raise_request_exception = False
    response = client.get("/test/refresh-then-fail/")
    assert response.status_code == 500
    stored = PodioConnection.objects.get()
    assert stored.refresh_token != spent  # the new pair survived the view's rollback
    assert [r.status for r in refresh_grants(fake)] == [200]
    # The stored token works with no second refresh, and the next refresh is accepted.
    get_client(stored.user).get("/user/status")
    assert len(refresh_grants(fake)) == 1
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


@pytest.mark.django_db(transaction=True)
def test_callers_atomic_that_rolls_back_keeps_the_new_pair(fake, login):
    due(login)
    committed_at_signal: list[str] = []

    def on_refreshed(sender, connection, **kwargs):
        committed_at_signal.append(committed_refresh_token(connection.pk))

    signals.token_refreshed.connect(on_refreshed)
    try:
        with pytest.raises(AfterPodio), transaction.atomic():
            get_client(login.user).get("/user/status")
            if db.vendor != "sqlite":
                # SQLite cannot let a transaction that read before another connection's
                # commit write afterwards ("database is locked": documented); PostgreSQL can.
                PodioConnection.objects.filter(pk=login.pk).update(scope="caller's own write")
            raise AfterPodio
    finally:
        signals.token_refreshed.disconnect(on_refreshed)
    stored = PodioConnection.objects.get()
    assert stored.refresh_token != login.refresh_token
    assert stored.scope != "caller's own write"  # the caller's work did roll back
    # token_refreshed came after the commit: another connection already saw the new token.
    assert committed_at_signal == [stored.refresh_token]
    assert tokens.refresh_connection(stored, force=True).outcome is tokens.Outcome.REFRESHED


@pytest.mark.django_db(transaction=True)
def test_app_auth_inside_a_rolled_back_atomic_is_kept(fake):
    app = fake.add_app(name="Projects")
    with pytest.raises(AfterPodio), transaction.atomic():
        tokens.store_app_connection(app.app_id, app.app_token)
        raise AfterPodio
    stored = PodioConnection.objects.get(app_id=app.app_id)
    get_client(app_id=app.app_id).get(f"/app/{app.app_id}")
    assert stored.status == PodioConnection.Status.ACTIVE


# Odd token answers ----------------------------------------------------------------------

ODD_EXPIRES_IN = [10**12, "abc", 0, -5, None, "", [], {}, True, 1e308, "1e999", "NaN"]


@pytest.mark.django_db
@pytest.mark.parametrize("expires_in", ODD_EXPIRES_IN, ids=repr)
def test_odd_expires_in_keeps_the_rotated_pair_and_gets_eight_hours(fake, login, expires_in):
    issued: list[dict] = []

    def answer(body):
        issued.append(dict(body))
        if expires_in is None:
            body.pop("expires_in")
        else:
            body["expires_in"] = expires_in
        return body

    fake.token_answer = answer
    result = tokens.refresh_connection(login, force=True)
    assert result.outcome is tokens.Outcome.REFRESHED, result
    stored = PodioConnection.objects.get()
    assert stored.refresh_token == issued[0]["refresh_token"]
    assert stored.access_token == issued[0]["access_token"]
    remaining = (stored.expires_at - timezone.now()).total_seconds()
    assert EIGHT_HOURS - 60 < remaining <= EIGHT_HOURS


@pytest.mark.django_db
def test_answer_without_access_token_still_stores_the_refresh_token(fake, login):
    issued: list[dict] = []

    def answer(body):
        issued.append(dict(body))
        body.pop("access_token")
        return body

    fake.token_answer = answer
    result = tokens.refresh_connection(login, force=True)
    assert result.outcome is tokens.Outcome.FAILED
    stored = PodioConnection.objects.get()
    assert stored.refresh_token == issued[0]["refresh_token"]
    assert stored.expires_within(0)  # due again: the next use refreshes with the new token
    fake.token_answer = None
    assert tokens.refresh_connection(stored).outcome is tokens.Outcome.REFRESHED


@pytest.mark.django_db
def test_app_auth_with_missing_expires_in(fake):
    app = fake.add_app(name="Projects")
    fake.token_answer = lambda body: {k: v for k, v in body.items() if k != "expires_in"}
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    assert connection.expires_at is not None
    assert connection.expires_at > timezone.now() + timedelta(hours=7)


@pytest.mark.django_db(transaction=True)  # cron's threads have connections of their own
def test_connection_without_expiry_is_refreshed_by_cron(fake, login):
    PodioConnection.objects.filter(pk=login.pk).update(expires_at=None)
    report = tokens.refresh_due(within=300, concurrency=1)
    assert report.refreshed == 1, report.as_dict()
    assert PodioConnection.objects.get().expires_at is not None


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.dictionaries(
        st.sampled_from(["expires_in", "scope", "ref", "token_type"]) | st.text(max_size=12),
        json_value,
        max_size=5,
    ),
    drop=st.sets(st.sampled_from(["expires_in", "scope", "ref", "token_type"])),
)
def test_property_the_refresh_token_podio_issued_is_the_one_stored(fake, login, changes, drop):
    fake.rate_limit_login = 10**6
    issued: list[str] = []

    def answer(body):
        issued.append(body["refresh_token"])
        for key in drop:
            body.pop(key, None)
        changes.pop("access_token", None)
        changes.pop("refresh_token", None)
        body.update(changes)
        return body

    fake.token_answer = answer
    result = tokens.refresh_connection(login, force=True)
    assert result.outcome is tokens.Outcome.REFRESHED, result
    stored = PodioConnection.objects.get(pk=login.pk)
    assert stored.refresh_token == issued[-1]
    assert stored.expires_at is not None and stored.expires_at > timezone.now()


# Which connection, and what get_client raises ------------------------------------------------


@pytest.mark.django_db
def test_get_client_keeps_one_identity_for_a_user_with_two_connections(client, fake, login):
    second_podio_user = fake.add_user(mail="ada2@example.com", name="Ada Two")
    fake.current_user = second_podio_user
    login_with_podio(client, process="connect")
    first, second = PodioConnection.objects.order_by("pk")
    assert first.user_id == second.user_id and first.ref_id != second.ref_id
    seen = []
    for _ in range(3):
        for connection in (first, second):  # every refresh bumps updated_at
            tokens.refresh_connection(connection, force=True)
        seen.append(get_client(first.user).get("/user/status")["user"]["user_id"])
    assert seen == [first.ref_id] * 3
    chosen = get_client(first.user, podio_user_id=second.ref_id).get("/user/status")
    assert chosen["user"]["user_id"] == second.ref_id


@pytest.mark.django_db
def test_connection_not_found_is_explicit(fake):
    for who in (AnonymousUser(), make_user("nobody")):
        with pytest.raises(ConnectionNotFound) as raised:
            get_client(who)
        assert isinstance(raised.value, ObjectDoesNotExist)
        assert isinstance(raised.value, PodioConnection.DoesNotExist)  # 0.1's exception
    with pytest.raises(ConnectionNotFound):
        get_client(app_id=404)


@pytest.mark.django_db
def test_rate_limited_refresh_reaches_the_caller_with_its_wait(fake, login):
    due(login)
    fake.faults.add(Fault("420", path="/oauth/token", wait_seconds=900))
    with pytest.raises(RateLimited) as raised:
        get_client(login.user)
    assert raised.value.wait_seconds == 900
    assert PodioConnection.objects.get().refresh_token == login.refresh_token


@pytest.mark.django_db
def test_decryption_error_is_a_local_fault(settings, fake, login):
    from cryptography.fernet import Fernet

    assert not issubclass(DecryptionError, PodioError)
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(DecryptionError):
        tokens.refresh_connection(login.pk, force=True)
    assert refresh_grants(fake) == []


@pytest.mark.django_db
def test_force_refreshes_a_fresh_token(fake, login):
    assert tokens.refresh_connection(login).outcome is tokens.Outcome.ALREADY_FRESH
    assert tokens.refresh_connection(login, force=True).outcome is tokens.Outcome.REFRESHED


# Authentication events -----------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_and_reauth_are_logged_as_events_without_secrets(fake, login, caplog):
    caplog.set_level(logging.INFO, logger="django_podio.auth")
    tokens.refresh_connection(login, force=True)
    fake.revoke_refresh_tokens()
    tokens.refresh_connection(login, force=True)
    events = [r.podio_event for r in caplog.records if r.name == "django_podio.auth"]
    assert events == ["refresh", "reauth_required"]
    record = caplog.records[-1]
    assert record.connection_id == login.pk and record.user_id == login.user_id
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert find_leaks(fake.issued_secrets(), log=text) == {}


@pytest.mark.django_db
def test_app_auth_and_key_rotation_are_logged(settings, fake, caplog):
    from cryptography.fernet import Fernet

    caplog.set_level(logging.INFO, logger="django_podio.auth")
    app = fake.add_app(name="Projects")
    tokens.store_app_connection(app.app_id, app.app_token)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode(), settings.FIELD_ENCRYPTION_KEY]
    report = tokens.reencrypt_all()
    assert report.reencrypted == 3 and report.ok
    events = [r.podio_event for r in caplog.records if r.name == "django_podio.auth"]
    assert events == ["app_auth", "key_rotation"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert find_leaks(fake.issued_secrets() | {app.app_token}, log=text) == {}


@pytest.mark.django_db
def test_password_grant_helper_still_works(fake):
    fake.add_user(mail="bob@example.com", name="Bob", password="pw")
    token = oauth.password(
        "bob@example.com", "pw", credentials=AppCredentials(fake.client_id, fake.client_secret)
    )
    assert token.refresh_token and token.expires_in == EIGHT_HOURS


@pytest.mark.django_db(transaction=True)
def test_caller_holding_the_row_lock_does_not_hang_the_refresh_forever(fake, login, monkeypatch):
    """The refresh runs on its own connection; the caller's lock would block it for good."""
    from django.db import DatabaseError

    from django_podio import db as db_module

    if db.vendor == "sqlite":
        pytest.skip("no row locks on SQLite: its busy timeout bounds the wait there")
    monkeypatch.setattr(db_module, "LOCK_TIMEOUT", 1)
    due(login)
    with transaction.atomic():
        PodioConnection.objects.select_for_update().get(pk=login.pk)
        with pytest.raises(DatabaseError):
            get_client(login.user)
    assert refresh_grants(fake) == []  # nothing was spent
    assert tokens.refresh_connection(login).outcome is tokens.Outcome.REFRESHED
