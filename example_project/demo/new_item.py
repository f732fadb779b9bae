"""The writing demo: a "New item" page whose form is built from the Podio app's own fields.

``PodioItemForm`` reads the app's field definitions (once, then from the cache): labels,
required fields, the category's options, a widget per type. Values are checked as every
write checks them, and saving creates the item exactly once, even when the form is sent
twice. The dashboard shows the new item at once (the item cache follows the site's writes).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from django_podio import get_client
from django_podio.exceptions import PodioError, ReauthorizationRequired
from django_podio.forms import PodioItemForm

from .views import BadAppId, _app_param, _first_app


class DemoItemForm(PodioItemForm):
    class Meta:
        fields = ["title", "status", "amount", "budget", "due-date", "progress", "email"]


@login_required
def new_item(request: HttpRequest) -> HttpResponse:
    try:
        app_id = _app_param(request)
        app = {"app_id": app_id} if app_id else _first_app(request)
    except BadAppId as error:
        context = {"message": f"There is no app with the id {str(error)[:40]!r}."}
        return render(request, "404.html", context, status=404)
    except ReauthorizationRequired:
        messages.error(request, "Reconnect Podio first.")
        return redirect("dashboard")
    if app is None:
        messages.error(request, "Your Podio account has no app to add an item to.")
        return redirect("dashboard")
    back = "/dashboard/" + (f"?app={app['app_id']}" if app_id else "")
    try:
        client = get_client(request.user)
        form = DemoItemForm(
            request.POST or None, request.FILES or None, client=client, app_id=app["app_id"]
        )
        if request.method == "POST" and form.is_valid():
            created = form.save()
            messages.success(
                request, f"Created “{created.get('title') or created['item_id']}” in Podio."
            )
            return redirect(back)
    except PodioError as error:
        messages.error(request, f"Podio said no: {error}")
        return redirect(back)
    return render(request, "demo/new_item.html", {"form": form, "app": app, "back": back})
