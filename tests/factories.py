"""factory-boy factories for the queue's models."""

import factory
from django.utils import timezone

from tasks.models import Schedule, Task, TaskStatus, Worker, WorkerState


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    type = "echo"
    payload = factory.Sequence(lambda n: {"n": n})
    queue = "default"
    priority = 0
    status = TaskStatus.PENDING
    run_at = factory.LazyFunction(timezone.now)


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Worker

    hostname = "test-host"
    pid = factory.Sequence(lambda n: 10000 + n)
    queues = factory.LazyFunction(lambda: ["*"])
    concurrency = 1
    state = WorkerState.RUNNING


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"schedule-{n}")
    cron = "* * * * *"
    task_type = "echo"
    payload = "tick"
