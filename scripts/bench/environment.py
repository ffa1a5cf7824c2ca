"""What the numbers were measured on: machine, versions, PostgreSQL settings."""

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version

SETTINGS = (
    "server_version", "shared_buffers", "work_mem", "effective_cache_size", "max_connections",
    "synchronous_commit", "fsync", "full_page_writes", "wal_level", "max_wal_size",
    "checkpoint_timeout", "random_page_cost", "jit", "autovacuum",
)


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = int(open("/proc/meminfo").readline().split()[1])
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{memory_kb / 1024 / 1024:.0f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions() -> dict[str, str]:
    import psycopg

    found = {"Python": platform.python_version()}
    for package in ("Django", "djangorestframework", "djangorestframework-api-key", "psycopg", "granian"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # a peer's virtualenv may lack one
            found[package] = "not installed"
    found["libpq"] = str(psycopg.pq.version())
    try:
        found["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        found["wrk"] = "not installed"
    return found


def postgres() -> dict[str, str]:
    from django.db import connection

    from queueproject.database import describe

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name", [list(SETTINGS)]
        )
        rows = {name: f"{setting}{' ' + unit if unit else ''}" for name, setting, unit in cursor.fetchall()}
    rows["server"] = describe(os.environ["DATABASE_URL"])
    return rows
