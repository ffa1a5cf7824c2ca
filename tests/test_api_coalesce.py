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


def test_a_caller_about_to_wait_runs_before_waiting_once_and_the_reader_does_not():
    clock, waiting = Clock(0.1), []
    shared = SharedRead(clock, lambda: waiting.append(threading.current_thread().name))
    with ThreadPoolExecutor(4, thread_name_prefix="caller") as pool:
        first = pool.submit(shared)
        time.sleep(0.03)
        others = [pool.submit(shared) for _ in range(3)]
        readers = {f.result() for f in [first, *others]}
    assert clock.readings == 2 and len(readers) == 2  # the first caller's reading, then one for the three
    assert len(waiting) == len(set(waiting)) >= 2  # each waiting caller once; the first never waited


@pytest.mark.django_db(transaction=True)
def test_waiting_readers_do_not_hold_the_connections_their_reader_needs(web_server, django_user_model):
    """Requests signed in with a session read it from the database (a pooled
    connection, held for the rest of the request), then wait for a shared
    reading; requests with a remembered token arrive without a connection, and
    one of them may take the reading. With a pool smaller than the requests in
    progress, waiters holding every connection would starve that reading until
    the pool's timeout: 503s."""
    import requests
    from django.conf import settings
    from django.test import Client
    from rest_framework.authtoken.models import Token

    server = web_server(env={"DB_POOL_MAX_SIZE": "2", "DB_POOL_TIMEOUT": "2", "WEB_THREADS": "10",
                             "QUEUE_API_RATE": ""})
    user = django_user_model.objects.create_user("reader", is_staff=True)  # a session needs a scope
    browser = Client()
    browser.force_login(user)
    cookie = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value}
    token = {"Authorization": f"Token {Token.objects.create(user=user).key}"}

    def get(n):
        kwargs = {"cookies": cookie} if n % 2 else {"headers": token}
        return requests.get(f"{server.url}/api/stats", timeout=30, **kwargs).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(get, range(400)))
    assert codes.count(200) == len(codes), {code: codes.count(code) for code in set(codes)}
