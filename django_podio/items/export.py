"""Writing items out: JSON lines or CSV, into a file that appears only when complete."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from ..values import as_text, item_values
from .odd import OddItem, item_label

FORMATS = ("jsonl", "csv")
CSV_BASE_COLUMNS = (
    "item_id",
    "app_item_id",
    "external_id",
    "revision",
    "created_on",
    "last_event_on",
)


def check_output_path(path: str | os.PathLike[str]) -> None:
    """Refuse an output path that cannot become a file, before any request is spent on it.

    Raises ``ValueError`` naming the problem: a directory, or a missing parent directory.
    """
    target = os.fspath(path)
    if os.path.isdir(target):
        raise ValueError(f"{target!r} is a directory: give a file name")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise ValueError(f"The directory of {target!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"Cannot write into the directory of {target!r}")


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
        try:
            line = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise OddItem(f"{item_label(item)}: cannot be written as JSON ({error})") from None
        self.stream.write(line + "\n")


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
    """One row per item; field cells are :func:`~django_podio.values.as_text` of the values.

    An item whose values cannot be read raises :class:`OddItem` and writes no row (a row with
    made-up cells would look like data).
    """

    def __init__(self, stream: IO[str], columns: Sequence[tuple[str, str]]) -> None:
        self.columns = list(columns)
        self.writer = csv.writer(stream)
        self.writer.writerow([name for name, _ in self.columns])

    def write(self, item: Mapping[str, Any]) -> None:
        if not isinstance(item, Mapping):
            raise OddItem(f"{item_label(item)}: not an object")
        try:
            values = item_values(item)
        except ValueError as error:
            raise OddItem(f"{item_label(item)}: {error}") from None
        row = []
        for name, key in self.columns:
            if key:
                row.append(as_text(values.get(key)))
            else:
                value = item.get(name)
                row.append("" if value is None else str(value))
        self.writer.writerow(row)
