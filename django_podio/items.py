"""The item service: fetch an app's items, export them, and keep the ``PodioItem`` cache in sync.

* :func:`fetch_items` — one run: page through Podio (``PodioClient.iter_items``), write JSON
  lines or CSV, and/or upsert into the cache. What ``podio_fetch_items`` calls.
* :func:`page_of_items` — a page of cached items, for views.

How the cache stays exact (one run per app at a time):

* **Upserts are idempotent.** A row is written only when its ``revision`` or
  ``last_event_on`` differs from Podio's, so running twice writes nothing the second time.
* **Deletions.** A full run pages in ``item_id`` order, so each batch covers a contiguous id
  range; cached rows in that range that Podio no longer returned are deleted with the batch.
  A ``--since`` run cannot see deletions, so it compares Podio's ``total`` with the cached
  row count afterwards and, when the cache holds more, runs a full pass to find them.
* **Resume.** Each batch commits together with a checkpoint (:class:`PodioItemSync`): the
  highest item id done and how many items had passed. A ``--store`` run that writes no file
  and finds an unfinished run of the same kind continues after that id instead of starting
  over (a file must hold every item, so an export always starts from the beginning).
* **Edits while paging** are picked up by the next ``--since`` run, provided its ``since``
  is before the earlier run started; ``since="last"`` does that with a safety margin.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.utils import timezone

from .api.client import PodioClient
from .exceptions import PodioError
from .models import PodioItem, PodioItemSync
from .values import as_text, item_values, parse_podio_datetime

FORMATS = ("jsonl", "csv")
# How far before the previous run's start ``since="last"`` looks: covers clock skew between
# us and Podio and edits made while that run was starting.
SINCE_MARGIN = timedelta(minutes=5)
BATCH_SIZE = 500
CSV_BASE_COLUMNS = (
    "item_id",
    "app_item_id",
    "external_id",
    "revision",
    "created_on",
    "last_event_on",
)

Progress = Callable[[int, int | None], None]


# --since ----------------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 or Podio's ``YYYY-MM-DD HH:MM:SS`` (taken as UTC).

    A bare date means its midnight, UTC.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"Cannot read {text!r} as a date and time: use ISO 8601 "
            "(2024-05-01T12:00:00Z) or 'YYYY-MM-DD HH:MM:SS' (UTC)."
        ) from None
    return as_utc(moment)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already, like Podio's own timestamps."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def podio_time(moment: datetime) -> str:
    """Podio's filter format: UTC, ``YYYY-MM-DD HH:MM:SS``, no zone suffix."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S")


def since_filter(since: datetime | None) -> dict[str, Any] | None:
    return None if since is None else {"last_edit_on": {"from": podio_time(since)}}


# Output -----------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Write to a temporary file beside ``path``; rename it into place only on success.

    An interrupted export then leaves no file that looks complete (the temporary one is
    removed; a crash may leave a ``.part`` file, which says what it is). The file is created
    readable by its owner only, since items hold business data.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".part", dir=directory
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class JsonLinesWriter:
    """One whole item per line, exactly as Podio returned it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, item: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")


def csv_columns(app: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(column, field external_id)`` pairs: the item's own columns, then one per field.

    A field whose external id clashes with an item column gets its field id appended.
    """
    columns = [(name, "") for name in CSV_BASE_COLUMNS]
    taken = set(CSV_BASE_COLUMNS)
    for f in app.get("fields") or []:
        key = f.get("external_id") or str(f.get("field_id"))
        name = key if key not in taken else f"{key}_{f.get('field_id')}"
        taken.add(name)
        columns.append((name, key))
    return columns


class CsvWriter:
    """One row per item; field cells are :func:`~django_podio.values.as_text` of the values."""

    def __init__(self, stream: IO[str], columns: Sequence[tuple[str, str]]) -> None:
        self.columns = list(columns)
        self.writer = csv.writer(stream)
        self.writer.writerow([name for name, _ in self.columns])

    def write(self, item: Mapping[str, Any]) -> None:
        values = item_values(item)
        row = []
        for name, key in self.columns:
            if key:
                row.append(as_text(values.get(key)))
            else:
                value = item.get(name)
                row.append("" if value is None else str(value))
        self.writer.writerow(row)


# The cache --------------------------------------------------------------------------------


def _row(item: Mapping[str, Any], app_id: int, now: datetime) -> PodioItem:
    return PodioItem(
        item_id=int(item["item_id"]),
        app_id=app_id,
        app_item_id=item.get("app_item_id"),
        external_id=item.get("external_id") or "",
        title=item.get("title") or "",
        revision=int(item.get("revision") or 0),
        last_event_on=parse_podio_datetime(item.get("last_event_on")),
        data=item,
        fetched_at=now,
    )


ROW_FIELDS = (
    "app_id",
    "app_item_id",
    "external_id",
    "title",
    "revision",
    "last_event_on",
    "data",
    "fetched_at",
)


