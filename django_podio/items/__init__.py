"""The item service: fetch an app's items, export them, and keep the ``PodioItem`` cache.

* :mod:`.fetch` — one run (:func:`fetch_items`): page through Podio, write JSON lines or
  CSV, and/or upsert into the cache. What ``podio_fetch_items`` calls.
* :mod:`.export` — the writers and the atomic output file.
* :mod:`.cache` — the one cache-upsert service (:func:`upsert_items`, :func:`store_item`,
  :func:`delete_item`), shared by the sync and the webhooks, and reads for views.
* :mod:`.sync` — a whole-app sync's deletions, checkpoint and resume.
* :mod:`.write` — the cache following the site's own writes (``CacheFollower``).
* :mod:`.times` — ``--since`` parsing and Podio's filter time format.
"""

from __future__ import annotations

from .cache import (
    cached_count,
    delete_item,
    has_cached_items,
    item_app_id,
    page_of_items,
    store_item,
    tombstone_of,
    upsert_items,
)
from .export import (
    CSV_BASE_COLUMNS,
    FORMATS,
    CsvWriter,
    JsonLinesWriter,
    atomic_file,
    check_output_path,
    csv_columns,
)
from .fetch import BATCH_SIZE, FetchReport, RunOptions, fetch_items
from .odd import OddItem
from .sync import defer, deferred_until, last_since
from .times import SINCE_MARGIN, as_utc, parse_since, podio_time, since_filter

__all__ = [
    "BATCH_SIZE",
    "CSV_BASE_COLUMNS",
    "FORMATS",
    "SINCE_MARGIN",
    "CsvWriter",
    "FetchReport",
    "JsonLinesWriter",
    "OddItem",
    "RunOptions",
    "as_utc",
    "atomic_file",
    "cached_count",
    "check_output_path",
    "csv_columns",
    "defer",
    "deferred_until",
    "delete_item",
    "fetch_items",
    "has_cached_items",
    "item_app_id",
    "last_since",
    "page_of_items",
    "parse_since",
    "podio_time",
    "since_filter",
    "store_item",
    "tombstone_of",
    "upsert_items",
]
