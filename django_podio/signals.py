"""Signals for host projects.

``token_refreshed(sender=PodioConnection, connection)``: sent after a refresh was committed.
``reauthorization_required(sender=PodioConnection, connection, error)``: Podio refused the
refresh token (``invalid_grant``); the user must log in with Podio again.

Webhooks (sent after the cache was written and committed; a receiver's exception is logged
and does not undo or retry the processing):

``item_changed(sender=PodioHookEvent, app_id, item_id, event, item)``: an item was created or
edited and its cache row changed; ``event`` is the hook type (``"item.create"``,
``"item.update"``), ``item`` the item as refetched from Podio (never the payload).
``item_deleted(sender=PodioHookEvent, app_id, item_id)``: an item was deleted in Podio and
removed from the cache.
``hook_event(sender=PodioHookEvent, event)``: every processed delivery of any type, with its
stored :class:`~django_podio.models.PodioHookEvent` (repeated deliveries are not sent again).
``hook_event_dead(sender=PodioHookEvent, event)``: an event failed ``PODIO["HOOK_MAX_ATTEMPTS"]``
times (or for a reason no retry mends) and will not be tried again on its own
(``podio_hooks replay --dead`` does).

The site's own writes (``create_item`` …, through a client from ``get_client``) send
``item_changed`` and ``item_deleted`` with ``sender=PodioItem`` when they change the cache
row; the webhook that follows then finds the row current and sends neither again (a delete's
webhook still sends ``item_deleted``).
"""

from django.dispatch import Signal

#: ``token_refreshed(sender=PodioConnection, connection)``, after a refresh was committed.
token_refreshed = Signal()
#: ``reauthorization_required(sender=PodioConnection, connection, error)``: the user must log in
#: with Podio again.
reauthorization_required = Signal()
#: ``item_changed(sender=PodioHookEvent, app_id, item_id, event, item)``, after a webhook.
item_changed = Signal()
#: ``item_deleted(sender=PodioHookEvent, app_id, item_id)``, after a webhook.
item_deleted = Signal()
#: ``hook_event(sender=PodioHookEvent, event)``, for every processed delivery.
hook_event = Signal()
#: ``hook_event_dead(sender=PodioHookEvent, event)``: an event gave up (``dead``).
hook_event_dead = Signal()
