"""Django's PostgreSQL backend for a test run through PgBouncer (``pgbouncer://`` URLs).

Only the test database's creation and removal differ. PgBouncer keeps its server sessions on
the test database open in its pool after the suite's own connections close, and PostgreSQL
refuses a plain ``DROP DATABASE`` while any session is connected: the old test database is
dropped ``WITH (FORCE)`` (PostgreSQL 13+), which ends those pooled sessions. Every query of a
test goes through Django's PostgreSQL backend unchanged.
"""

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper
from django.db.backends.postgresql.creation import DatabaseCreation as PostgreSQLCreation


class DatabaseCreation(PostgreSQLCreation):
    def _drop_test_db(self, test_database_name: str) -> None:
        name = self.connection.ops.quote_name(test_database_name)
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _create_test_db(self, verbosity, autoclobber, keepdb=False):
        if autoclobber and not keepdb:
            self._drop_test_db(self._get_test_db_name())
        return super()._create_test_db(verbosity, autoclobber, keepdb)

    def _destroy_test_db(self, test_database_name, verbosity):
        self.connection.close_pool()
        self._drop_test_db(test_database_name)


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    creation_class = DatabaseCreation
