"""Triggers that write the event log (tasks/models/event.py).

- Tasks: statement-level, with transition tables, grouped into one row per
  (event, queue, type, worker) holding arrays of task ids. An UPDATE logs only
  rows whose status changed, so a progress update logs nothing. When all old
  rows share one status and all new rows another (every worker statement), the
  event follows from the two statuses; otherwise old and new rows are joined
  on the primary key.
- Workers: row-level, but the WHEN clause (evaluated without calling the
  function) skips heartbeats, which do not change `state`.
- Webhook deliveries: statement-level; a delivery that reached `delivered` or
  `failed`.

Every trigger calls tasks_event_notify(), which sends NOTIFY 'taskqueue_events'
only while a web process has open event streams (see EventStream).

Separate functions and triggers from 0002's counters, so each can change alone.
"""

from django.db import migrations

FUNCTIONS = """
CREATE FUNCTION tasks_event_notify() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM tasks_eventstream WHERE expires_at > now()) THEN
        PERFORM pg_notify('taskqueue_events', '');
    END IF;
END $$;

CREATE FUNCTION tasks_task_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_event (xid, at, event, queue, type, task_ids)
    SELECT pg_current_xact_id()::text::bigint, now(), 'task.created', queue, type, array_agg(id)
    FROM new_rows GROUP BY queue, type;
    PERFORM tasks_event_notify();
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_task_event_name(old_status text, new_status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN old_status = new_status THEN NULL
        WHEN new_status = 'processing' THEN 'task.started'
        WHEN new_status = 'completed' THEN 'task.completed'
        WHEN new_status = 'failed' THEN 'task.failed'
        WHEN new_status = 'cancelled' THEN 'task.cancelled'
        WHEN new_status = 'scheduled' AND old_status = 'processing' THEN 'task.retried'
        WHEN new_status = 'pending' AND old_status IN ('failed', 'cancelled') THEN 'task.retried'
    END
$$;

CREATE FUNCTION tasks_task_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_from text; old_to text; new_from text; new_to text; uniform text;
BEGIN
    -- The worker's statements move every row from one status to one other
    -- (a claim: pending to processing; a completion: processing to completed).
    -- Then the event is known without joining old and new rows, the dearest step.
    SELECT min(status), max(status) INTO old_from, old_to FROM old_rows;
    SELECT min(status), max(status) INTO new_from, new_to FROM new_rows;
    IF old_from = old_to AND new_from = new_to THEN
        uniform := tasks_task_event_name(old_from, new_from);
        IF uniform IS NULL THEN
            RETURN NULL;  -- no status changed (progress, results, admin edits) or no event for it
        END IF;
        INSERT INTO tasks_event (xid, at, event, queue, type, worker_id, task_ids, attempts, seconds)
        SELECT pg_current_xact_id()::text::bigint, now(), uniform, n.queue, n.type, n.worker_id,
               array_agg(n.id), array_agg(n.attempt),
               CASE uniform
                   WHEN 'task.started' THEN array_agg(extract(epoch FROM n.started_at - n.run_at)::float8)
                   WHEN 'task.completed' THEN array_agg(extract(epoch FROM n.completed_at - n.started_at)::float8)
               END
        FROM new_rows n
        GROUP BY n.queue, n.type, n.worker_id;
    ELSE
        INSERT INTO tasks_event (xid, at, event, queue, type, worker_id, task_ids, attempts, seconds)
        SELECT pg_current_xact_id()::text::bigint, now(), c.event, c.queue, c.type, c.worker_id,
               array_agg(c.id), array_agg(c.attempt), array_agg(c.seconds)
        FROM (
            SELECT n.id, n.queue, n.type, n.worker_id, n.attempt,
                tasks_task_event_name(o.status, n.status) AS event,
                CASE n.status
                    WHEN 'processing' THEN extract(epoch FROM n.started_at - n.run_at)::float8
                    WHEN 'completed' THEN extract(epoch FROM n.completed_at - n.started_at)::float8
                END AS seconds
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.status <> o.status
        ) c
        WHERE c.event IS NOT NULL
        GROUP BY c.event, c.queue, c.type, c.worker_id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM tasks_event_notify();
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_worker_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_event (xid, at, event, queue, type, worker_id, task_ids, data)
    VALUES (
        pg_current_xact_id()::text::bigint, now(),
        CASE
            WHEN TG_OP = 'INSERT' THEN 'worker.started'
            WHEN NEW.state = 'running' THEN 'worker.resumed'
            ELSE 'worker.' || NEW.state
        END,
        '', '', NEW.id, '{}',
        jsonb_build_object('hostname', NEW.hostname, 'pid', NEW.pid, 'queues', NEW.queues,
                           'concurrency', NEW.concurrency, 'state', NEW.state)
    );
    PERFORM tasks_event_notify();
    RETURN NULL;
END $$;

CREATE FUNCTION tasks_delivery_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tasks_event (xid, at, event, queue, type, task_ids, attempts)
    SELECT pg_current_xact_id()::text::bigint, now(), 'webhook.' || n.status, t.queue, t.type,
           array_agg(n.task_id), array_agg(n.attempts)
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    JOIN tasks_task t ON t.id = n.task_id
    WHERE n.status <> o.status AND n.status IN ('delivered', 'failed')
    GROUP BY n.status, t.queue, t.type;
    IF FOUND THEN
        PERFORM tasks_event_notify();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_task_log_insert AFTER INSERT ON tasks_task
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_log_insert();
CREATE TRIGGER tasks_task_log_update AFTER UPDATE ON tasks_task
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_log_update();
CREATE TRIGGER tasks_worker_log_insert AFTER INSERT ON tasks_worker
    FOR EACH ROW EXECUTE FUNCTION tasks_worker_log();
CREATE TRIGGER tasks_worker_log_state AFTER UPDATE OF state ON tasks_worker
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION tasks_worker_log();
CREATE TRIGGER tasks_delivery_log AFTER UPDATE ON tasks_webhookdelivery
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_delivery_log();
"""

DROP_FUNCTIONS = """
DROP TRIGGER IF EXISTS tasks_task_log_insert ON tasks_task;
DROP TRIGGER IF EXISTS tasks_task_log_update ON tasks_task;
DROP TRIGGER IF EXISTS tasks_worker_log_insert ON tasks_worker;
DROP TRIGGER IF EXISTS tasks_worker_log_state ON tasks_worker;
DROP TRIGGER IF EXISTS tasks_delivery_log ON tasks_webhookdelivery;
DROP FUNCTION IF EXISTS tasks_task_log_insert();
DROP FUNCTION IF EXISTS tasks_task_log_update();
DROP FUNCTION IF EXISTS tasks_worker_log();
DROP FUNCTION IF EXISTS tasks_delivery_log();
DROP FUNCTION IF EXISTS tasks_event_notify();
DROP FUNCTION IF EXISTS tasks_task_event_name(text, text);
"""

# Insert-mostly and pruned in bulk by age: vacuum it like the delta table.
STORAGE = """
ALTER TABLE tasks_event SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000);
"""
RESET_STORAGE = "ALTER TABLE tasks_event RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold);"


class Migration(migrations.Migration):
    dependencies = [("tasks", "0005_events_metrics")]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        migrations.RunSQL(STORAGE, RESET_STORAGE),
    ]
