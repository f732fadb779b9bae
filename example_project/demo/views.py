"""The demo's pages: thin views over allauth's account data and django-podio's services.

No view and no template reads a token column: the dashboard shows the connection's state
only, so the page can be screenshotted or shared without leaking anything.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from django_podio import conf, get_client, items, tokens
from django_podio.exceptions import PodioError, ReauthorizationRequired
from django_podio.models import PodioConnection
from django_podio.values import parse_podio_datetime

PER_PAGE = 25
# settings.py's fake-Podio address when PODIO_FAKE_URL is not set (make demo's default ports).
DEFAULT_FAKE_URL = "http://127.0.0.1:8001"
# Every moment the demo shows (token expiry, last refresh, item edits) in this one format.
DATETIME_FORMAT = "Y-m-d H:i T"


def when(moment: datetime | None) -> str:
    """One format for every date on the site, in the site's time zone."""
    if moment is None:
        return ""
    return dateformat.format(timezone.localtime(moment), DATETIME_FORMAT)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html")


def _user_connection(request: HttpRequest) -> PodioConnection | None:
    return (
        request.user.podio_connections.filter(kind=PodioConnection.Kind.USER)
        .order_by("-updated_at")
        .first()
    )


def _expires_in(connection: PodioConnection | None) -> str:
    if connection is None or connection.expires_at is None:
        return ""
    minutes = int((connection.expires_at - timezone.now()).total_seconds() // 60)
    if minutes < 0:
        return f"expired {-minutes} minutes ago"
    return f"expires in {minutes} minutes"


def _page_number(raw: str | None) -> int:
    """``?page=`` as Django's ``Paginator.get_page`` reads it: anything odd is page 1."""
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


class BadAppId(Exception):
    pass


def _app_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("app")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) == 0:
        raise BadAppId(raw)
    return int(raw)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        app_id = _app_param(request)  # before any work: a bad ?app= is a 404, not an error
    except BadAppId as error:
        # Rendered here rather than raised: DEBUG's technical 404 page is no page for a demo.
        context = {"message": f"There is no app with the id {str(error)[:40]!r}."}
        return render(request, "404.html", context, status=404)
    account = SocialAccount.objects.filter(user=request.user, provider="podio").first()
    extra: dict[str, Any] = account.extra_data if account else {}
    context: dict[str, Any] = {}
    connection = _user_connection(request)
    if connection is not None and connection.is_active:
        # First: listing the items may refresh the token, or find it dead, which the
        # connection card below must then show.
        context.update(_items_context(request, app_id))
        connection.refresh_from_db()
    context.update(
        {
            "account": account,
            "podio_user": extra.get("user") or {},
            "profile": extra.get("profile") or {},
            "connection": connection,
            "expires_at": when(connection.expires_at) if connection else "",
            "last_refreshed": when(connection.last_refreshed_at) if connection else "",
            "expires_in": _expires_in(connection),
        }
    )
    return render(request, "demo/dashboard.html", context)


def _first_app(request: HttpRequest) -> dict[str, Any] | None:
    """The first app the user can see (orgs, then spaces, then apps), remembered per session."""
    if "demo_app" not in request.session:
        client = get_client(request.user)
        for org in client.get("/org/") or []:
            for space in org.get("spaces") or []:
                apps = client.get(f"/app/space/{space['space_id']}/") or []
                if apps:
                    request.session["demo_app"] = _app_summary(apps[0])
                    return request.session["demo_app"]
        return None
    return request.session["demo_app"]


def _app_summary(app: dict[str, Any]) -> dict[str, Any]:
    name = (app.get("config") or {}).get("name") or app.get("name") or ""
    return {"app_id": int(app["app_id"]), "name": name}


def _named_app(request: HttpRequest, app_id: int) -> dict[str, Any]:
    """An app asked for by ``?app=``, its name read once per session."""
    first = request.session.get("demo_app")
    if first and first["app_id"] == app_id:
        return first
    names = request.session.setdefault("demo_app_names", {})
    if str(app_id) not in names:
        app = get_client(request.user).get(f"/app/{app_id}/") or {}
        names[str(app_id)] = _app_summary({"app_id": app_id, **app})["name"]
        request.session.modified = True
    return {"app_id": app_id, "name": names[str(app_id)]}


