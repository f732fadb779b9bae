"""Kept for tests written before :mod:`tests.databases`: use ``tests.databases.child_env``,
which knows every database the suite runs on."""

from __future__ import annotations

from .databases import child_env as child_database_env

__all__ = ["child_database_env"]
