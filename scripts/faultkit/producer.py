#!/usr/bin/env python
"""The producer of a fault scenario: enqueues tasks through the Python API and
writes down the fate of every id, so the audit can hold the queue to it.

    committed <id>    the enqueue's transaction committed: the task must run
    rolledback <id>   enqueued, then rolled back on purpose: it must never run
    refused <id>      the insert failed (database away): nothing was written
    indoubt <id>      the COMMIT itself failed: it may or may not have happened

It keeps going through database outages, backing off, until `--count` ids are
committed or in doubt.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    parser.add_argument("--rollback-every", type=int, default=0, help="roll back every Nth batch")
    parser.add_argument("--type", default="record")
    parser.add_argument("--payload", default="null", help="JSON")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--priority", type=int, default=0)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import DatabaseError, connection, transaction

    from tasks import queue

    payload = json.loads(args.payload)
    out = open(args.out, "a", buffering=1)
    done, batches = 0, 0
    while done < args.count:
        batches += 1
        size = min(args.batch, args.count - done)
        tasks = [queue.build(args.type, payload, max_retries=args.max_retries, priority=args.priority) for _ in range(size)]
        rollback = bool(args.rollback_every) and batches % args.rollback_every == 0
        try:
            transaction.set_autocommit(False)
            queue.enqueue_many(tasks)
        except DatabaseError:
            _write(out, "refused", tasks)
            _reset(connection)
            continue
        if rollback:
            transaction.rollback()
            transaction.set_autocommit(True)
            _write(out, "rolledback", tasks)
            continue
        try:
            transaction.commit()
            transaction.set_autocommit(True)
        except DatabaseError:
            _write(out, "indoubt", tasks)
            done += size
            _reset(connection)
            continue
        _write(out, "committed", tasks)
        done += size
        if args.pause:
            time.sleep(args.pause)
    out.close()


def _write(out, fate: str, tasks) -> None:
    out.write("".join(f"{fate} {task.id}\n" for task in tasks))


def _reset(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close
        pass
    time.sleep(0.2)


if __name__ == "__main__":
    main()
