#!/usr/bin/env python
"""The fault-injection suite: kill, stop and starve the queue on real
PostgreSQL, then account for every task id.

    .venv/bin/python scripts/faults.py            # full: writes docs/reliability.md
    .venv/bin/python scripts/faults.py --short    # CI: fewer tasks, shorter faults
    .venv/bin/python scripts/faults.py --only 1,4 --report /tmp/r.md

Each scenario gets a fresh database on a throwaway PostgreSQL cluster (never
the machine's shared server, since one scenario restarts it), starts a
producer and several `manage.py worker` processes, injects its fault, waits
for the queue to settle, and audits every id (see faultkit/audit.py). Exits 1
when any task was lost, ran twice without a crash to explain it, or any other
check of a scenario failed.
"""

import argparse
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from faultkit import crashes, database, failover, flows
from faultkit.audit import Audit
from faultkit.cluster import Cluster
from faultkit.fleet import ROOT, Fleet
from faultkit.lab import TEMPLATE, Lab, Result
from faultkit.report import render

SCENARIOS = {
    1: crashes.sigkill_workers,
    2: database.restart_postgres,
    3: crashes.sigterm_under_load,
    4: crashes.poison,
    5: database.long_transaction,
    6: database.connection_budget,
    7: failover.failover_sync,
    8: failover.failover_async,
    9: flows.sigkill_during_workflows,
}


def main() -> int:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI version: fewer tasks, shorter faults")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    parser.add_argument("--report", help="write the Markdown report here (default: docs/reliability.md "
                                         "for a full run of every scenario)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running, to inspect it")
    args = parser.parse_args()
    chosen = [int(n) for n in args.only.split(",") if n] or sorted(SCENARIOS)
    report = args.report or (None if args.short or args.only else str(ROOT / "docs" / "reliability.md"))

    folder = Path(tempfile.mkdtemp(prefix="faults-run-"))
    print(f"faults: {'short' if args.short else 'full'} run of scenario(s) {chosen}; logs in {folder} "
          "(kept if anything fails)", flush=True)
    began = time.monotonic()
    cluster = Cluster()
    results: list[Result] = []
    lab = Lab(cluster, folder, args.short)
    try:
        cluster.create_database(TEMPLATE)
        Fleet(cluster.url(TEMPLATE), folder).manage("migrate", "--verbosity", "0")
        for number in chosen:
            started = time.monotonic()
            print(f"faults: scenario {number} ...", flush=True)
            try:
                result = SCENARIOS[number](lab)
            except Exception as exc:  # noqa: BLE001 - a scenario that breaks is a failed scenario
                traceback.print_exc()
                result = Result(number, SCENARIOS[number].__doc__.split("\n")[0], Audit(), "n/a", "n/a",
                                problems=[f"the scenario raised {type(exc).__name__}: {exc}"])
            finally:
                lab.stop_everything()
            result.figures["scenario wall time"] = f"{time.monotonic() - started:.0f} s"
            results.append(result)
            print(f"faults: scenario {number} {'ok' if result.ok else 'FAILED'}: {result.audit.summary()}"
                  + "".join(f"\n  problem: {p}" for p in result.problems), flush=True)
    finally:
        lab.stop_everything()
        if args.keep:
            print(f"faults: cluster kept at {cluster.url()} (data in {cluster.root})")
        else:
            cluster.destroy()
    if not args.keep and all(r.ok for r in results):
        shutil.rmtree(folder, ignore_errors=True)  # the logs matter only when something failed
    total = time.monotonic() - began
    text = render(results, short=args.short, total_seconds=total)
    if report:
        Path(report).write_text(text)
        print(f"faults: report written to {report}")
    failed = [r.number for r in results if not r.ok]
    print(f"faults: whole run {total:.0f} s")
    print(f"faults: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
