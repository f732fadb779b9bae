"""Give the demo's admin user (``demo-admin``) the password ``make demo`` prints.

A fresh random password on every run (scripts/demo.py makes it and passes it in
``$DEMO_ADMIN_PASSWORD``, never in argv): a fixed, published password would be a known
login on any demo that someone exposes beyond 127.0.0.1.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "demo-admin"


class Command(BaseCommand):
    help = "Create or update the demo's superuser with the password in $DEMO_ADMIN_PASSWORD."

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "")
        if len(password) < 12:
            raise CommandError("set DEMO_ADMIN_PASSWORD (12 characters or more)")
        user, _ = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"email": "demo-admin@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
