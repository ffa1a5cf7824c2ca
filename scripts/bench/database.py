"""The benchmark's own database, so a run never touches anyone's tasks.

The server is the one in DATABASE_URL, or the embedded one (started as
`make run` would). The benchmark creates `<database>_bench` on it afresh,
migrates it, and points DATABASE_URL (inherited by the workers and the web
server it starts) at it. Call `prepare()` before Django is set up.
"""

import os

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scripts.bench.util import ROOT


def prepare() -> tuple[str, str]:
    """Create a fresh benchmark database; returns (server URL, benchmark database URL).
    The latter is also exported as DATABASE_URL."""
    from queueproject.database import resolve_url

    base = resolve_url(ROOT)
    params = conninfo_to_dict(base)
    name = f"{params.get('dbname') or 'postgres'}_bench"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(base, dbname=name)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return base, url


def reset() -> None:
    """Empty the task tables (and counters) between measurements."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tasks_task, tasks_worker, tasks_statdelta, tasks_statcount, "
                       "tasks_statminute, tasks_webhookdelivery CASCADE")
        cursor.execute("VACUUM ANALYZE tasks_task")


def drop(base: str, url: str) -> None:
    """Drop the benchmark database, connected to the database it was made beside."""
    from django.db import connections

    connections.close_all()
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
