"""Views that only the tests mount: a host's view that calls Podio and then fails, and a
host's pages with a ``PodioItemForm`` (new item, edit item)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template import engines

from django_podio import get_client
from django_podio.exceptions import Conflict
from django_podio.forms import PodioItemForm


class AfterPodio(Exception):
    """The host's own bug, raised after the Podio call succeeded."""


def refresh_then_fail(request: HttpRequest) -> HttpResponse:
    client = get_client(request.user)  # the token is due: this refreshes it
    client.get("/user/status")
    raise AfterPodio("the view failed after talking to Podio")


class ProjectForm(PodioItemForm):
    class Meta:
        fields = ["title", "status", "amount", "due-date", "photo"]


FORM_PAGE = engines["django"].from_string(
    '<form method="post" enctype="multipart/form-data">{% csrf_token %}{{ form }}'
    '<button type="submit">Save</button></form>'
)


def new_item(request: HttpRequest, app_id: int) -> HttpResponse:
    client = get_client(app_id=app_id)
    form = ProjectForm(request.POST or None, request.FILES or None, client=client, app_id=app_id)
    if request.method == "POST" and form.is_valid():
        created = form.save()
        return redirect(f"/test/items/{app_id}/{created['item_id']}/")
    return HttpResponse(FORM_PAGE.render({"form": form}, request))


def edit_item(request: HttpRequest, app_id: int, item_id: int) -> HttpResponse:
    client = get_client(app_id=app_id)
    item = client.get_item(item_id)
    form = ProjectForm(request.POST or None, request.FILES or None, client=client, item=item)
    if request.method == "POST" and form.is_valid():
        try:
            form.save()
        except Conflict:
            pass  # the form now says so: show it again
        else:
            return redirect(f"/test/items/{app_id}/{item_id}/")
    return HttpResponse(FORM_PAGE.render({"form": form}, request))
