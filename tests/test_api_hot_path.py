"""The statements each hot request runs, once the process has warmed up (the
token remembered, the client's rate-limit window synchronised, the queue
limits read): the work PostgreSQL must do, and nothing else."""

import psycopg
import pytest

from tasks.models import Queue
from tests.api_helpers import post
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    """Every statement sent to PostgreSQL, through Django's cursors or psycopg's
    own (prepared statements bypass Django's query log): recorded, then run."""
    seen = []
    for method in ("execute", "copy"):
        def recording(self, query, *args, _real=getattr(psycopg.Cursor, method), **kwargs):
            seen.append(query if isinstance(query, str) else query.as_string(self))
            return _real(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, method, recording)
    return seen


@pytest.fixture
def statements(sent):
    def run(call) -> list[str]:
        call()  # warm up
        sent.clear()
        response = call()
        assert response.status_code < 300, response.content
        return [" ".join(sql.split()[:3]) for sql in sent]
    return run


def test_a_post_without_a_limit_is_one_insert(api, statements):
    assert statements(lambda: post(api, "/api/tasks", {"type": "echo"})) == ['INSERT INTO "tasks_task"']


def test_under_a_limit_a_post_also_reads_the_queues_depth(api, statements):
    Queue.objects.create(name="small", max_pending=100)
    found = statements(lambda: post(api, "/api/tasks", {"type": "echo", "queue": "small"}))
    assert len(found) == 2 and found[-1] == 'INSERT INTO "tasks_task"'
    assert len(statements(lambda: post(api, "/api/tasks", {"type": "echo", "queue": "other"}))) == 1


def test_a_bulk_post_is_one_insert(api, statements):
    body = {"tasks": [{"type": "echo", "payload": n} for n in range(50)]}
    assert [sql.split()[0] for sql in statements(lambda: post(api, "/api/tasks/bulk", body))] == ["INSERT"]


@pytest.mark.parametrize("path", ["/api/tasks/{id}", "/api/health"])
def test_a_read_by_id_and_the_health_check_are_one_statement_each(api, statements, path):
    WorkerFactory()  # a live worker: health asks what blocks the queue only when none runs
    task = post(api, "/api/tasks", {"type": "echo"}).json()
    assert len(statements(lambda: api.get(path.format(id=task["id"])))) == 1


def test_a_busy_client_is_counted_in_batches_not_per_request(api, settings, sent):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_RATE": "1000/minute"}
    task = post(api, "/api/tasks", {"type": "echo"}).json()
    sent.clear()
    for _ in range(200):
        assert api.get(f"/api/tasks/{task['id']}").status_code == 200
    counted = [sql for sql in sent if "tasks_ratewindow" in sql]
    assert 1 <= len(counted) <= 40, len(counted)  # of 200 requests of one client
    assert len(sent) - len(counted) == 200  # the reads themselves
