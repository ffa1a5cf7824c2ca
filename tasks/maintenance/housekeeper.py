"""The Housekeeper: a worker thread that runs each chore at its interval."""

import logging
import threading
import time

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from tasks import conf
from tasks.db import primary_unavailable
from tasks.maintenance import (
    fire_schedules,
    fold_events,
    fold_history,
    fold_stats,
    promote,
    prune,
    prune_events,
    repair_flows,
    rescue,
)

logger = logging.getLogger("tasks.maintenance")


def chores() -> list[tuple[str, object, float]]:
    """(name, run_once, interval in seconds) for every chore."""
    return [
        ("promote", promote.run_once, conf.get("PROMOTE_INTERVAL")),
        ("fold_stats", fold_stats.run_once, 1.0),
        ("rescue", rescue.run_once, conf.get("RESCUE_INTERVAL")),
        ("prune", prune.run_once, conf.get("PRUNE_INTERVAL")),
        ("fire_schedules", fire_schedules.run_once, 1.0),
        ("fold_events", fold_events.run_once, 1.0),
        ("fold_history", fold_history.run_once, 1.0),
        ("prune_events", prune_events.run_once, conf.get("PRUNE_INTERVAL")),
        ("repair_flows", repair_flows.run_once, 60.0),
    ]


class Housekeeper(threading.Thread):
    """Runs each chore at its interval on its own connection until stopped."""

    def __init__(self) -> None:
        super().__init__(name="housekeeper", daemon=True)
        self.stopped = threading.Event()
        self.cut_off_at = -float("inf")  # monotonic time of the last database error

    def run(self) -> None:
        schedule = chores()
        due = {name: 0.0 for name, _, _ in schedule}
        while not self.stopped.is_set():
            for name, run_once, interval in schedule:
                if time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + interval
                if name == "rescue" and self._recently_cut_off():
                    continue
                try:
                    count = run_once(timezone.now())
                except Exception as exc:
                    if self._failed(name, exc):
                        # Every chore would fail the same way: try again in a second, not at each interval.
                        for other in due:
                            due[other] = max(due[other], self.cut_off_at + 1.0)
                        break
                    continue
                if count and name not in ("fold_stats", "fold_events", "fold_history"):
                    logger.info("Housekeeping: %s handled %s task(s)", name, count)
            self.stopped.wait(max(0.05, min(due.values()) - time.monotonic()))
        connection.close()

    def _failed(self, name: str, exc: Exception) -> bool:
        """Log a chore's failure and drop the connection; True when the database is away."""
        lost = isinstance(exc, DatabaseError) and primary_unavailable(exc)
        if lost:
            # A restart or failover: one line, not a traceback per chore.
            logger.warning("Housekeeping chore %s: database unavailable (%s); it will run again",
                           name, str(exc).strip().split("\n")[0])
            self.cut_off_at = time.monotonic()
        else:
            logger.exception("Housekeeping chore %s failed; it will run again", name)
        close_old_connections()
        connection.close()
        return lost

    def _recently_cut_off(self) -> bool:
        """Whether this worker lost the database less than a rescue threshold ago.

        Then the other workers probably lost it too (a restart, a failover, a
        network blip) and have not heartbeated since through no fault of their
        own: rescuing their tasks now would run live work twice.
        """
        return time.monotonic() - self.cut_off_at < conf.get("WORKER_TIMEOUT")

    def stop(self) -> None:
        self.stopped.set()
