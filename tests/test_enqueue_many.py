"""Bulk enqueue (one INSERT ... SELECT): the rows as a single enqueue writes them,
all or nothing, in the caller's transaction, with the counters and wake-ups of
any insert; keyed tasks answer with the task that holds their key."""

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks import queue
from tasks.models import Task, TaskStatus
from tasks.telemetry import counters
from tests.support.database import database_url_for_tests


@pytest.mark.django_db
def test_bulk_rows_equal_what_a_single_enqueue_writes():
    later = timezone.now() + timedelta(hours=1)
    options = dict(queue="mail", priority=7, max_retries=5, timeout=2.5, webhook="https://example.com/hook")
    single = queue.enqueue("echo", {"to": ["a@example.com"], "n": 1.5}, **options)
    bulk = queue.enqueue_many([
        queue.build("echo", {"to": ["a@example.com"], "n": 1.5}, **options),
        queue.build("echo", None, run_at=later, idempotency_key="k-1"),
        queue.build("echo", "text"),
    ])
    assert all(not task._state.adding for task in bulk)
    fields = [f.attname for f in Task._meta.concrete_fields if f.attname not in ("id", "created_at", "updated_at", "run_at")]
    stored_single = Task.objects.values(*fields).get(pk=single.pk)
    assert Task.objects.values(*fields).get(pk=bulk[0].pk) == stored_single
    scheduled = Task.objects.get(pk=bulk[1].pk)
    assert (scheduled.status, scheduled.run_at, scheduled.payload) == (TaskStatus.SCHEDULED, later, None)
    assert scheduled.idempotency_key == "k-1" and scheduled.errors == []
    assert Task.objects.get(pk=bulk[2].pk).payload == "text"


@pytest.mark.django_db(transaction=True)
def test_bulk_enqueue_is_all_or_nothing_and_counted():
    first = queue.enqueue("echo", 0, idempotency_key="taken")
    fresh, again = queue.enqueue_many([queue.build("echo", 1), queue.build("echo", 2, idempotency_key="taken")])
    assert again.pk == first.pk and Task.objects.get(pk=fresh.pk).payload == 1
    twin = queue.build("echo", 3)
    clash = queue.build("echo", 4)
    clash.id = twin.id
    with pytest.raises(IntegrityError):
        queue.enqueue_many([twin, clash])
    assert Task.objects.count() == 2
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue_many([queue.build("echo", i) for i in range(3)])
        raise RuntimeError("roll back")
    assert Task.objects.count() == 2
    queue.enqueue_many([queue.build("echo", i, queue="bulk") for i in range(250)])
    assert counters.counts()["bulk"] == {"pending": 250}


@pytest.mark.django_db(transaction=True)
def test_bulk_enqueue_wakes_listening_workers_once_per_queue_at_commit():
    with psycopg.connect(database_url_for_tests(), autocommit=True) as listener:
        listener.execute("LISTEN taskqueue")
        with transaction.atomic():
            queue.enqueue_many([queue.build("echo", i, queue=q) for i in range(50) for q in ("a", "b")])
            assert list(listener.notifies(timeout=0.2)) == []  # nothing before the commit
        notes = list(listener.notifies(timeout=1, stop_after=2))
    assert sorted(note.payload for note in notes) == ["a", "b"]


def test_ids_made_in_bulk_stay_in_order_and_on_the_clock():
    # UUIDv7 with a counter: thousands of ids in one millisecond keep their order
    # without running the id's clock ahead of the real one.
    before = time.time()
    ids = [queue.build("echo", None).id for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.version == 7 for i in ids[:10])
    assert before - 1 <= (ids[-1].int >> 80) / 1000 <= time.time() + 1
