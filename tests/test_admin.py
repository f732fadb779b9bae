"""The admin shows connection state, never a secret, and can refresh through the service."""

import pytest

from django_podio.models import PodioConnection

from .conftest import login_with_podio

pytestmark = pytest.mark.django_db


def test_admin_pages_show_state_without_secrets(client, fake, admin_client):
    login_with_podio(client)
    connection = PodioConnection.objects.get()
    listing = admin_client.get("/admin/django_podio/podioconnection/")
    change = admin_client.get(f"/admin/django_podio/podioconnection/{connection.pk}/change/")
    assert listing.status_code == change.status_code == 200
    assert b"active" in listing.content and b"Refresh token stored" in change.content
    for page in (listing.content.decode(), change.content.decode()):
        assert all(secret not in page for secret in fake.issued_secrets())
    assert b'name="access_token"' not in change.content
    assert admin_client.get("/admin/django_podio/podioconnection/add/").status_code == 403


def test_refresh_now_action_goes_through_the_service(client, fake, admin_client):
    login_with_podio(client)
    connection = PodioConnection.objects.get()
    response = admin_client.post(
        "/admin/django_podio/podioconnection/",
        {"action": "refresh_now", "_selected_action": [connection.pk]},
        follow=True,
    )
    assert b"1 refreshed" in response.content
    assert PodioConnection.objects.get().refresh_token != connection.refresh_token


# The admin never writes tokens, expiry or status ------------------------------------------

CHANGELIST = "/admin/django_podio/podioconnection/"


def change_url(pk: int) -> str:
    return f"{CHANGELIST}{pk}/change/"


def stored(pk: int) -> dict:
    """The row as the database holds it (ciphertext, raw)."""
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token, expires_at, status "
            "FROM django_podio_podioconnection WHERE id = %s",
            [pk],
        )
        columns = ["access_token", "refresh_token", "expires_at", "status"]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def test_change_form_is_read_only_and_a_forged_post_writes_nothing(client, fake, admin_client):
    login_with_podio(client)
    connection = PodioConnection.objects.get()
    before = stored(connection.pk)
    page = admin_client.get(change_url(connection.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # no save button: nothing here is editable
    forged = {
        "refresh_token": "forged-refresh",
        "access_token": "forged-access",
        "status": "reauth_required",
        "expires_at_0": "2000-01-01",
        "expires_at_1": "00:00:00",
        "scope": "forged",
        "_save": "Save",
    }
    response = admin_client.post(change_url(connection.pk), forged)
    assert response.status_code == 403
    assert stored(connection.pk) == before


def test_admin_save_never_undoes_a_refresh_made_meanwhile(client, fake, admin_client):
    """A refresh that commits between the admin's read and its write must survive."""
    from django.db.models.signals import pre_save

    from django_podio import tokens

    login_with_podio(client)
    connection = PodioConnection.objects.get()
    refreshed = []

    def refresh_meanwhile(sender, instance, **kwargs):
        if not refreshed:  # once: the refresh's own save comes through here too
            refreshed.append(None)
            refreshed[0] = tokens.refresh_connection(instance.pk, force=True)

    pre_save.connect(refresh_meanwhile, sender=PodioConnection, dispatch_uid="meanwhile")
    try:
        admin_client.post(change_url(connection.pk), {"_save": "Save"})
    finally:
        pre_save.disconnect(dispatch_uid="meanwhile", sender=PodioConnection)
    after = PodioConnection.objects.get()
    if refreshed:  # the admin did try to save: the refresh's pair must be what is stored
        assert refreshed[0].outcome is tokens.Outcome.REFRESHED
    assert (
        after.refresh_token in fake.refresh_tokens
        and not fake.refresh_tokens[after.refresh_token].used
    )
    assert after.status == PodioConnection.Status.ACTIVE


# Undecryptable rows (a key removed too early) are shown as such and can be deleted ------------


@pytest.fixture
def undecryptable(client, fake, settings):
    """Two connections: one readable, one whose secrets are under a key we no longer have."""
    from cryptography.fernet import Fernet
    from django.test import override_settings

    login_with_podio(client)
    good = PodioConnection.objects.get()
    lost_user = type(good.user).objects.create(username="lost")
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        lost = PodioConnection.objects.create(
            user=lost_user, access_token="lost-access", refresh_token="lost-refresh", ref_id=77
        )
    return good, lost


def test_changelist_and_change_form_show_undecryptable_rows(undecryptable, admin_client, fake):
    good, lost = undecryptable
    listing = admin_client.get(CHANGELIST)
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "undecryptable" in text and "lost" in text
    page = admin_client.get(change_url(lost.pk))
    assert page.status_code == 200
    assert "undecryptable" in page.content.decode()
    good_page = admin_client.get(change_url(good.pk)).content.decode()
    assert "undecryptable" not in good_page
    for html in (text, page.content.decode(), good_page):
        assert all(secret not in html for secret in fake.issued_secrets())
        assert "lost-refresh" not in html and "gAAAAA" not in html


def test_an_undecryptable_row_can_be_deleted_alone(undecryptable, admin_client):
    good, lost = undecryptable
    confirm = admin_client.get(f"{CHANGELIST}{lost.pk}/delete/")
    assert confirm.status_code == 200
    response = admin_client.post(f"{CHANGELIST}{lost.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert list(PodioConnection.objects.values_list("pk", flat=True)) == [good.pk]


def test_undecryptable_rows_can_be_deleted_in_bulk(undecryptable, admin_client):
    good, lost = undecryptable
    data = {"action": "delete_selected", "_selected_action": [good.pk, lost.pk]}
    confirm = admin_client.post(CHANGELIST, data)
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    response = admin_client.post(CHANGELIST, {**data, "post": "yes"})
    assert response.status_code == 302
    assert not PodioConnection.objects.exists()


def test_refresh_now_reports_an_undecryptable_row_instead_of_failing(undecryptable, admin_client):
    good, lost = undecryptable
    response = admin_client.post(
        CHANGELIST,
        {"action": "refresh_now", "_selected_action": [good.pk, lost.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"1 refreshed" in response.content and b"1 undecryptable" in response.content
