"""Periodic schedules: cron and zones, the firing chore with a pinned clock,
missed-tick policies, declarations, the admin and the dashboard page."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.tasks import default_task_backend

from tasks.backends import periodic as schedules
from tasks.maintenance import fire_schedules as chore
from tasks.models import MissedTicks, Schedule, Task, TaskStatus
from tests import pytasks
from tests.factories import ScheduleFactory
from tests.support import concurrency
from tests.support.database import database_url_for_tests
from tests.support.processes import wait_for

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(autouse=True)
def _declarations_synced(monkeypatch):
    """Tests that want the sync call it; the chore would otherwise sync once per process."""
    monkeypatch.setattr(chore, "_synced", True)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


@pytest.mark.parametrize("cron, zone, after, expected", [
    ("*/15 * * * *", "UTC", "2026-03-02T12:07:00", "2026-03-02T12:15:00"),
    ("@hourly", "UTC", "2026-03-02T12:00:00", "2026-03-02T13:00:00"),
    ("@daily", "UTC", "2026-03-02T12:00:00", "2026-03-03T00:00:00"),
    ("@weekly", "UTC", "2026-03-02T12:00:00", "2026-03-08T00:00:00"),
    ("@monthly", "UTC", "2026-03-02T12:00:00", "2026-04-01T00:00:00"),
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    ("0 9 * * *", "Europe/Paris", "2026-01-10T00:00:00", "2026-01-10T08:00:00"),
    ("0 9 * * *", "Europe/Paris", "2026-07-10T00:00:00", "2026-07-10T07:00:00"),
    # 02:30 does not exist in Paris on 2026-03-29 (clocks jump from 02:00 to 03:00).
    ("30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00", "2026-03-29T01:00:00"),
    ("0 9 * * 1-5", "America/New_York", "2026-03-06T15:00:00", "2026-03-09T13:00:00"),
])
def test_next_tick_reads_cron_in_the_schedules_zone(cron, zone, after, expected):
    schedule = Schedule(cron=cron, timezone=zone)
    assert schedule.next_tick(at(after)) == at(expected)


def test_latest_tick_includes_a_tick_at_now():
    schedule = Schedule(cron="*/5 * * * *", timezone="UTC")
    assert schedule.latest_tick(T0) == T0
    assert schedule.latest_tick(T0 + timedelta(minutes=4, seconds=59)) == T0
    assert schedule.latest_tick(T0 - timedelta(microseconds=1)) == T0 - timedelta(minutes=5)


@pytest.mark.django_db
@pytest.mark.parametrize("field, value, message", [
    ("cron", "* * * *", "five-field"),
    ("cron", "* * * * * *", "five-field"),
    ("cron", "61 * * * *", "five-field"),
    ("cron", "@often", "Unknown alias"),
    ("timezone", "Mars/Olympus", "Unknown time zone"),
    ("task_type", "os.system", "Unknown task type"),
    ("payload", {"args": [1]}, "do not fit"),
    ("queue", "has space", "queue name"),
    ("priority", 500, "between -100 and 100"),
])
def test_clean_names_the_bad_field(field, value, message):
    schedule = Schedule(name="s", cron="@hourly", task_type="tests.pytasks.add", payload={"args": [1, 2]})
    schedule.clean()
    setattr(schedule, field, value)
    with pytest.raises(ValidationError) as error:
        schedule.clean()
    assert list(error.value.message_dict) == [field]
    assert message in " ".join(error.value.message_dict[field])


@pytest.mark.django_db
def test_a_due_tick_is_enqueued_once_and_the_schedule_moves_on():
    schedule = ScheduleFactory(cron="*/5 * * * *", next_run_at=T0, task_type="tests.pytasks.flaky",
                               payload={"args": [1]}, queue="periodic", priority=4)
    assert chore.run_once(T0 - timedelta(seconds=1)) == 0
    assert chore.run_once(T0 + timedelta(seconds=2)) == 1
    assert chore.run_once(T0 + timedelta(seconds=3)) == 0
    task = Task.objects.get()
    assert (task.run_at, task.status, task.queue, task.priority) == (T0, TaskStatus.PENDING, "periodic", 4)
    assert task.unique_key == f"schedule:{schedule.pk}:{T0.isoformat()}"
    assert (task.max_retries, task.retry_backoff) == (3, 0.1)  # the @task's options
    schedule.refresh_from_db()
    assert (schedule.next_run_at, schedule.last_run_at, schedule.last_task_id) == (T0 + timedelta(minutes=5), T0, task.pk)
    assert default_task_backend.get_result(task.pk).args == [1]


@pytest.mark.django_db
def test_new_and_disabled_schedules():
    fresh = ScheduleFactory(cron="@hourly", next_run_at=None)
    off = ScheduleFactory(cron="* * * * *", next_run_at=None, enabled=False)
    assert chore.run_once(T0 + timedelta(minutes=30)) == 0
    fresh.refresh_from_db()
    off.refresh_from_db()
    assert fresh.next_run_at == T0 + timedelta(hours=1) and off.next_run_at is None
    fresh.set_enabled(False, T0)
    assert chore.run_once(T0 + timedelta(hours=5)) == 0
    # Enabled again, it counts from then: the hours it was off are not missed ticks.
    fresh.set_enabled(True, T0 + timedelta(hours=5, minutes=10))
    assert fresh.next_run_at == T0 + timedelta(hours=6)
    assert not Task.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("policy, down_for, expected_tasks", [
    # Down from 12:00 to 15:32:30: the latest tick (15:30) is 150 s old, past the 60 s grace.
    (MissedTicks.RUN_ONCE, timedelta(hours=3, minutes=32, seconds=30), 1),  # one run on recovery
    (MissedTicks.SKIP, timedelta(hours=3, minutes=32, seconds=30), 0),  # none: wait for 15:35
    # Back at 15:31: the 15:30 tick is late within the grace, so it is not missed.
    (MissedTicks.SKIP, timedelta(hours=3, minutes=31), 1),
    (MissedTicks.SKIP, timedelta(seconds=30), 1),
    (MissedTicks.RUN_ONCE, timedelta(seconds=30), 1),
])
def test_missed_ticks_follow_the_schedules_policy(policy, down_for, expected_tasks):
    schedule = ScheduleFactory(cron="*/5 * * * *", next_run_at=T0, missed=policy)
    now = T0 + down_for
    assert chore.run_once(now) == expected_tasks
    schedule.refresh_from_db()
    assert schedule.next_run_at == schedule.next_tick(now)
    if expected_tasks:
        task = Task.objects.get()
        assert task.run_at == schedule.latest_tick(now) == schedule.last_run_at
    else:
        assert not Task.objects.exists() and schedule.last_run_at is None


@pytest.mark.django_db
def test_a_tick_that_cannot_be_enqueued_is_recorded_and_skipped():
    broken = ScheduleFactory(task_type="vanished", next_run_at=T0)
    fine = ScheduleFactory(next_run_at=T0)
    assert chore.run_once(T0) == 1
    broken.refresh_from_db()
    assert "Unknown task type 'vanished'" in broken.last_error
    assert broken.next_run_at == T0 + timedelta(minutes=1)
    assert Task.objects.get().type == fine.task_type


@pytest.mark.django_db
def test_a_schedule_whose_cron_cannot_be_read_is_disabled_and_the_others_fire():
    unreadable = ScheduleFactory(cron="not a cron", next_run_at=T0)  # written around validation
    unplanned = ScheduleFactory(timezone="Nowhere/Atlantis", next_run_at=None)
    fine = ScheduleFactory(next_run_at=T0)
    assert chore.run_once(T0) == 1
    for schedule in (unreadable, unplanned):
        schedule.refresh_from_db()
        assert not schedule.enabled and schedule.last_error.startswith("Disabled: its cron")
    assert Task.objects.get().unique_key.startswith(f"schedule:{fine.pk}:")


@pytest.mark.django_db
def test_run_now_enqueues_once_while_the_first_is_active():
    schedule = ScheduleFactory(next_run_at=T0 + timedelta(hours=1))
    first = schedules.run_now(schedule, T0)
    assert schedules.run_now(schedule, T0 + timedelta(seconds=1)).pk == first.pk
    schedule.refresh_from_db()
    assert (schedule.last_task_id, schedule.next_run_at) == (first.pk, T0 + timedelta(hours=1))


@pytest.mark.django_db
def test_declarations_sync_into_the_table(settings):
    settings.TASK_SCHEDULES = {
        "nightly": {"cron": "0 3 * * *", "timezone": "Europe/Paris", "task": "tests.pytasks.describe",
                    "args": ["report"], "kwargs": {"label": "nightly"}},
        "ping": {"cron": "@hourly", "task": "echo", "payload": "ping", "queue": "ops", "missed": "skip"},
    }
    schedules.declare("from-code", cron="*/10 * * * *", task=pytasks.add, args=[1, 2])
    try:
        assert schedules.sync(T0) == 3
        nightly = Schedule.objects.get(name="nightly")
        assert nightly.declared and nightly.enabled
        assert nightly.payload == {"args": ["report"], "kwargs": {"label": "nightly"}}
        assert (nightly.queue, nightly.priority) == ("python", 7)  # the @task's own
        assert nightly.next_run_at == at("2026-03-03T02:00:00")
        assert Schedule.objects.get(name="ping").missed == MissedTicks.SKIP
        assert Schedule.objects.get(name="from-code").task_type == "tests.pytasks.add"
        assert schedules.sync(T0) == 0  # nothing changed

        # The operator disables one; a new cron in code replans it but keeps it disabled.
        Schedule.objects.get(name="nightly").set_enabled(False, T0)
        settings.TASK_SCHEDULES["nightly"]["cron"] = "0 4 * * *"
        del settings.TASK_SCHEDULES["ping"]
        assert schedules.sync(T0) == 2  # one changed, one deleted
        nightly.refresh_from_db()
        assert nightly.cron == "0 4 * * *" and not nightly.enabled and nightly.next_run_at is None
        assert not Schedule.objects.filter(name="ping").exists()
    finally:
        schedules._declared.pop("from-code")


def test_periodic_declares_a_task_and_check_reports_bad_declarations(settings):
    decorated = schedules.periodic("@daily", name="daily-add", args=[2, 2])(pytasks.add)
    try:
        assert decorated is pytasks.add
        assert schedules.declared()["daily-add"]["task"] == "tests.pytasks.add"
        with pytest.raises(TypeError, match="above @task"):
            schedules.periodic("@daily")(lambda: None)
        settings.TASK_SCHEDULES = {"bad": {"cron": "every day", "task": "echo"}, "typo": {"cron": "@daily", "tsak": "echo"}}
        errors = default_task_backend.check()
        assert [e.id for e in errors] == ["tasks.E001", "tasks.E001"]
        assert "cron" in errors[0].msg and "Unknown keys tsak" in errors[1].msg
    finally:
        schedules._declared.pop("daily-add")


@pytest.mark.slow
def test_each_tick_is_enqueued_exactly_once_by_concurrent_processes(transactional_db):
    every_minute = ScheduleFactory(cron="* * * * *", next_run_at=T0)
    every_two = ScheduleFactory(cron="*/2 * * * *", next_run_at=T0)
    clock = [T0 + timedelta(seconds=s) for s in (0.5, 20, 30, 61, 61.5, 119, 125, 180, 185, 240.2)]
    fired = concurrency.run_together(concurrency.tick_in_lockstep, [(clock,)] * 4,
                                     database_url=database_url_for_tests())
    assert len(fired) == 4 * len(clock)
    minutes = [T0 + timedelta(minutes=m) for m in range(5)]
    assert sorted(Task.objects.filter(unique_key__startswith=f"schedule:{every_minute.pk}:")
                  .values_list("run_at", flat=True)) == minutes
    assert sorted(Task.objects.filter(unique_key__startswith=f"schedule:{every_two.pk}:")
                  .values_list("run_at", flat=True)) == minutes[::2]
    assert sum(fired) == Task.objects.count() == 8


@pytest.mark.slow
def test_several_workers_fire_a_due_schedule_once_and_run_it(start_worker):
    schedule = ScheduleFactory(cron="@hourly", task_type="tests.pytasks.add", payload={"args": [20, 22]},
                               next_run_at=T0)  # long overdue: run once on recovery
    workers = [start_worker("--concurrency", "1") for _ in range(3)]
    wait_for(lambda: Task.objects.filter(status=TaskStatus.COMPLETED).exists(), timeout=30, message="the tick to run")
    schedule.refresh_from_db()
    assert schedule.next_run_at > T0 + timedelta(days=30)
    time.sleep(1.5)  # every worker's chore has run again
    task = Task.objects.get()
    assert task.result == 42 and schedule.last_task_id == task.pk
    assert all(w.proc.poll() is None for w in workers)
    assert sum(f"Schedule {schedule.name}: enqueued task" in w.output for w in workers) == 1
