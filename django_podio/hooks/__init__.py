"""Podio webhooks: register (:mod:`.register`), receive (:mod:`.receive`), process
(:mod:`.process`). Store first, process after: see ``shared/design.md``."""

from __future__ import annotations

from .owner import Orphaned, adopt, with_app_client
from .process import (
    ProcessReport,
    drain_in_process,
    process_event,
    process_item,
    process_pending,
    replay,
)
from .register import (
    DEFAULT_EVENTS,
    SyncReport,
    create_hook,
    delete_hook,
    podio_hooks,
    request_verification,
    sync_hooks,
)

__all__ = [
    "DEFAULT_EVENTS",
    "Orphaned",
    "ProcessReport",
    "SyncReport",
    "adopt",
    "create_hook",
    "delete_hook",
    "drain_in_process",
    "podio_hooks",
    "process_event",
    "process_item",
    "process_pending",
    "replay",
    "request_verification",
    "sync_hooks",
    "with_app_client",
]
