"""Which database the running service uses, so that commands run in another
terminal can tell when they would write somewhere else (the quick start's
second terminal, issue 15 bug 11).

`manage.py serve` writes var/serving.json (SERVE_STATE_FILE) at start and
removes it at exit: its pid, address and database (host, port, name; never
the password).
"""

import json
import os
from pathlib import Path

from queueproject.database import EMBEDDED_FLAG

BASE_DIR = Path(__file__).resolve().parent.parent


def state_file() -> Path:
    return Path(os.environ.get("SERVE_STATE_FILE", BASE_DIR / "var" / "serving.json"))


def identity(database: dict) -> dict:
    """What tells two databases apart: host, port and name (of a Django connection's settings_dict)."""
    return {"host": database.get("HOST") or "", "port": str(database.get("PORT") or "5432"),
            "dbname": database.get("NAME") or ""}


def describe(database: dict) -> str:
    """Which database a connection's settings name, as a person reads it."""
    found = identity(database)
    if embedded := os.environ.get(EMBEDDED_FLAG):
        return f"the embedded PostgreSQL (data in {embedded}), database {found['dbname']}"
    return f"PostgreSQL at {found['host'] or 'local socket'}:{found['port']}, database {found['dbname']} (DATABASE_URL)"


def record(database: dict, address: str) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "address": address, "database": identity(database),
                                "description": describe(database)}))


def forget() -> None:
    path = state_file()
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running() -> dict | None:
    """The running service's record, or None (no file, or its process is gone)."""
    try:
        found = json.loads(state_file().read_text())
        os.kill(int(found["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found


def mismatch(database: dict) -> str | None:
    """A sentence when a running service uses another database than `database` (a settings_dict)."""
    found = running()
    if found is None or found.get("database") == identity(database):
        return None
    return (f"The service running at {found.get('address')} (pid {found.get('pid')}) uses {found.get('description')}, "
            f"but this command uses {describe(database)}: a key written here would not work there. "
            "Give both terminals the same DATABASE_URL (or neither), or pass --any-database.")
