"""A batch of completions records each outcome exactly: result JSON and times."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tasks import queue
from tasks.db import raw_cursor
from tasks.jobs import Outcome
from tasks.models import Task, TaskStatus
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

RESULTS = ['{"a": [1, "x"], "b": null}', "null", '"quotes \\" and \\u00e9t\\u00e9"', "3.25", "[]"]


def test_each_outcome_of_a_batch_is_recorded_as_it_was():
    TaskFactory.create_batch(len(RESULTS))
    worker = uuid.uuid4()
    jobs = queue.claim(raw_cursor(), worker, None, len(RESULTS))
    started = 1795600000.123456
    outcomes = [Outcome(job.id, job.attempt, True, result, None, started + i, started + i + 0.5)
                for i, (job, result) in enumerate(zip(jobs, RESULTS))]
    assert queue.complete(raw_cursor(), worker, outcomes) == len(RESULTS)
    for i, (job, expected) in enumerate(zip(jobs, ["{'a': [1, 'x'], 'b': None}", "None", "'quotes \" and été'",
                                                   "3.25", "[]"])):
        task = Task.objects.get(pk=job.id)
        assert task.status == TaskStatus.COMPLETED
        assert repr(task.result) == expected
        at = datetime.fromtimestamp(started + i, UTC)
        assert abs(task.started_at - at) <= timedelta(microseconds=1)
        assert abs(task.completed_at - (at + timedelta(seconds=0.5))) <= timedelta(microseconds=1)
