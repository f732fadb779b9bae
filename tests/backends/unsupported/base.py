"""A third-party database backend, as far as check W006 can tell: SQLite under another vendor
name (nothing connects to it)."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper


class DatabaseWrapper(SQLiteDatabaseWrapper):
    vendor = "example"
    display_name = "Example"
