"""Concurrent requests for the same figures share one reading of them.

/api/stats reads several statements' worth of counters, the same for every
client. When many clients ask at once (dashboards, monitoring), a web process
reads once for all the requests that arrived meanwhile, instead of once each.
The reading they share always starts after each of them arrived, so nobody
gets figures older than their request: a client that enqueues a task and then
asks sees it counted, exactly as if it had read alone. Requests arriving while
a reading runs wait for it to end and share the next one.

A caller about to wait first runs `before_waiting`: the API's views give their
thread's database connection back to the pool there, or the callers waiting
for a reading could hold every pooled connection while the one taking the
reading waits for one (until the pool's timeout: 503s).
"""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    """Call `read` for the callers of this process, one reading per batch of callers."""

    def __init__(self, read: Callable[[], T], before_waiting: Callable[[], None] = lambda: None):
        self.read = read
        self.before_waiting = before_waiting
        self.changed = threading.Condition()
        self.running = False
        self.next_batch = 0  # the batch that callers arriving now join; it starts after they arrive
        self.results: dict[int, tuple[bool, object]] = {}  # batch -> (succeeded, value or exception)

    def __call__(self) -> T:
        waited = False
        with self.changed:
            batch = self.next_batch
            while batch not in self.results:
                if not self.running:
                    self.running = True
                    batch = self.next_batch  # this caller's batch, unless it waited past it
                    self.next_batch += 1  # later callers wait for the next batch
                    break
                if not waited:
                    waited = True
                    self.changed.release()  # not under the lock: others may arrive meanwhile
                    try:
                        self.before_waiting()
                    finally:
                        self.changed.acquire()
                    continue  # the reading may have ended meanwhile
                self.changed.wait()
            else:
                return self._outcome(self.results[batch])
        try:
            outcome = (True, self.read())
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the failure
            outcome = (False, exc)
        with self.changed:
            self.results = {b: r for b, r in self.results.items() if b >= batch - 1}  # older batches are served
            self.results[batch] = outcome
            self.running = False
            self.changed.notify_all()
        return self._outcome(outcome)

    @staticmethod
    def _outcome(outcome: tuple[bool, object]):
        succeeded, value = outcome
        if not succeeded:
            raise value
        return value
