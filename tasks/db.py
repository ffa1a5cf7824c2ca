"""Direct access to the thread's Django connection for the hot-path statements."""

import psycopg
from django.db import connection


def raw_cursor() -> psycopg.Cursor:
    """A server-binding psycopg cursor on Django's connection for this thread.

    Django's own cursors bind parameters client-side, which rules out prepared
    statements; this one can prepare. It shares the connection, so it also
    shares Django's transaction state and reconnection.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def connection_lost() -> bool:
    """Whether this thread's connection failed to open or broke (server away,
    restarted, backend terminated), as opposed to a statement that failed."""
    raw = connection.connection
    return raw is None or raw.closed or raw.broken
