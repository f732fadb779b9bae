"""Item writes: create, update and delete, with values checked before anything is sent.

* **Checked first.** ``fields`` maps external ids (or field ids) to Python values; they are
  encoded against the app's cached definition (:mod:`django_podio.encoding`), so a value
  the field cannot take raises :class:`~django_podio.exceptions.InvalidFieldValue` naming
  the field, and no request is made.
* **Exactly-once creates.** Podio has no idempotency key and does not keep external ids
  unique (``podio-api.md`` §4.5), so a create is never sent again blindly. A failure after
  the request may have reached Podio (a dropped connection, a read timeout, a 5xx, an
  unreadable answer) is *ambiguous*: with an ``external_id`` the client waits a moment,
  looks the item up by it, and returns the item Podio holds, or sends the create again only
  when Podio has none. Without one, it raises and says why. A connection that was never
  made is no ambiguity: that create is simply sent again.
* **Rate limits.** A 420 means Podio refused the call before doing anything, so it is waited
  out (within ``RATE_LIMIT_MAX_WAIT``) or raised as ``RateLimited``, like a read.
* **Optimistic updates.** ``revision=N`` makes Podio refuse (409 → ``Conflict``) an update
  of fields changed since revision N; nothing is written then. An update that changes
  nothing is Podio's 204: a normal answer (``changed`` is False).
* **Observers.** A client built by :func:`django_podio.get_client` tells the item cache
  about each write (:class:`WriteObserver`), so cached lists show it at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from ..encoding import NewLink
from ..exceptions import (
    Gone,
    NotFound,
    PodioAPIError,
    PodioConnectionError,
    PodioError,
    ServerError,
)
from ..redaction import get_logger

if TYPE_CHECKING:
    from .client import PodioClient
    from .shape import ClientShape
else:
    ClientShape = object

logger = get_logger("django_podio.api")
#: Item ids whose app the client remembers (for encoding updates), at most.
REMEMBERED_ITEMS = 10_000
MAX_EXTERNAL_ID = 200


@dataclass(frozen=True)
class Written:
    """One write Podio accepted, as told to a :class:`WriteObserver`."""

    kind: str  # "create", "update" or "delete"
    item_id: int
    app_id: int | None
    #: The item's revision after the write; ``None`` when unknown or unchanged.
    revision: int | None = None
    #: False for an update that changed nothing (Podio's 204).
    changed: bool = True
    #: The whole item, when the write already has it (a create found by its external id).
    item: Mapping[str, Any] | None = None


class WriteObserver(Protocol):
    """Whoever keeps a copy of items (the ``PodioItem`` cache) and wants to hear of writes."""

    def app_of(self, item_id: int) -> int | None:
        """The app of an item it knows, so an update needs no request to find out."""

    def written(self, client: PodioClient, write: Written) -> None:
        """Called after each accepted write; it must not raise (errors are logged)."""


def write_options(*, silent: bool, hook: bool) -> dict[str, str]:
    """Podio's query options of a write: ``silent`` (no stream, no notifications) and
    ``hook=false`` (no webhooks)."""
    options = {}
    if silent:
        options["silent"] = "true"
    if not hook:
        options["hook"] = "false"
    return options


def ambiguous(error: PodioError) -> bool:
    """Whether a failed write may have taken effect in Podio."""
    if isinstance(error, PodioConnectionError):
        return error.maybe_sent
    return isinstance(error, ServerError)


def unknown_outcome(error: PodioError, explanation: str) -> PodioError:
    """``error`` (same class, same fields), its message saying what the caller must know."""
    error.args = (f"{error} — {explanation}",)
    error.outcome_unknown = True  # type: ignore[attr-defined]
    return error


class ItemWrites(ClientShape):
    # ------------------------------------------------------------------ create
    def create_item(
        self,
        app_id: int,
        fields: Mapping[Any, Any],
        *,
        external_id: str | None = None,
        silent: bool = False,
        hook: bool = True,
    ) -> dict[str, Any]:
        """Create an item; Podio's answer (``item_id``, ``title``, ``revision``).

        With ``external_id`` the create happens exactly once, whatever the network does (see
        the module docstring); give every intended item its own external id. If this raises
        with ``outcome_unknown`` set, look the item up with
        ``get_item_by_external_id(app_id, external_id)`` before trying again.
        """
        app_id = int(app_id)
        body: dict[str, Any] = {"fields": self._encode_fields(app_id, fields)}
        if external_id is not None:
            body["external_id"] = _external_id(external_id)
        body["fields"] = self._with_embeds(body["fields"])
        answer, found = self._create_once(app_id, body, write_options(silent=silent, hook=hook))
        item_id = int(answer["item_id"])
        self._item_apps_put(item_id, app_id)
        self._tell(Written("create", item_id, app_id, int(answer["revision"]), True, found))
        return answer

    def _create_once(
        self, app_id: int, body: dict[str, Any], params: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Podio's answer to the create, and the whole item when it was found by its
        external id after an ambiguous failure."""
        external_id = body.get("external_id")
        path = f"/item/app/{app_id}/"
        retries = self.transport.max_retries
        attempt = 0
        while True:
            try:
                answer = self.write("POST", path, json=body, params=params)
                if not isinstance(answer, dict) or "item_id" not in answer:
                    raise ServerError(
                        status=200, description="no item_id in the answer", method="POST", path=path
                    )
                return {"revision": 0, **answer}, None
            except PodioConnectionError as error:
                if not error.maybe_sent and attempt < retries:
                    attempt += 1  # never reached Podio: sending it again is no second create
                    self.transport.sleep(self.transport.backoff(attempt - 1))
                    continue
                failure: PodioError = error
            except ServerError as error:
                failure = error
            except PodioAPIError as error:
                if error.status == 400:  # our check passed, Podio's did not: the app changed?
                    self.forget_app(app_id)
                raise
            if not ambiguous(failure):
                raise failure
            if external_id is None:
                raise unknown_outcome(
                    failure,
                    "the item may have been created: not sent again, since without an "
                    "external_id a second create could make a second item (pass "
                    "external_id=... to make creates exactly-once)",
                ) from failure.__cause__
            # Wait a moment (Podio may still be processing it), then ask whether it exists.
            self.transport.sleep(self.transport.backoff(attempt))
            try:
                found = self.get_item_by_external_id(app_id, external_id)
            except NotFound:
                found = None
            except PodioError as lookup:
                raise unknown_outcome(
                    failure,
                    f"looking the item up by external_id {external_id!r} failed too ({lookup}); "
                    "look it up before creating it again",
                ) from failure.__cause__
            if found is not None:
                logger.info("POST %s: answer lost; the item was found by its external id", path)
                return answer_from_item(found), found
            if attempt >= retries:
                raise unknown_outcome(
                    failure, f"no item with external_id {external_id!r} after {attempt + 1} tries"
                ) from failure.__cause__
            attempt += 1
            logger.info("POST %s: answer lost and no such item; sending it again", path)

    # ------------------------------------------------------------------ update
    def update_item(
        self,
        item_id: int,
        fields: Mapping[Any, Any],
        *,
        revision: int | None = None,
        silent: bool = False,
        hook: bool = True,
    ) -> dict[str, Any]:
        """Change the item's ``fields`` (only those); ``{"item_id", "revision", "title",
        "changed"}``.

        With ``revision`` Podio refuses (:class:`~django_podio.exceptions.Conflict`) to
        write a field that changed since that revision, and nothing is written. Podio's
        204 (nothing changed) gives ``changed`` False and ``revision`` None. Not sent again
        after an ambiguous failure (a second try could overwrite a change made meanwhile).
        """
        item_id = int(item_id)
        app_id = self._app_of_item(item_id)
        body: dict[str, Any] = {"fields": self._encode_fields(app_id, fields)}
        if revision is not None:
            if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
                raise ValueError(f"revision must be a non-negative int, not {revision!r}")
            body["revision"] = revision
        body["fields"] = self._with_embeds(body["fields"])
        params = write_options(silent=silent, hook=hook)
        try:
            answer = self.write("PUT", f"/item/{item_id}", json=body, params=params)
        except PodioAPIError as error:
            if error.status == 400:
                self.forget_app(app_id)
            if ambiguous(error):
                raise unknown_outcome(error, "the update may have been applied") from None
            raise
        except PodioConnectionError as error:
            if error.maybe_sent:
                raise unknown_outcome(error, "the update may have been applied") from None
            raise
        if not isinstance(answer, dict):  # 204: nothing changed, no new revision
            result: dict[str, Any] = {"item_id": item_id, "revision": None, "changed": False}
        else:
            result = {**answer, "item_id": item_id, "changed": True}
        new_revision = result.get("revision")
        self._tell(
            Written(
                "update",
                item_id,
                app_id,
                None if new_revision is None else int(new_revision),
                result["changed"],
            )
        )
        return result

    # ------------------------------------------------------------------ delete
    def delete_item(self, item_id: int, *, silent: bool = False, hook: bool = True) -> None:
        """Delete an item. A delete is idempotent: after an ambiguous failure it is sent
        again, and Podio's "gone" then means it was done the first time."""
        item_id = int(item_id)
        app_id = self._item_apps.get(item_id)
        params = write_options(silent=silent, hook=hook)
        attempt = 0
        while True:
            try:
                self.write("DELETE", f"/item/{item_id}", params=params)
                break
            except (Gone, NotFound):
                if attempt == 0:
                    raise
                break  # the earlier try went through
            except (PodioConnectionError, ServerError) as error:
                if attempt >= self.transport.max_retries:
                    raise unknown_outcome(error, "the item may have been deleted") from None
            self.transport.sleep(self.transport.backoff(attempt))
            attempt += 1
        self._item_apps.pop(item_id, None)
        self._tell(Written("delete", item_id, app_id))

    # ------------------------------------------------------------------ helpers
    def _with_embeds(self, encoded: dict[str, Any]) -> dict[str, Any]:
        """Link values with a new URL get Podio's embed first (after every check passed)."""
        for key, values in encoded.items():
            if isinstance(values, list) and any(isinstance(v, NewLink) for v in values):
                encoded[key] = [
                    {"embed": int(self.create_embed(v.url)["embed_id"]), "file": None}
                    if isinstance(v, NewLink)
                    else v
                    for v in values
                ]
        return encoded

    def _app_of_item(self, item_id: int) -> int:
        """The item's app: remembered, known to the observer (the cache), or asked of Podio."""
        app_id = self._item_apps.get(item_id)
        if app_id is None and self.observer is not None:
            app_id = self.observer.app_of(item_id)
        if app_id is None:
            item = self.get_item(item_id)  # remembers it
            app_id = self._item_apps.get(item_id) or int((item.get("app") or {})["app_id"])
        return int(app_id)

    def _item_apps_put(self, item_id: int, app_id: int) -> None:
        if len(self._item_apps) >= REMEMBERED_ITEMS:
            # Threads may share a client (iter_items' pages do): another one may have emptied
            # or changed the dict meanwhile; forgetting one item less is harmless.
            with contextlib.suppress(RuntimeError, StopIteration, KeyError):
                self._item_apps.pop(next(iter(self._item_apps)))
        self._item_apps[int(item_id)] = int(app_id)

    def _remember_item(self, item: Any) -> None:
        """Note an item's app from an item Podio returned (``get_item`` and friends)."""
        if isinstance(item, Mapping):
            app = item.get("app")
            if isinstance(app, Mapping) and item.get("item_id") and app.get("app_id"):
                with contextlib.suppress(TypeError, ValueError):
                    self._item_apps_put(int(item["item_id"]), int(app["app_id"]))

    def _tell(self, write: Written) -> None:
        if self.observer is None:
            return
        try:
            self.observer.written(self, write)  # type: ignore[arg-type]
        except Exception:
            # The write happened in Podio; the cache catches up with the webhook or a sync.
            logger.warning(
                "Noting a Podio %s of item %s failed", write.kind, write.item_id, exc_info=True
            )


def _external_id(value: Any) -> str:
    text = str(value)
    if not text or len(text) > MAX_EXTERNAL_ID or text != text.strip():
        raise ValueError(
            f"external_id must be 1 to {MAX_EXTERNAL_ID} characters without surrounding "
            f"spaces, not {text[:40]!r}"
        )
    return text


def answer_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A create's answer, made from the item found by its external id."""
    answer = {
        key: item[key]
        for key in ("item_id", "title", "revision", "link", "app_item_id", "external_id")
        if key in item
    }
    answer.setdefault("revision", 0)
    return answer


def external_id_path(app_id: int, external_id: str) -> str:
    return f"/item/app/{int(app_id)}/external_id/{quote(str(external_id), safe='')}"


__all__ = ["ItemWrites", "WriteObserver", "Written"]
