"""Plain SQL for the annotation loop's hot statements (`next`, submit): one text for PostgreSQL and SQLite.

Every annotator runs these every few seconds. Through the ORM, compiling the queries cost several times
the database work itself, and PostgreSQL spent as long planning each statement as running it; here the
statements are written once and, on PostgreSQL, prepared once per connection (Django leaves psycopg's
prepared statements off for the sake of poolers; these few are prepared explicitly and nothing else is).
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime


class Statements:
    """Runs statements on the default connection, inside whatever transaction is open."""

    def __init__(self, cursor, *, prepare: bool) -> None:
        self._cursor = cursor
        self._prepare = prepare

    def run(self, sql: str, params: Sequence = ()) -> None:
        # Database errors surface as django.db errors (IntegrityError, ...) whichever cursor ran them.
        with connection.wrap_database_errors:
            if self._prepare:
                self._cursor.execute(sql, params, prepare=True)
            else:
                self._cursor.execute(sql, params)

    def one(self, sql: str, params: Sequence = ()) -> tuple | None:
        self.run(sql, params)
        return self._cursor.fetchone()

    def all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        self.run(sql, params)
        return self._cursor.fetchall()


@contextmanager
def statements() -> Iterator[Statements]:
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        # Server-side binding: the placeholders reach PostgreSQL, so the statement can be prepared.
        cursor, prepare = psycopg.Cursor(connection.connection), True
    else:
        cursor, prepare = connection.cursor(), False
    try:
        yield Statements(cursor, prepare=prepare)
    finally:
        cursor.close()


@contextmanager
def single_statement_transaction() -> Iterator[None]:
    """For one statement that is a whole transaction (a server-side function): in autocommit it commits
    on its own, with no BEGIN/COMMIT round trips; inside a caller's transaction it gets a savepoint, so
    that its failure does not abort the caller's work."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def db_time(value: datetime):
    """A datetime as the database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def aware(value) -> datetime:
    """A datetime read by plain SQL: aware on PostgreSQL, naive UTC (or text) on SQLite."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def json_value(value):
    """A JSON column read by plain SQL: text on both databases (Django loads jsonb as text)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def for_update(of: str = "", *, skip_locked: bool = False) -> str:
    """A row-lock clause, or nothing on SQLite, whose IMMEDIATE transactions already serialise writers."""
    if not connection.features.has_select_for_update:
        return ""
    clause = " FOR UPDATE"
    if of:
        clause += f" OF {of}"
    return clause + (" SKIP LOCKED" if skip_locked else "")
