#!/usr/bin/env python
"""How many PostgreSQL connections one worker process holds, measured.

Starts `manage.py worker` processes against DATABASE_URL and counts, in
pg_stat_activity, the backends whose client is that worker or one of its slot
processes (matched by the client's TCP port, via psutil):

1. idle, with housekeeping (the default);
2. after every slot ran a task that uses the ORM;
3. idle, with --no-housekeeping;
4. with QUEUE_LISTEN=false.

    DATABASE_URL=postgresql://127.0.0.1:5432/mydb .venv/bin/python scripts/count_connections.py
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = int(os.environ.get("CONCURRENCY", "4"))
URL = os.environ["DATABASE_URL"]


def backends_of(pid: int) -> int:
    """Backends connected from `pid` or its children, by client port."""
    process = psutil.Process(pid)
    ports = set()
    for p in [process, *process.children(recursive=True)]:
        try:
            ports |= {c.laddr.port for c in p.net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432}
        except psutil.Error:
            pass
    with psycopg.connect(URL, autocommit=True) as conn:
        rows = conn.execute("SELECT client_port FROM pg_stat_activity WHERE datname = current_database()").fetchall()
    return sum(1 for (port,) in rows if port in ports)


def start(*args, env=None) -> subprocess.Popen:
    env = {**os.environ, "QUEUE_HANDLER_MODULES": "tests.handlers", "LOG_LEVEL": "WARNING", **(env or {})}
    proc = subprocess.Popen([sys.executable, "manage.py", "worker", "-c", str(CONCURRENCY), *args], cwd=ROOT, env=env)
    time.sleep(4)  # registered, slots forked, LISTEN and housekeeping connected
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)


def enqueue_orm_tasks(n: int, seconds: float) -> None:
    subprocess.run([sys.executable, "manage.py", "enqueue", "orm", str(seconds), "--count", str(n),
                    "--queue", "conn-count"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "QUEUE_HANDLER_MODULES": "tests.handlers"})


def main() -> None:
    print(f"worker concurrency {CONCURRENCY}")
    proc = start("--queues", "conn-count")
    print(f"idle, housekeeping on:            {backends_of(proc.pid)} connections")
    enqueue_orm_tasks(CONCURRENCY, 3)
    time.sleep(2)
    print(f"{CONCURRENCY} ORM tasks running:             {backends_of(proc.pid)} connections")
    time.sleep(3)
    print(f"after they finished (CONN_MAX_AGE): {backends_of(proc.pid)} connections")
    stop(proc)
    proc = start("--queues", "conn-count", "--no-housekeeping")
    print(f"idle, --no-housekeeping:          {backends_of(proc.pid)} connections")
    stop(proc)
    proc = start("--queues", "conn-count", env={"QUEUE_LISTEN": "false"})
    print(f"idle, QUEUE_LISTEN=false:         {backends_of(proc.pid)} connections")
    stop(proc)


if __name__ == "__main__":
    main()
