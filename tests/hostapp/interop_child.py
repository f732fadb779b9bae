"""A host process configured with a key list: ``python -m tests.hostapp.interop_child``.

django-encrypted-model-fields reads ``FIELD_ENCRYPTION_KEY`` once, when its module is
imported, so a process of its own is the honest way to run its fields under another key
configuration. The environment gives the keys (``INTEROP_KEYS``, JSON) and the parent's test
database; the child reads and writes ``Secret`` rows with both field classes and prints what it
read as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    import django
    from django.conf import settings

    settings.FIELD_ENCRYPTION_KEY = json.loads(os.environ["INTEROP_KEYS"])
    django.setup()
    from django.db import connection

    from tests.hostapp.models import Secret, swap_ciphertext

    def swap(pk: int) -> None:
        """Swap the stored ciphertext of ``ours`` and ``theirs`` (each field reads the other's)."""
        swap_ciphertext(connection, pk)

    def read(pk: int) -> dict[str, str | None]:
        row = Secret.objects.get(pk=pk)
        return {"ours": row.ours, "theirs": row.theirs}

    task = json.loads(sys.argv[1])
    result: dict[str, object] = {}
    for pk in task["read"]:  # written by the parent: each field reads its own, then the other's
        result[f"own {pk}"] = read(pk)
        swap(pk)
        result[f"swapped {pk}"] = read(pk)
    written = Secret.objects.create(name="child", ours="child-ours", theirs="child-theirs")
    result["child pk"] = written.pk
    result["child own"] = read(written.pk)
    swap(written.pk)
    result["child swapped"] = read(written.pk)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
