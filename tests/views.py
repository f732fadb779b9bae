"""Views that only the tests mount: a host's view that calls Podio and then fails."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from django_podio import get_client


class AfterPodio(Exception):
    """The host's own bug, raised after the Podio call succeeded."""


def refresh_then_fail(request: HttpRequest) -> HttpResponse:
    client = get_client(request.user)  # the token is due: this refreshes it
    client.get("/user/status")
    raise AfterPodio("the view failed after talking to Podio")
