#!/usr/bin/env python
"""What a synchronous standby costs: enqueue and drain on a primary alone, then
with a streaming standby that every commit waits for (synchronous_standby_names
= '*'), then the same with the workers' claims and outcomes committed
asynchronously (QUEUE_ASYNC_COMMIT=true: enqueues still wait for the standby);
an asynchronous standby for reference. The standby's three modes alternate run
by run.

Both servers are throwaway clusters on this machine (tests/support/pgcluster.py),
so the standby is one loopback round trip and one fsync away: on two machines
the network adds its round trip to every synchronous commit. The figures use
the benchmark's own sections (scripts/bench/enqueue.py, drain.py); each is the
median of --runs runs.

    .venv/bin/python scripts/bench_replication.py                 # docs/benchmarks.md's figures
    .venv/bin/python scripts/bench_replication.py --runs 1 --tasks 2000   # a quick look
"""

import argparse
import os
import statistics
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per drain and per bulk enqueue")
    parser.add_argument("--single", type=int, default=2_000, help="tasks enqueued one per transaction")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    warnings.filterwarnings("ignore", message="No directory at")

    from tests.support.pgcluster import ReplicaPair

    pair = ReplicaPair()
    try:
        pair.primary.create_database("bench")
        os.environ["DATABASE_URL"] = pair.primary.url("bench")
        os.environ.pop("QUEUE_EMBEDDED_PGDATA", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        none = _measure(args, args.runs)
        pair.add_standby(synchronous=False)
        # The standby's modes alternate run by run, so that load from elsewhere falls on each alike.
        runs = {name: ([], [], []) for name, _, _ in MODES}
        for _ in range(args.runs):
            for name, names, env in MODES:
                pair.primary.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
                pair.primary.execute("SELECT pg_reload_conf()")
                pair.wait_streaming(synchronous=bool(names))
                for into, value in zip(runs[name], _measure(args, 1, env), strict=True):
                    into.append(value)
        rows = [("no standby", *none)] + [(name, *map(_median, values)) for name, values in runs.items()]
    finally:
        pair.destroy()
    print(f"\n| setup | enqueue one at a time (tasks/s) | enqueue_many, 500 per call (tasks/s) | "
          f"drain, {args.processes} processes × {args.concurrency} slots (tasks/s) |")
    print("| --- | --- | --- | --- |")
    for name, single, bulk, drained in rows:
        enqueues = " | ".join("as above" if v != v else f"{v:,.0f}" for v in (single, bulk))  # NaN: not measured
        print(f"| {name} | {enqueues} | {drained:,.0f} |")


# (row, synchronous_standby_names, worker environment)
MODES = [
    ("asynchronous standby", "", None),
    ("synchronous standby", "*", None),
    ("synchronous standby, QUEUE_ASYNC_COMMIT=true", "*", {"QUEUE_ASYNC_COMMIT": "true"}),
]


def _measure(args, runs: int, env: dict | None = None) -> tuple[float, float, float]:
    """Medians of `runs` runs: single enqueues, bulk enqueues, drain (tasks/s)."""
    from scripts.bench import drain, enqueue
    from scripts.bench.database import reset

    singles, bulks, drains = [], [], []
    for _ in range(runs):
        reset()
        if not env:  # enqueues do not depend on the workers' settings
            singles.append(enqueue.single(args.single))
            bulks.append(enqueue.bulk(args.tasks, 500))
        drains.append(drain.drain(args.tasks, args.processes, args.concurrency, env).rate)
    return _median(singles), _median(bulks), _median(drains)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    main()
