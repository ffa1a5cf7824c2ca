"""What every scenario shares: its own database on the throwaway cluster, a
folder for logs, a fleet of processes, clocks, and the shape of a result."""

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from faultkit.audit import Audit, audit, read_effects, read_fates
from faultkit.cluster import Cluster
from faultkit.fleet import Fleet

TEMPLATE = "faults_template"
ACTIVE = "('scheduled', 'pending', 'processing')"


@dataclass
class Result:
    number: int
    title: str
    audit: Audit
    faults: str  # what was injected, e.g. "12 SIGKILLs"
    recovery: str  # how long the queue took to recover, in words
    figures: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # failed checks other than the audit
    # Asynchronous replication's failover may lose the last commits: counted, not failed on.
    window_loss: bool = False

    @property
    def ok(self) -> bool:
        audit_ok = self.audit.ok or (self.window_loss and not self.audit.rolled_back_ran)
        return audit_ok and not self.problems


class Lab:
    """One run of the suite: the cluster, the template database, the run folder."""

    def __init__(self, cluster: Cluster, folder: Path, short: bool) -> None:
        self.cluster = cluster
        self.folder = folder
        self.short = short
        self.fleets: list[Fleet] = []

    def scenario(self, name: str, extra_env: dict | None = None) -> tuple[str, Fleet]:
        """A fresh database (a copy of the migrated template) and a fleet bound to it."""
        url = self.cluster.create_database(name, template=TEMPLATE)
        return url, self.fleet(url, name, extra_env)

    def fleet(self, url: str, name: str, extra_env: dict | None = None) -> Fleet:
        folder = self.folder / name
        folder.mkdir()
        fleet = Fleet(url, folder, extra_env)
        self.fleets.append(fleet)
        return fleet

    def stop_everything(self) -> None:
        """Whatever a scenario left running, even one that raised."""
        for fleet in self.fleets:
            fleet.stop_all()
        self.fleets.clear()

    def audit(self, url: str, fleet: Fleet, expected: dict | None = None) -> Audit:
        fates = read_fates(sorted(fleet.folder.glob("produced*.log")))
        return audit(url, fates, read_effects(fleet.effects), expected)


# The suite's own connections carry this name, so that connection counts can leave them out.
OBSERVER = "faults-observer"


def query(url: str, sql: str, params=None) -> list:
    with psycopg.connect(url, autocommit=True, connect_timeout=5, application_name=OBSERVER) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def scalar(url: str, sql: str, params=None):
    return query(url, sql, params)[0][0]


def active(url: str) -> int:
    return scalar(url, f"SELECT count(*) FROM tasks_task WHERE status IN {ACTIVE}")


def completed(url: str) -> int:
    return scalar(url, "SELECT count(*) FROM tasks_task WHERE status = 'completed'")


def wait_until(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (psycopg.OperationalError, OSError):  # not up yet (requests' errors are OSErrors)
            pass
        time.sleep(interval)
    return False


def drain(url: str, fleet: Fleet, timeout: float) -> float:
    """Wait for producers to finish and every task to settle; returns the seconds it took."""
    start = time.monotonic()
    producers = [p for p in fleet.processes if p.name.startswith("producer")]
    wait_until(lambda: not any(p.alive() for p in producers), timeout)
    settled = wait_until(lambda: active(url) == 0, timeout - (time.monotonic() - start), interval=0.5)
    if not settled:
        raise TimeoutError(f"{active(url)} task(s) still active after {timeout:.0f} s")
    return time.monotonic() - start


def seconds(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s"
