"""Statement-level triggers on the task table, and its storage settings.

- Counters: every INSERT, UPDATE (of status or queue) and DELETE appends one
  delta row per (queue, status) to tasks_statdelta; see tasks/models/stats.py.
- Wake-ups: rows that become pending NOTIFY 'taskqueue' with their queue name.
  NOTIFY is transactional: workers hear of a task when its enqueue commits.

Statement-level with transition tables, so a batch of 100 claims costs one
trigger call, not 100.
"""

from django.db import migrations

FUNCTIONS = """
CREATE FUNCTION tasks_task_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_statdelta (queue, status, delta, bucket)
    SELECT queue, status, count(*), date_trunc('minute', now())
    FROM new_rows GROUP BY queue, status;
    PERFORM pg_notify('taskqueue', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows WHERE status = 'pending') q;
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_task_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Old rows count -1 and new rows +1: rows whose queue and status did not
    -- change cancel out, with no join between the two transition tables.
    INSERT INTO tasks_statdelta (queue, status, delta, bucket)
    SELECT queue, status, sum(delta), date_trunc('minute', now())
    FROM (SELECT queue, status, -1 AS delta FROM old_rows
          UNION ALL
          SELECT queue, status, 1 FROM new_rows) AS changes
    GROUP BY queue, status
    HAVING sum(delta) <> 0;
    PERFORM pg_notify('taskqueue', q.queue)
    FROM (SELECT DISTINCT queue FROM new_rows WHERE status = 'pending') q;
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_task_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_statdelta (queue, status, delta, bucket)
    SELECT queue, status, -count(*), date_trunc('minute', now())
    FROM old_rows GROUP BY queue, status;
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_task_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tasks_statdelta;
    DELETE FROM tasks_statcount;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_task_after_insert AFTER INSERT ON tasks_task
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_insert();
CREATE TRIGGER tasks_task_after_update AFTER UPDATE ON tasks_task
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_update();
CREATE TRIGGER tasks_task_after_delete AFTER DELETE ON tasks_task
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_delete();
CREATE TRIGGER tasks_task_after_truncate AFTER TRUNCATE ON tasks_task
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_after_truncate();
"""

DROP_FUNCTIONS = """
DROP TRIGGER IF EXISTS tasks_task_after_insert ON tasks_task;
DROP TRIGGER IF EXISTS tasks_task_after_update ON tasks_task;
DROP TRIGGER IF EXISTS tasks_task_after_delete ON tasks_task;
DROP TRIGGER IF EXISTS tasks_task_after_truncate ON tasks_task;
DROP FUNCTION IF EXISTS tasks_task_after_insert();
DROP FUNCTION IF EXISTS tasks_task_after_update();
DROP FUNCTION IF EXISTS tasks_task_after_delete();
DROP FUNCTION IF EXISTS tasks_task_after_truncate();
"""

# Rows churn through states, so vacuum early and often; fillfactor leaves room
# for HOT updates (progress, heartbeats of results) on the same page.
STORAGE = """
ALTER TABLE tasks_task SET (
    fillfactor = 85,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);
ALTER TABLE tasks_statdelta SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000
);
"""

RESET_STORAGE = """
ALTER TABLE tasks_task RESET (fillfactor, autovacuum_vacuum_scale_factor,
    autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay);
ALTER TABLE tasks_statdelta RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);
"""


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        migrations.RunSQL(STORAGE, RESET_STORAGE),
    ]