@dataclass
class FetchReport:
    app_id: int
    mode: str = "full"  # "full" or "since"
    since: str | None = None
    fetched: int = 0
    written: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    total: int | None = None
    filtered: int | None = None
    requests: int = 0
    resumed_after: int | None = None
    deletion_pass: bool = False
    output: str | None = None
    elapsed: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        rate = self.fetched / self.elapsed if self.elapsed > 0 else 0.0
        parts = [f"app {self.app_id}: {self.fetched} items fetched ({self.mode}"]
        if self.since:
            parts[0] += f" since {self.since}"
        parts[0] += f") in {self.elapsed:.1f}s, {rate:.0f}/s, {self.requests} requests"
        if self.resumed_after is not None:
            parts.append(f"resumed after item {self.resumed_after}")
        if self.output:
            parts.append(f"{self.written} written to {self.output}")
        if self.created or self.updated or self.unchanged or self.deleted:
            parts.append(
                f"cache: {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.deleted} deleted"
            )
        if self.deletion_pass:
            parts.append("full pass run to find deletions")
        if self.error:
            parts.append(f"FAILED: {self.error}")
        return "; ".join(parts)


def _delete(rows: Any) -> int:
    """Delete ``rows`` if there are any: a run that changes nothing issues no write at all."""
    gone = list(rows.values_list("pk", flat=True)[:10_000])
    deleted = 0
    while gone:
        deleted += PodioItem.objects.filter(pk__in=gone).delete()[0]
        gone = list(rows.values_list("pk", flat=True)[:10_000])
    return deleted


class _CacheSync:
    """Writes batches into the cache and moves the checkpoint in the same transaction."""

    def __init__(self, app_id: int, since: datetime | None, *, resume: bool) -> None:
        self.app_id = app_id
        self.full = since is None
        self.now = timezone.now()
        with transaction.atomic():
            state, _ = PodioItemSync.objects.select_for_update().get_or_create(app_id=app_id)
            resumable = (
                resume
                and state.in_progress
                and state.run_since == since
                and state.cursor_item_id is not None
            )
            if not resumable:
                state.run_started_at = self.now
                state.run_since = since
                state.cursor_item_id = None
                state.cursor_count = 0
                state.save()
        self.state = state
        self.resumed_after = state.cursor_item_id if resumable else None
        self.cursor = state.cursor_item_id
        self.count = state.cursor_count

    def store(self, batch: Sequence[Mapping[str, Any]], report: FetchReport) -> None:
        if not batch:
            return
        ids = [int(item["item_id"]) for item in batch]
        with transaction.atomic():
            existing = {
                item_id: (revision, event)
                for item_id, revision, event in PodioItem.objects.filter(
                    item_id__in=ids
                ).values_list("item_id", "revision", "last_event_on")
            }
            changed = []
            for item in batch:
                row = _row(item, self.app_id, self.now)
                if existing.get(row.item_id) == (row.revision, row.last_event_on):
                    report.unchanged += 1
                    continue
                if row.item_id in existing:
                    report.updated += 1
                else:
                    report.created += 1
                changed.append(row)
            if changed:
                PodioItem.objects.bulk_create(
                    changed,
                    update_conflicts=True,
                    unique_fields=["item_id"],
                    update_fields=list(ROW_FIELDS),
                )
            if self.full:
                # Paging is by ascending item_id and complete, so a cached row in the range
                # this batch covers that Podio did not return is gone from Podio.
                gone = PodioItem.objects.filter(app_id=self.app_id, item_id__lte=max(ids))
                if self.cursor is not None:
                    gone = gone.filter(item_id__gt=self.cursor)
                report.deleted += _delete(gone.exclude(item_id__in=ids))
            self.cursor = max(ids)
            self.count += len(batch)
            PodioItemSync.objects.filter(pk=self.state.pk).update(
                cursor_item_id=self.cursor, cursor_count=self.count
            )

    def finish(self, report: FetchReport) -> None:
        now = timezone.now()
        with transaction.atomic():
            if self.full:
                tail = PodioItem.objects.filter(app_id=self.app_id)
                if self.cursor is not None:
                    tail = tail.filter(item_id__gt=self.cursor)
                report.deleted += _delete(tail)
            state = PodioItemSync.objects.select_for_update().get(pk=self.state.pk)
            state.last_run_started_at = state.run_started_at or self.now
            state.last_run_finished_at = now
            if self.full:
                state.last_full_run_finished_at = now
            state.run_started_at = None
            state.run_since = None
            state.cursor_item_id = None
            state.cursor_count = 0
            state.save()


def last_since(app_id: int) -> datetime | None:
    """``since`` for "everything edited since the last completed sync" (None: never synced)."""
    state = PodioItemSync.objects.filter(app_id=app_id).first()
    if state is None or state.last_run_started_at is None:
        return None
    return state.last_run_started_at - SINCE_MARGIN


def cached_count(app_id: int) -> int:
    return PodioItem.objects.filter(app_id=app_id).count()


