"""One fetch run: page through Podio, export the items, and/or keep the cache in sync."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import IO, Any

from ..api.client import PodioClient
from ..db import run_outside_callers_transaction
from ..exceptions import PodioError
from ..text import storable_text
from .cache import cached_count
from .export import FORMATS, CsvWriter, JsonLinesWriter, atomic_file, check_output_path, csv_columns
from .odd import MAX_ODD_MESSAGES, OddItem
from .sync import CacheSync, last_since
from .times import as_utc, parse_since, podio_time, since_filter

BATCH_SIZE = 500

Progress = Callable[[int, int | None], None]
Output = str | os.PathLike[str] | IO[str] | None


@dataclass(frozen=True)
class RunOptions:
    """What one pass over an app does (the runner's arguments, named)."""

    since: datetime | None = None
    output: Output = None
    fmt: str = "jsonl"
    store: bool = False
    concurrency: int = 1
    batch_size: int = BATCH_SIZE
    on_progress: Progress | None = None


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
    odd: int = 0
    odd_items: list[str] = field(default_factory=list)
    total: int | None = None
    filtered: int | None = None
    requests: int = 0
    resumed_after: int | None = None
    deletion_pass: bool = False
    output: str | None = None
    elapsed: float = 0.0
    error: str = ""
    #: The exception behind ``error`` (e.g. ``RateLimited`` with its ``wait_seconds``), so a
    #: task can re-enqueue itself after the wait; not part of :meth:`as_dict`.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.error

    def add_odd(self, message: str) -> None:
        """Count an item set aside; keep the first messages (a broken app could send many)."""
        self.odd += 1
        if len(self.odd_items) < MAX_ODD_MESSAGES:
            self.odd_items.append(storable_text(message))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, exception=None))
        del data["exception"]
        return {**data, "ok": self.ok}


def fetch_items(
    client: PodioClient,
    app_id: int,
    *,
    since: datetime | str | None = None,
    output: Output = None,
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
    batch committed so far and the next ``store`` run resumes there. Odd items are counted in
    ``report.odd`` (messages in ``report.odd_items``) and the run goes on without them.

    With ``store``, raises :class:`~django_podio.exceptions.SyncAlreadyRunning` when another
    sync of the app holds its lease (one sync per app, whichever host runs it).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if output is None and not store:
        raise ValueError("nothing to do: give an output, store=True, or both")
    if isinstance(output, (str, os.PathLike)):
        check_output_path(output)
    if since == "last":
        if not store:
            raise ValueError('since="last" needs store=True (it reads the cache\'s checkpoint)')
        since = last_since(app_id)
    elif isinstance(since, str):
        since = parse_since(since)
    elif since is not None:
        since = as_utc(since)
    options = RunOptions(
        since=since,
        output=output,
        fmt=fmt,
        store=store,
        concurrency=concurrency,
        batch_size=batch_size,
        on_progress=on_progress,
    )
    if store:
        # The cache mirrors Podio, not the caller's unit of work: inside the caller's
        # transaction the run uses a connection of its own (and holds no lock of the caller's
        # across Podio's answers).
        return run_outside_callers_transaction(lambda: _fetch(client, app_id, options))
    return _fetch(client, app_id, options)


def _fetch(client: PodioClient, app_id: int, options: RunOptions) -> FetchReport:
    since, store = options.since, options.store
    report = FetchReport(app_id=app_id)
    started = time.monotonic()
    try:
        _run(client, app_id, options, report)
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
            _run(
                client,
                app_id,
                replace(options, since=None, output=None, on_progress=None),
                full,
            )
            report.deletion_pass = True
            report.deleted += full.deleted
            report.created += full.created
            report.updated += full.updated
            report.requests += full.requests
    except PodioError as error:
        report.error = storable_text(str(error))  # stored by task backends (a task's result)
        report.exception = error
    finally:
        report.elapsed = time.monotonic() - started
    return report


def _run(client: PodioClient, app_id: int, options: RunOptions, report: FetchReport) -> None:
    since, output = options.since, options.output
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
        if stream is not None and options.fmt == "csv":
            report.requests += 1
            writer = CsvWriter(stream, csv_columns(client.get(f"/app/{int(app_id)}")))
        elif stream is not None:
            writer = JsonLinesWriter(stream)

        sync = CacheSync(app_id, since, resume=writer is None) if options.store else None
        if sync:
            stack.callback(sync.close)
        after = sync.resumed_after if sync else None
        report.resumed_after = after
        base = sync.count if sync and after is not None else 0
        items = client.iter_items(
            app_id,
            filters=since_filter(since),
            concurrency=options.concurrency,
            after_item_id=after,
            start_offset=max(0, base - 1) if after is not None else 0,
        )
        batch: list[Any] = []
        counted_odd: set[int] = set()
        try:
            while True:
                try:
                    item = next(items)
                except StopIteration:
                    break
                except Exception:
                    # The next page was refused (a 420 once the budget is spent, a 502):
                    # the items fetched so far run on from the checkpoint in item_id order,
                    # so they are kept. A resumed run's pages overlap by one item and never
                    # fill a batch: dropping them would fetch the same page forever when
                    # Podio allows one page per rate-limit window.
                    if sync and batch:
                        sync.store(batch, report, counted_odd=frozenset(counted_odd))
                    raise
                report.fetched += 1
                if writer is not None:
                    try:
                        writer.write(item)
                        report.written += 1
                    except OddItem as odd:
                        report.add_odd(str(odd))
                        counted_odd.add(id(item))
                batch.append(item)
                if len(batch) >= options.batch_size:
                    if sync:
                        sync.store(batch, report, counted_odd=frozenset(counted_odd))
                    batch = []
                    counted_odd.clear()
                    report.total, report.filtered = items.total, items.filtered
                    if options.on_progress:
                        options.on_progress(base + report.fetched, items.filtered)
            if sync:
                sync.store(batch, report, counted_odd=frozenset(counted_odd))
                sync.finish(report)
        finally:
            items.close()
            report.requests += items.pages
            report.total, report.filtered = items.total, items.filtered
        if options.on_progress:
            options.on_progress(base + report.fetched, items.filtered)