class LivePage:
    """Just enough of Django's Page for the template, over one filter call to Podio."""

    def __init__(self, rows: list[dict[str, Any]], number: int, total: int) -> None:
        self.object_list = rows
        self.number = number
        self.num_pages = pages_for(total)
        self.count = total

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def pages_for(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


def _live_page(request: HttpRequest, app_id: int, number: int) -> LivePage:
    """One page read live from Podio; past the last page, the last page (as get_page does)."""
    client = get_client(request.user)

    def fetch(page: int) -> dict[str, Any]:
        body = {
            "limit": PER_PAGE,
            "offset": (page - 1) * PER_PAGE,
            "sort_by": "item_id",
            "sort_desc": True,
        }
        return client.filter_items(app_id, body)

    result = fetch(number)
    last = pages_for(int(result.get("filtered") or 0))
    if number > last:
        number = last
        result = fetch(number)
    rows = [
        {
            "app_item_id": i.get("app_item_id"),
            "title": i.get("title"),
            "revision": i.get("revision"),
            "last_event_on": when(parse_podio_datetime(i.get("last_event_on"))),
        }
        for i in result.get("items") or []
    ]
    return LivePage(rows, number, int(result.get("filtered") or 0))


def fetch_command(request: HttpRequest, app_id: int) -> str:
    """The shell line that caches the items, runnable as pasted from the repository's root.

    A demo on other ports (``make demo PORT=…``) needs the fake's address in the environment,
    or the command would talk to the default one.
    """
    command = (
        ".venv/bin/python example_project/manage.py podio_fetch_items "
        f"{app_id} --user {shlex.quote(request.user.get_username())} --store"
    )
    api_url = conf.get("API_URL").rstrip("/")
    local = urlsplit(api_url).hostname in ("127.0.0.1", "localhost")
    if local and api_url != DEFAULT_FAKE_URL:
        command = f"PODIO_FAKE_URL={shlex.quote(api_url)} {command}"
    return command


def _items_context(request: HttpRequest, app_id: int | None) -> dict[str, Any]:
    """The items of the user's first app: from the local cache when it has them, else live."""
    number = _page_number(request.GET.get("page"))
    try:
        app = _named_app(request, app_id) if app_id else _first_app(request)
        if app is None:
            return {"items_error": "Your Podio account has no app to list."}
        # The pager's links keep an explicit ?app= (the first app needs none).
        context: dict[str, Any] = {"app": app, "app_query": f"app={app_id}&" if app_id else ""}
        app_id = app["app_id"]
        if items.has_cached_items(app_id):
            page = items.page_of_items(app_id, number, PER_PAGE)
            rows = [
                {
                    "app_item_id": i.app_item_id,
                    "title": i.title,
                    "revision": i.revision,
                    "last_event_on": when(i.last_event_on),
                }
                for i in page.object_list
            ]
            return {
                **context,
                "items_page": page,
                "item_rows": rows,
                "items_total": page.paginator.count,
                "items_pages": page.paginator.num_pages,
                "items_cached": True,
            }
        live = _live_page(request, app_id, number)
        return {
            **context,
            "items_page": live,
            "item_rows": live.object_list,
            "items_total": live.count,
            "items_pages": live.num_pages,
            "items_cached": False,
            "fetch_command": fetch_command(request, app_id),
        }
    except ReauthorizationRequired:
        return {
            "items_error": "Podio no longer accepts this connection's tokens (access revoked, "
            "or the demo's fake Podio restarted): reconnect Podio above."
        }
    except PodioError as error:
        # PodioError's text is Podio's own message (never a token): say who failed, and why.
        return {"items_error": f"Podio could not list the items: {error}"}


@login_required
@require_POST
def refresh_now(request: HttpRequest) -> HttpResponse:
    """Force a refresh through the token service, exactly as a worker would on expiry.

    ``force=True`` makes the token "due" whatever its expiry, so the locked refresh path runs
    for real.
    """
    connection = _user_connection(request)
    if connection is None:
        messages.error(request, "There is no Podio connection to refresh.")
        return redirect("dashboard")
    result = tokens.refresh_connection(connection.pk, force=True)
    outcome = result.outcome
    if outcome is tokens.Outcome.REFRESHED:
        messages.success(request, "Refreshed: Podio issued a new access token.")
    elif outcome is tokens.Outcome.REAUTH_REQUIRED:
        messages.error(request, "Podio refused the refresh token: reconnect Podio below.")
    elif outcome is tokens.Outcome.FAILED:
        messages.error(request, f"The refresh failed, the old token is kept: {result.error}")
    else:
        messages.info(request, "Nothing to do: another worker refreshed it just now.")
    return redirect("dashboard")