# The run ----------------------------------------------------------------------------------


def fetch_items(
    client: PodioClient,
    app_id: int,
    *,
    since: datetime | str | None = None,
    output: str | os.PathLike[str] | IO[str] | None = None,
    fmt: str = "jsonl",
    store: bool = False,
    concurrency: int = 1,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
) -> FetchReport:
    """Fetch an app's items (all, or edited since ``since``) into a file, a stream, the cache.

    ``output`` is a path (written atomically), an open text stream, or None for no export.
    ``since`` may be a datetime, a string for :func:`parse_since`, or ``"last"`` (with
    ``store``: since the previous completed sync, minus :data:`SINCE_MARGIN`; a full run if
    there was none). Podio errors end the run with ``report.error`` set; the cache keeps every
    batch committed so far and the next ``store`` run resumes there.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if output is None and not store:
        raise ValueError("nothing to do: give an output, store=True, or both")
    if since == "last":
        if not store:
            raise ValueError('since="last" needs store=True (it reads the cache\'s checkpoint)')
        since = last_since(app_id)
    elif isinstance(since, str):
        since = parse_since(since)
    elif since is not None:
        since = as_utc(since)
    report = FetchReport(app_id=app_id)
    started = time.monotonic()
    try:
        _run(
            client, app_id, since, output, fmt, store, concurrency, batch_size, on_progress, report
        )
        stale = (
            store
            and since is not None
            and report.total is not None
            and cached_count(app_id) > report.total
        )
        if stale:
            # Podio has fewer items than the cache: some were deleted, and only a full pass
            # can tell which.
            full = FetchReport(app_id=app_id)
            _run(client, app_id, None, None, fmt, True, concurrency, batch_size, None, full)
            report.deletion_pass = True
            report.deleted += full.deleted
            report.created += full.created
            report.updated += full.updated
            report.requests += full.requests
    except PodioError as error:
        report.error = str(error)
    finally:
        report.elapsed = time.monotonic() - started
    return report


def _run(
    client: PodioClient,
    app_id: int,
    since: datetime | None,
    output: str | os.PathLike[str] | IO[str] | None,
    fmt: str,
    store: bool,
    concurrency: int,
    batch_size: int,
    on_progress: Progress | None,
    report: FetchReport,
) -> None:
    report.mode = "full" if since is None else "since"
    report.since = None if since is None else podio_time(since)
    with contextlib.ExitStack() as stack:
        stream: IO[str] | None = None
        if isinstance(output, (str, os.PathLike)):
            report.output = os.fspath(output)
            stream = stack.enter_context(atomic_file(output))
        elif output is not None:
            report.output = "stdout" if getattr(output, "name", "") == "<stdout>" else "stream"
            stream = output
        writer: JsonLinesWriter | CsvWriter | None = None
        if stream is not None and fmt == "csv":
            report.requests += 1
            writer = CsvWriter(stream, csv_columns(client.get(f"/app/{int(app_id)}")))
        elif stream is not None:
            writer = JsonLinesWriter(stream)

        sync = _CacheSync(app_id, since, resume=writer is None) if store else None
        after = sync.resumed_after if sync else None
        report.resumed_after = after
        base = sync.count if sync and after is not None else 0
        items = client.iter_items(
            app_id,
            filters=since_filter(since),
            concurrency=concurrency,
            after_item_id=after,
            start_offset=max(0, base - 1) if after is not None else 0,
        )
        batch: list[dict[str, Any]] = []
        try:
            for item in items:
                report.fetched += 1
                if writer is not None:
                    writer.write(item)
                    report.written += 1
                batch.append(item)
                if len(batch) >= batch_size:
                    if sync:
                        sync.store(batch, report)
                    batch = []
                    report.total, report.filtered = items.total, items.filtered
                    if on_progress:
                        on_progress(base + report.fetched, items.filtered)
            if sync:
                sync.store(batch, report)
                sync.finish(report)
        finally:
            items.close()
            report.requests += items.pages
            report.total, report.filtered = items.total, items.filtered
        if on_progress:
            on_progress(base + report.fetched, items.filtered)


# Reading the cache ------------------------------------------------------------------------


def page_of_items(app_id: int, page: int | str = 1, per_page: int = 25) -> Page:
    """One page of an app's cached items, newest first, for views (e.g. the demo page).

    An out-of-range or malformed page number gives the nearest valid page, as views want.
    """
    items = PodioItem.objects.filter(app_id=app_id).order_by("-item_id")
    return Paginator(items, per_page).get_page(page)


def has_cached_items(app_id: int) -> bool:
    return PodioItem.objects.filter(app_id=app_id).exists()


__all__ = [
    "FORMATS",
    "SINCE_MARGIN",
    "CsvWriter",
    "FetchReport",
    "JsonLinesWriter",
    "atomic_file",
    "csv_columns",
    "fetch_items",
    "has_cached_items",
    "last_since",
    "page_of_items",
    "parse_since",
    "podio_time",
]
