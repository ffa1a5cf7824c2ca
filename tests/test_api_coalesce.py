"""Concurrent readers share one reading (tasks/api/coalesce.py), and the
reading they share always starts after each of them arrived."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasks.api.coalesce import SharedRead


class Clock:
    """A reading that takes a while and returns when it started, and how many ran."""

    def __init__(self, seconds: float):
        self.seconds, self.readings, self.lock = seconds, 0, threading.Lock()

    def __call__(self) -> float:
        started = time.monotonic()
        with self.lock:
            self.readings += 1
        time.sleep(self.seconds)
        return started


def test_callers_one_after_another_each_read():
    clock = Clock(0)
    shared = SharedRead(clock)
    for _ in range(3):
        shared()
    assert clock.readings == 3


def test_concurrent_callers_share_readings_that_started_after_they_arrived():
    clock = Clock(0.05)
    shared = SharedRead(clock)

    def call(_):
        arrived = time.monotonic()
        return arrived, shared()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(64)))
    assert all(started >= arrived for arrived, started in results)
    assert clock.readings < 64 / 2  # shared, not one each


def test_a_failed_reading_fails_its_callers_and_a_caller_that_arrived_meanwhile_reads_again():
    calls = []

    def read():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.1)
            raise ConnectionError("database away")
        return "ok"

    shared = SharedRead(read)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(shared)
        time.sleep(0.02)
        second = pool.submit(shared)  # waits for the first reading, then reads again
        with pytest.raises(ConnectionError):
            first.result()
        assert second.result() == "ok"
