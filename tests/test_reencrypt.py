"""``podio_reencrypt``: every encrypted column of every installed model, fenced against writers.

The host app (``tests.hostapp``) has a column of django-podio's public field and columns of
django-encrypted-model-fields' own fields. The writers racing the command are real: another
thread's transaction on its own database connection, as a token refresh in a web worker.
"""

from __future__ import annotations

import json
import random
import threading
import time
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.db import connection as db
from django.db.models import Value
from django.test import override_settings

from django_podio import fields
from django_podio.models import PodioConnection

from .factories import make_connection
from .hostapp.models import Secret

pytestmark = pytest.mark.django_db(transaction=True)
KEY_B = Fernet.generate_key().decode()


def raw(pk: int, column: str, table: str = "hostapp_secret") -> str | None:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def reencrypt(*args: str) -> dict:
    out = StringIO()
    call_command("podio_reencrypt", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def under_b(ciphertext: str) -> str:
    """The plaintext, read with the new key alone (raises when it is not under it)."""
    return Fernet(KEY_B).decrypt(ciphertext.encode()).decode()


def test_host_columns_of_our_field_are_reencrypted_theirs_on_request():
    row = Secret.objects.create(
        name="host", ours="host-ours", theirs="host-theirs", theirs_char="forty-two"
    )
    make_connection(access="conn-access", refresh="conn-refresh")
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, settings.FIELD_ENCRYPTION_KEY]):
        dry = reencrypt("--dry-run")
        assert dry["models"]["hostapp.Secret"]["reencrypted"] == 1  # ours only
        assert dry["reencrypted"] == 3 and fields.key_index(raw(row.pk, "ours")) == 1

        report = reencrypt()
        assert report["reencrypted"] == 3 and report["ok"]
        assert under_b(raw(row.pk, "ours")) == "host-ours"
        # django-encrypted-model-fields' columns are left alone unless asked for.
        assert fields.key_index(raw(row.pk, "theirs")) == 1

        assert reencrypt("--include-encrypted-model-fields", "--dry-run")["reencrypted"] == 2
        report = reencrypt("--include-encrypted-model-fields")
        assert report["models"]["hostapp.Secret"] == {
            "current": 1,
            "reencrypted": 2,
            "undecryptable": 0,
            "stale": 2,
        }
    assert under_b(raw(row.pk, "theirs")) == "host-theirs"
    assert under_b(raw(row.pk, "theirs_char")) == "forty-two"
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        assert Secret.objects.only("ours").get(pk=row.pk).ours == "host-ours"
        assert PodioConnection.objects.get().refresh_token == "conn-refresh"


def test_text_summary_names_each_model_at_verbosity_two():
    Secret.objects.create(ours="x")
    out = StringIO()
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, settings.FIELD_ENCRYPTION_KEY]):
        call_command("podio_reencrypt", "-v2", stdout=out)
    assert "hostapp.Secret: 0 current, 1 re-encrypted, 0 undecryptable" in out.getvalue()
    assert "0 values already current, 1 re-encrypted, 0 undecryptable" in out.getvalue()


def wait_until_blocked(seconds: float = 30) -> None:
    """Until another connection waits for a row lock we hold (PostgreSQL), or a while (SQLite,
    which cannot show it: the command then sits in its busy timeout)."""
    if db.vendor != "postgresql":
        time.sleep(3)  # the command reads three rows, then waits for SQLite's write lock
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the command never waited for the writer's row lock")


def run_in_thread(target, results: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target())
        except Exception as error:  # reported to the test
            results.append(error)
        finally:
            close_old_connections()
            db.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_write_committed_between_read_and_write_is_kept_and_the_row_read_again():
    """The command read the old ciphertext; a refresh commits a newer token before the
    command's UPDATE: the fence matches nothing, the row is read again, the new token stays."""
    rows = [Secret.objects.create(name=str(n), ours=f"old-{n}") for n in range(3)]
    racing = rows[1]
    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, settings.FIELD_ENCRYPTION_KEY]):
        results: list = []
        with transaction.atomic():
            Secret.objects.filter(pk=racing.pk).update(ours=Value("refreshed"))  # under B
            written = raw(racing.pk, "ours")
            thread = run_in_thread(reencrypt, results)
            wait_until_blocked()
        thread.join(timeout=60)
        [report] = results
        assert not isinstance(report, Exception), report
    assert raw(racing.pk, "ours") == written  # the writer's ciphertext, untouched
    assert under_b(written) == "refreshed"
    assert report["retried"] >= 1 and report["ok"], report
    assert [under_b(raw(r.pk, "ours")) for r in (rows[0], rows[2])] == ["old-0", "old-2"]


def test_a_writer_hammering_rows_loses_no_write():
    """A real writer thread updates random rows as fast as it can while the command runs:
    every row ends with the last value written to it, under the new key."""
    count = 200
    rows = [Secret(name=str(n), ours=f"initial-{n}") for n in range(count)]
    pks = [row.pk for row in Secret.objects.bulk_create(rows)]
    last = {pk: f"initial-{n}" for n, pk in enumerate(pks)}
    stop = threading.Event()

    def writer() -> int:
        writes, rng = 0, random.Random(7)
        while not stop.is_set():
            pk = rng.choice(pks)
            value = f"write-{writes}"
            Secret.objects.filter(pk=pk).update(ours=Value(value))
            last[pk] = value
            writes += 1
        return writes

    with override_settings(FIELD_ENCRYPTION_KEY=[KEY_B, settings.FIELD_ENCRYPTION_KEY]):
        writer_results: list = []
        thread = run_in_thread(writer, writer_results)
        try:
            report = reencrypt()  # chunks of 500: one chunk, so this runs while the writer does
            for _ in range(2):
                report_again = reencrypt()
        finally:
            stop.set()
            thread.join(timeout=60)
        [writes] = writer_results
        assert not isinstance(writes, Exception), writes
    assert report["ok"] and report_again["reencrypted"] == 0, (report, report_again)
    assert writes > 0
    stored = {pk: under_b(raw(pk, "ours")) for pk in pks}
    assert stored == last
