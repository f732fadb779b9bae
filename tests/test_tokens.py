"""The token service against the fake: fresh tokens, rotation, failures, app connections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_podio import get_client, signals, tokens
from django_podio.exceptions import PodioError, ReauthorizationRequired
from django_podio.models import PodioConnection

from .conftest import login_with_podio

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(client, fake) -> PodioConnection:
    login_with_podio(client)
    return PodioConnection.objects.get()


@pytest.fixture
def received():
    events: list[tuple[str, dict]] = []

    def on_refreshed(sender, connection, **kw):
        events.append(("refreshed", {"connection": connection}))

    def on_reauth(sender, connection, error, **kw):
        events.append(("reauth", {"connection": connection, "error": error}))

    signals.token_refreshed.connect(on_refreshed)
    signals.reauthorization_required.connect(on_reauth)
    yield events
    signals.token_refreshed.disconnect(on_refreshed)
    signals.reauthorization_required.disconnect(on_reauth)


def refresh_grants(fake) -> list[str]:
    return [
        r.form["refresh_token"]
        for r in fake.requests_to("/oauth/token", method="POST")
        if r.form and r.form.get("grant_type") == "refresh_token"
    ]


def expire_soon(connection: PodioConnection, seconds: int = 10) -> None:
    PodioConnection.objects.filter(pk=connection.pk).update(
        expires_at=timezone.now() + timedelta(seconds=seconds)
    )


def test_fresh_token_is_used_without_refresh(connection, fake):
    get_client(connection.user).get("/user/status")
    assert refresh_grants(fake) == []


def test_token_near_expiry_is_refreshed_before_use(connection, fake, received):
    old_refresh = connection.refresh_token
    expire_soon(connection)
    api = get_client(connection.user)
    assert refresh_grants(fake) == [old_refresh]
    api.get("/user/status")
    stored = PodioConnection.objects.get()
    assert stored.refresh_token != old_refresh and stored.last_refreshed_at is not None
    assert stored.expires_at > timezone.now() + timedelta(hours=7)
    assert [name for name, _ in received] == ["refreshed"]


def test_token_expiring_mid_use_is_refreshed_transparently(connection, fake):
    api = get_client(connection.user)
    api.get("/user/status")
    fake.expire_access_tokens()
    assert api.get("/user/status")["user"]["mail"] == "ada@example.com"
    assert len(refresh_grants(fake)) == 1
    assert PodioConnection.objects.get().access_token != connection.access_token


def test_rotated_refresh_token_is_never_sent_again(connection, fake):
    for _ in range(4):
        tokens.refresh_connection(connection, margin=10**9)
    sent = refresh_grants(fake)
    assert len(sent) == 4 and len(set(sent)) == 4
    assert sent[0] == connection.refresh_token
    # Strict rotation in the fake: the first refresh token is dead now.
    assert all(r.status == 200 for r in fake.requests_to("/oauth/token", method="POST"))


def test_invalid_grant_marks_reauth_required_and_stops(connection, fake, received):
    fake.revoke_refresh_tokens()
    result = tokens.refresh_connection(connection, margin=10**9)
    assert result.outcome is tokens.Outcome.REAUTH_REQUIRED
    stored = PodioConnection.objects.get()
    assert stored.status == "reauth_required" and "invalid_grant" in stored.last_error
    assert [name for name, _ in received] == ["reauth"]
    assert "invalid_grant" in received[0][1]["error"]
    before = len(fake.requests)
    with pytest.raises(ReauthorizationRequired):
        get_client(connection.user)
    assert tokens.refresh_connection(connection, margin=10**9).outcome is (
        tokens.Outcome.REAUTH_REQUIRED
    )
    assert len(fake.requests) == before


def test_login_again_reactivates(client, connection, fake):
    fake.revoke_refresh_tokens()
    tokens.refresh_connection(connection, margin=10**9)
    client.logout()
    login_with_podio(client)
    assert PodioConnection.objects.get().status == "active"


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_network_and_server_errors_keep_the_old_tokens(connection, fake, kind):
    fake.add_fault(kind, path="/oauth/token")
    result = tokens.refresh_connection(connection, margin=10**9)
    assert result.outcome is tokens.Outcome.FAILED
    stored = PodioConnection.objects.get()
    assert (stored.access_token, stored.refresh_token) == (
        connection.access_token,
        connection.refresh_token,
    )
    assert stored.failure_count == 1 and stored.status == "active"
    # The next attempt works with the same refresh token.
    assert tokens.refresh_connection(connection, margin=10**9).outcome is tokens.Outcome.REFRESHED


def test_failed_refresh_before_use_still_uses_a_valid_token(connection, fake):
    expire_soon(connection, 60)
    fake.add_fault("503", path="/oauth/token")
    api = get_client(connection.user)
    assert api.get("/user/status")


def test_failed_refresh_after_401_raises(connection, fake):
    api = get_client(connection.user)
    fake.expire_access_tokens()
    fake.add_fault("503", path="/oauth/token")
    with pytest.raises(PodioError):
        api.get("/user/status")


def test_already_refreshed_by_another_worker_is_not_spent_again(connection, fake):
    stale = connection.access_token
    tokens.refresh_connection(connection, margin=10**9)
    result = tokens.refresh_connection(connection, stale_token=stale)
    assert result.outcome is tokens.Outcome.ALREADY_FRESH
    assert len(refresh_grants(fake)) == 1


def test_no_connection(db, django_user_model):
    user = django_user_model.objects.create_user("nobody")
    with pytest.raises(PodioConnection.DoesNotExist):
        get_client(user)
    with pytest.raises(TypeError):
        get_client()


def test_app_connection_works_without_a_user(fake):
    app = fake.add_app(name="Projects")
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    assert connection.kind == "app" and connection.user is None
    assert connection.app_token == app.app_token
    api = get_client(app_id=app.app_id)
    assert api.get(f"/app/{app.app_id}")["app_id"] == app.app_id


def test_app_connection_with_dead_refresh_token_signs_in_again(fake):
    app = fake.add_app(name="Projects")
    connection = tokens.store_app_connection(app.app_id, app.app_token)
    fake.revoke_refresh_tokens()
    result = tokens.refresh_connection(connection, margin=10**9)
    assert result.outcome is tokens.Outcome.REFRESHED
    grants = [r.form["grant_type"] for r in fake.requests_to("/oauth/token", method="POST")]
    assert grants == ["app", "refresh_token", "app"]


def test_wrong_app_token_is_not_stored(fake):
    from django_podio.exceptions import InvalidGrant

    app = fake.add_app(name="Projects")
    with pytest.raises(InvalidGrant):
        tokens.store_app_connection(app.app_id, "wrong-token")
    assert PodioConnection.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_refresh_due_refreshes_only_due_connections(client, fake, django_user_model):
    from .factories import make_connection

    login_with_podio(client)
    due = PodioConnection.objects.get()
    expire_soon(due)
    not_due = make_connection(django_user_model.objects.create_user("later"), expires_in=86400)
    report = tokens.refresh_due(within=300, concurrency=2)
    assert (report.refreshed, report.failed, report.skipped) == (1, 0, 0)
    assert PodioConnection.objects.get(pk=not_due.pk).last_refreshed_at is None
    assert PodioConnection.objects.get(pk=due.pk).last_refreshed_at is not None


def test_user_with_a_dead_and_a_live_connection_gets_the_live_one(connection, fake):
    from .factories import make_connection

    dead = make_connection(connection.user, access="dead-access", refresh="dead-refresh")
    PodioConnection.objects.filter(pk=dead.pk).update(status="reauth_required")
    PodioConnection.objects.filter(pk=dead.pk).update(updated_at=timezone.now() + timedelta(1))
    assert get_client(connection.user).get("/user/status")["user"]["mail"] == "ada@example.com"
