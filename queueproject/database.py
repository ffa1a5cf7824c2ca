"""Choose the PostgreSQL server: the one in DATABASE_URL, or an embedded one.

Without DATABASE_URL the project starts a real PostgreSQL 16 from the `pgserver`
wheel, with its data in a git-ignored folder, so a fresh clone needs no services.
The resolved URL is exported to the environment so that child processes (web
server, workers, task slots) reuse the same server instead of starting another.
"""

import json
import os
import time
import warnings
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

# Keys of a libpq conninfo that Django keeps in its own settings rather than OPTIONS.
_DJANGO_KEYS = {"dbname": "NAME", "user": "USER", "password": "PASSWORD", "host": "HOST", "port": "PORT"}

EMBEDDED_FLAG = "QUEUE_EMBEDDED_PGDATA"

# psycopg's pool can check a connection (an empty statement: one round trip)
# each time it lends it, to catch connections PostgreSQL dropped (a restart, a
# failover). Checking on every request would add that round trip to each one;
# a connection that passed the check less than POOL_CHECK_INTERVAL seconds ago
# is lent as it is. The price: right after an outage shorter than that, a
# request may still meet a dead connection; it fails with 503 (nothing was
# written) and the pool discards the connection.
POOL_CHECK_INTERVAL = 1.0


def resolve_url(base_dir: Path) -> str:
    """Return DATABASE_URL, starting the embedded server first when it is unset."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    datadir = Path(os.environ.get("EMBEDDED_PGDATA", base_dir / ".pgdata")).resolve()
    url = _start_embedded(datadir)
    os.environ["DATABASE_URL"] = url
    os.environ[EMBEDDED_FLAG] = str(datadir)
    return url


def describe(url: str) -> str:
    """One line that says which server is in use, for start-up banners."""
    params = conninfo_to_dict(url)
    embedded = os.environ.get(EMBEDDED_FLAG)
    if embedded:
        return f"embedded PostgreSQL (pgserver), data in {embedded}"
    where = params.get("host") or "local socket"
    if params.get("port"):
        where += f":{params['port']}"
    return f"PostgreSQL at {where}, database {params.get('dbname', '?')} (DATABASE_URL)"


def django_settings(url: str) -> dict:
    """Translate a libpq URL into a Django DATABASES entry; other parameters go to OPTIONS."""
    params = conninfo_to_dict(url)
    entry = {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {}}
    for key, value in params.items():
        if key in _DJANGO_KEYS:
            entry[_DJANGO_KEYS[key]] = value
        else:
            entry["OPTIONS"][key] = value
    return entry


def check_pooled_connection(conn) -> None:
    """The pool's `check`: psycopg's own, at most once per POOL_CHECK_INTERVAL per connection."""
    now = time.monotonic()
    if now - getattr(conn, "taskqueue_checked_at", float("-inf")) < POOL_CHECK_INTERVAL:
        return
    ConnectionPool.check_connection(conn)
    conn.taskqueue_checked_at = now


def _start_embedded(datadir: Path) -> str:
    # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver copes.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    datadir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(datadir)
    # pgserver stops the server when the last process holding a handle exits.
    server = pgserver.get_server(datadir, cleanup_mode="stop")
    return server.get_uri()


def _forget_dead_handles(datadir: Path) -> None:
    """Drop pids of processes that died without detaching (SIGKILL, OOM).

    pgserver counts live handles in a JSON file and stops the server when the
    last one leaves; a dead pid left in that file would keep it running forever.
    """
    import psutil

    handles = datadir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
