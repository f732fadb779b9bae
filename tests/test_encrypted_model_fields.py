"""django-encrypted-model-fields: declared, used for its key handling, and interoperable.

django-podio's fields take the key setting, its parsing and the cipher from that package
(imported at first use, so commands that need no key run without one) and keep their own
guarantees. Values written by its ``EncryptedTextField`` and by ours read each other, with one
key and with a key list: a host can move between them without rewriting a row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection as db
from django.db.models import Value
from django.test import override_settings
from django.test.utils import isolate_apps
from encrypted_model_fields import fields as emf

from django_podio import fields
from django_podio.exceptions import DecryptionError

from .databases import child_env
from .docs.snippets import snippet
from .hostapp.models import Secret, swap_ciphertext

ROOT = Path(__file__).resolve().parent.parent
KEY_B = Fernet.generate_key().decode()


def raw(pk: int, column: str) -> str | None:
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM hostapp_secret WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def run_python(code: str, *, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_it_is_a_declared_dependency():
    declared = [r for r in requires("django-podio") or [] if "extra ==" not in r]
    assert any(r.startswith("django-encrypted-model-fields") for r in declared), declared


def test_the_fields_use_its_crypter_imported_at_first_use():
    """Importing django-podio leaves the package alone; the first secret imports it, and what
    our field writes is what its ``decrypt_str`` reads (it decrypts with its own crypter)."""
    code = (
        "import sys, django\n"
        "from django.conf import settings\n"
        f"settings.configure(FIELD_ENCRYPTION_KEY={settings.FIELD_ENCRYPTION_KEY!r},"
        " INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes',"
        " 'allauth', 'allauth.account', 'allauth.socialaccount', 'django_podio'],"
        " MIDDLEWARE=['allauth.account.middleware.AccountMiddleware'])\n"
        "django.setup()\n"
        "import django_podio.models, django_podio.fields as ours\n"
        "before = 'encrypted_model_fields.fields' in sys.modules\n"
        "token = ours.encrypt('a-secret')\n"
        "from encrypted_model_fields import fields as emf\n"
        "print(before, ours.keys().crypter is not emf.CRYPTER, emf.decrypt_str(token))\n"
    )
    assert run_python(code).split() == ["False", "True", "a-secret"]


# One key: in this process both field classes use the suite's key ------------------------------


@pytest.mark.django_db
def test_one_key_each_field_reads_what_the_other_wrote():
    row = Secret.objects.create(ours="written-by-ours", theirs="written-by-theirs")
    assert raw(row.pk, "ours").startswith("gAAAAA") and raw(row.pk, "theirs").startswith("gAAAAA")
    swap_ciphertext(db, row.pk)
    row = Secret.objects.get(pk=row.pk)
    # Its field would hand back ciphertext it cannot read: equality proves it decrypted ours.
    assert row.theirs == "written-by-ours"
    assert row.ours == "written-by-theirs"


@pytest.mark.django_db
def test_our_expression_writes_are_readable_by_its_field():
    """Our fixes (bulk_update, Value) keep the format: its field reads what they stored."""
    a = Secret.objects.create(name="a", ours="old")
    b = Secret.objects.create(name="b", ours="old")
    a.ours, b.ours = "bulk-a", "bulk-b"
    Secret.objects.bulk_update([a, b], ["ours"])
    Secret.objects.filter(pk=b.pk).update(ours=Value("via-value"))
    for row in (a, b):
        swap_ciphertext(db, row.pk)
    assert Secret.objects.get(pk=a.pk).theirs == "bulk-a"
    assert Secret.objects.get(pk=b.pk).theirs == "via-value"


@pytest.mark.django_db
def test_ours_stays_strict_where_its_field_returns_ciphertext():
    row = Secret.objects.create(ours="x", theirs="y")
    with db.cursor() as cursor:
        cursor.execute(
            "UPDATE hostapp_secret SET theirs = %s WHERE id = %s", ["not-a-token", row.pk]
        )
    assert Secret.objects.only("theirs").get(pk=row.pk).theirs == "not-a-token"  # its defect
    swap_ciphertext(db, row.pk)
    with pytest.raises(DecryptionError):
        Secret.objects.get(pk=row.pk)


@pytest.mark.django_db
def test_override_settings_still_switches_our_key_not_its_import_time_one():
    with override_settings(FIELD_ENCRYPTION_KEY=KEY_B):
        row = Secret.objects.create(ours="under-b")
    Fernet(KEY_B).decrypt(raw(row.pk, "ours").encode())  # written under B
    with pytest.raises(InvalidToken):
        emf.CRYPTER.decrypt(raw(row.pk, "ours").encode())  # its crypter kept the suite's key
    with pytest.raises(DecryptionError):
        Secret.objects.get(pk=row.pk)
    with override_settings(FIELD_ENCRYPTION_KEY=[settings.FIELD_ENCRYPTION_KEY, KEY_B]):
        assert Secret.objects.get(pk=row.pk).ours == "under-b"


# A key list: a host process configured with [new, old] from its start ------------------------


@pytest.mark.django_db(transaction=True)
def test_key_list_both_ways_with_a_host_process_on_new_and_old_keys():
    old_key = settings.FIELD_ENCRYPTION_KEY
    key_list = [KEY_B, old_key]
    before = Secret.objects.create(name="old", ours="old-ours", theirs="old-theirs")  # key A
    with override_settings(FIELD_ENCRYPTION_KEY=key_list):
        listed = Secret.objects.create(name="listed", ours="listed-ours")  # ours, under B
    env = {**child_env(), "INTEROP_KEYS": json.dumps(key_list)}
    task = json.dumps({"read": [before.pk, listed.pk]})
    result = subprocess.run(
        [sys.executable, "-m", "tests.hostapp.interop_child", task],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)

    # Its field under [B, A] reads ours under A alone and ours under [B, A], and the reverse.
    assert seen[f"own {before.pk}"] == {"ours": "old-ours", "theirs": "old-theirs"}
    assert seen[f"swapped {before.pk}"] == {"ours": "old-theirs", "theirs": "old-ours"}
    assert seen[f"own {listed.pk}"] == {"ours": "listed-ours", "theirs": None}
    assert seen[f"swapped {listed.pk}"] == {"ours": None, "theirs": "listed-ours"}
    # Both wrote under the first key of the list; each read the other's.
    assert seen["child own"] == {"ours": "child-ours", "theirs": "child-theirs"}
    assert seen["child swapped"] == {"ours": "child-theirs", "theirs": "child-ours"}
    child = seen["child pk"]
    for column in ("ours", "theirs"):
        Fernet(KEY_B).decrypt(raw(child, column).encode())
    # Here, ours reads what its field wrote under the list, with the list and with B alone.
    for keys in (key_list, KEY_B):
        with override_settings(FIELD_ENCRYPTION_KEY=keys):
            assert Secret.objects.only("ours").get(pk=child).ours == "child-theirs"
            assert fields.key_index(raw(child, "ours")) == 0


@isolate_apps("tests.hostapp")
def test_the_documented_host_model_encrypts_its_column():
    """docs/security.rst's example model, as pasted into a host app's models.py."""
    namespace = {"__name__": "tests.hostapp.models"}
    exec(snippet("security-host-field"), namespace)  # noqa: S102 - the docs' own example
    field = namespace["Integration"]._meta.get_field("api_key")
    assert isinstance(field, fields.EncryptedTextField)
    stored = field.get_db_prep_save("an-api-key", db)
    assert stored.startswith("gAAAAA") and "an-api-key" not in stored
    assert emf.decrypt_str(stored) == "an-api-key"  # its package reads it too
    assert field.from_db_value(stored, None, db) == "an-api-key"
