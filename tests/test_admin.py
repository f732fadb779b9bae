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
