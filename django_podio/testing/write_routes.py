"""The fake's write routes: items, comments, file uploads and embeds over HTTP.

Thin: each handler parses what Podio's route takes (query ``hook`` and ``silent``, the JSON or
multipart body) and answers as Podio does; the rules live in :mod:`.writes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import AccessToken, ApiError
from .wire import NO_ROUTE, Request, Response, app_access, flag, json_body, json_response

if TYPE_CHECKING:
    from .state import PodioState
else:
    PodioState = object

# (method, path pattern after trailing-slash removal, handler name, rate-limit pool)
WRITE_ROUTES = [
    ("POST", r"/item/app/(?P<app_id>\d+)", "item_create", "general"),
    ("PUT", r"/item/(?P<item_id>\d+)", "item_update", "general"),
    ("DELETE", r"/item/(?P<item_id>\d+)", "item_delete", "general"),
    ("POST", r"/comment/item/(?P<item_id>\d+)", "comment_create", "general"),
    ("POST", r"/file", "file_upload", "general"),
    ("POST", r"/embed", "embed_create", "general"),
]


class WriteRoutes(PodioState):
    """Part of :class:`~.server.FakePodio`: the handlers of :data:`WRITE_ROUTES`."""

    def _api_item_create(self, request: Request, token: AccessToken, app_id: str) -> Response:
        app_access(token, int(app_id))
        body = json_body(request)
        with self._lock:
            item = self.api_create_item(
                int(app_id),
                body,
                created_by=(token.ref_type, token.ref_id),
                hook=flag(request, "hook", True),
                silent=flag(request, "silent", False),
            )
            title = self._title(self.apps[item.app_id], item)
        return json_response(200, {"item_id": item.item_id, "title": title})

    def _api_item_update(self, request: Request, token: AccessToken, item_id: str) -> Response:
        body = json_body(request)
        with self._lock:
            item = self.get_item(int(item_id))
            app_access(token, item.app_id)
            updated = self.api_update_item(
                item.item_id,
                body,
                hook=flag(request, "hook", True),
                silent=flag(request, "silent", False),
            )
            if updated is None:  # nothing changed: no revision, no body
                return Response(204, b"", None)
            title = self._title(self.apps[item.app_id], updated)
        return json_response(200, {"revision": updated.revision, "title": title})

    def _api_item_delete(self, request: Request, token: AccessToken, item_id: str) -> Response:
        with self._lock:
            item = self.get_item(int(item_id))
            app_access(token, item.app_id)
            self.api_delete_item(
                item.item_id,
                hook=flag(request, "hook", True),
                silent=flag(request, "silent", False),
            )
        return Response(204, b"", None)

    def _api_comment_create(self, request: Request, token: AccessToken, item_id: str) -> Response:
        if not request.body:
            raise ApiError(404, "not_found", NO_ROUTE)  # what Podio answers a bodiless POST
        body = json_body(request)
        with self._lock:
            item = self.get_item(int(item_id))
            app_access(token, item.app_id)
            comment = self.add_comment(
                item.item_id,
                body.get("value"),
                created_by=(token.ref_type, token.ref_id),
                external_id=body.get("external_id"),
                hook=flag(request, "hook", True),
            )
        return json_response(200, comment)

    def _api_file_upload(self, request: Request, token: AccessToken) -> Response:
        source = request.files.get("source")
        if source is None:
            raise ApiError(
                404, "not_found", "No matching operation could be found. Missing parameters: source"
            )
        filename, data, mimetype = source
        name = (request.form or {}).get("filename") or filename
        answer = self.upload_file(
            name, data, mimetype=mimetype, created_by=(token.ref_type, token.ref_id)
        )
        return json_response(200, answer)

    def _api_embed_create(self, request: Request, token: AccessToken) -> Response:
        body = json_body(request)
        return json_response(200, self.create_embed(body.get("url")))
