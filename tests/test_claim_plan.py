"""The claim walks the partial index of pending rows, however many finished rows exist."""

import uuid

import pytest
from django.db import connection

from tasks.db import raw_cursor
from tasks.queue import claims

pytestmark = pytest.mark.django_db


def explain(sql: str, params: dict) -> str:
    cursor = raw_cursor()
    cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
    return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def crowded_table():
    """20,000 finished rows around 20 pending ones, with fresh statistics."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO tasks_task (id, type, payload, queue, priority, status, run_at, max_retries,
                retry_count, attempt, webhook, last_error, errors, progress_message,
                created_at, updated_at, completed_at)
            SELECT gen_random_uuid(), 'echo', 'null', 'default', 0,
                   CASE WHEN g <= 20 THEN 'pending' ELSE 'completed' END, now(), 3, 0, 0, '', '',
                   '[]', '', now(), now(), CASE WHEN g <= 20 THEN NULL ELSE now() END
            FROM generate_series(1, 20000) g
        """)
        cursor.execute("ANALYZE tasks_task")


@pytest.mark.parametrize("queues", [["default"], None], ids=["named-queues", "all-queues"])
def test_claim_uses_the_partial_claim_index(crowded_table, queues):
    sql = claims.CLAIM_FROM_ALL if queues is None else claims.CLAIM_FROM_QUEUES
    plan = explain(sql, {"worker": uuid.uuid4(), "limit": 10, "queues": queues or []})
    print(plan)  # shown by `pytest -s`; docs/claim-plan.md has a copy
    assert "task_claim_idx" in plan
    assert "Seq Scan on tasks_task" not in plan
    assert plan.startswith("Update on tasks_task t (actual") and "rows=10 loops=1)" in plan.splitlines()[0]
