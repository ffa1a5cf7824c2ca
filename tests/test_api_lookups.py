"""The prepared reads of the API (tasks/api/lookups.py) give what the ORM gives,
and the task serializer's shortcut (Task.as_json) gives what DRF's fields give."""

from datetime import timedelta

import pytest
from django.db.models import Count, Max, Q
from django.utils import timezone
from rest_framework import serializers

from tasks.api import lookups
from tasks.api.serializers import TaskSerializer
from tasks.models import Task, TaskStatus, Worker, WorkerState
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db


def everything_set() -> Task:
    worker = WorkerFactory()
    now = timezone.now()
    return TaskFactory(
        payload={"to": ["a@example.com"], "n": 1.5, "deep": [{"x": None}]}, status=TaskStatus.FAILED, priority=-7,
        queue="mail", max_retries=2, retry_count=2, attempt=3, timeout=2.5, retry_backoff=1.0,
        webhook="https://example.com/hook", result={"ok": False}, last_error="RuntimeError: no",
        errors=[{"attempt": 1, "message": "no"}], progress=0.25, progress_message="a quarter",
        worker_id=worker.id, started_at=now - timedelta(seconds=3), completed_at=now, idempotency_key="key-1",
    )


def fields_of(task: Task) -> dict:
    return {field.attname: getattr(task, field.attname) for field in Task._meta.concrete_fields}


def test_a_task_read_by_id_is_the_task_the_orm_reads():
    task = everything_set()
    for pk in (task.pk, str(task.pk), str(task.pk).upper()):
        found = lookups.task_by_id(pk)
        assert fields_of(found) == fields_of(Task.objects.get(pk=task.pk))
        assert found._state.adding is False and found._state.db == "default"  # saves update, as the ORM's would


@pytest.mark.parametrize("pk", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000", "1" * 40])
def test_no_task_for_ids_that_are_unknown_or_not_ids(pk):
    TaskFactory()
    assert lookups.task_by_id(pk) is None


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris"])
def test_the_serializer_shortcut_writes_what_drfs_fields_write(settings, time_zone):
    settings.TIME_ZONE = time_zone
    for task in (everything_set(), TaskFactory(payload=None)):
        drf = serializers.ModelSerializer.to_representation(TaskSerializer(), task)
        assert TaskSerializer(task).data == drf


def test_health_counts_the_workers_the_orm_counts(settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "WORKER_TIMEOUT": 20}
    now = timezone.now()
    stale = now - timedelta(seconds=21)
    for state, beat in [(WorkerState.RUNNING, now), (WorkerState.PAUSED, now), (WorkerState.PAUSED, stale),
                        (WorkerState.STOPPED, now), (WorkerState.RUNNING, stale), (WorkerState.STOPPING, now)]:
        WorkerFactory(state=state, last_heartbeat=beat)
    orm = Worker.objects.alive(now).aggregate(alive=Count("pk"), paused=Count("pk", filter=Q(state=WorkerState.PAUSED)))
    assert lookups.worker_health(now) == (orm["alive"], orm["paused"], Worker.objects.aggregate(m=Max("last_heartbeat"))["m"],
                                          True)
    assert lookups.worker_health(now)[:2] == (3, 1)


def test_health_with_no_worker():
    assert lookups.worker_health(timezone.now()) == (0, 0, None, True)


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_a_page_of_tasks_is_each_task_as_drfs_fields_write_it(settings, time_zone):
    settings.TIME_ZONE = time_zone
    tasks = [everything_set(), TaskFactory(payload=None)]
    drf = [serializers.ModelSerializer.to_representation(TaskSerializer(), task) for task in tasks]
    assert TaskSerializer(tasks, many=True).data == drf
