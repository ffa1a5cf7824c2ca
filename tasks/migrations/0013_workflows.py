"""Workflows and batches: the tables, the `waiting` status, and the trigger that
makes their progress in the transaction that finishes a task.

Why a trigger: every path that finishes a task (the worker's batched outcomes,
rescue of a lost worker, a cancel from the API, the dashboard or the admin)
then moves its dependents and its batch in the same transaction, with no
path forgotten. It is a row trigger whose WHEN clause looks at two columns of
the row already in hand, so tasks outside workflows and batches never call it.

Exactly once: each finished dependency decrements its dependents' `waiting_on`
in one UPDATE, which locks the row and (in READ COMMITTED) re-reads it once
the lock is held; of two transactions finishing a dependent's last two
dependencies at the same moment, the second waits for the first's commit and
sees the count it left, so exactly one of them takes it to 0 and releases it.
A failure that is not ignored cancels the dependent whatever the count, so the
order in which one statement's outcomes are seen does not matter. The batch
row is counted the same way (its lock, then `finished_at IS NULL`).
"""

import django.db.models.deletion
import django.utils.timezone
import tasks.db
from django.db import migrations, models


FUNCTIONS_SQL = """
-- Each waiting dependent of a finished task: cancelled when the task failed or
-- was cancelled and the edge is not ignore_failed; otherwise one dependency
-- fewer to wait for (`waiting_on`), and released when none is left. One UPDATE
-- per edge: its row lock queues concurrent finishers of the dependent's other
-- dependencies, and each re-reads the row (status, count) once it holds it.
CREATE FUNCTION tasks_flow_release(finished uuid, outcome text, finished_node text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    edge record;
BEGIN
    FOR edge IN
        SELECT d.task_id, d.ignore_failed FROM tasks_dependency d WHERE d.depends_on_id = finished ORDER BY d.task_id
    LOOP
        IF outcome <> 'completed' AND NOT edge.ignore_failed THEN
            UPDATE tasks_task
            SET status = 'cancelled', completed_at = now(), updated_at = now(),
                last_error = format('DependencyFailed: its dependency %s (%s) is %s, so it does not run.',
                                    coalesce(nullif(finished_node, ''), 'task'), finished, outcome)
            WHERE id = edge.task_id AND status = 'waiting';
        ELSE
            UPDATE tasks_task
            SET waiting_on = waiting_on - 1, updated_at = now(),
                status = CASE WHEN waiting_on > 1 THEN status
                              WHEN run_at > clock_timestamp() THEN 'scheduled' ELSE 'pending' END
            WHERE id = edge.task_id AND status = 'waiting';
        END IF;
    END LOOP;
END $$;

-- A workflow task retried by hand (or revived as the dependent of one): it
-- counts again what it waits for, and waits if anything is left; its dependents
-- cancelled because of it wait again (theirs follow, through the trigger); its
-- waiting dependents that had counted it as done count it again.
CREATE FUNCTION tasks_flow_revive(retried uuid, was text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks_task t
    SET waiting_on = o.open,
        status = CASE WHEN o.open > 0 THEN 'waiting'
                      WHEN t.status <> 'waiting' THEN t.status
                      WHEN t.run_at > clock_timestamp() THEN 'scheduled' ELSE 'pending' END
    FROM (SELECT count(*) AS open FROM tasks_dependency d JOIN tasks_task x ON x.id = d.depends_on_id
          WHERE d.task_id = retried
            AND NOT (x.status = 'completed' OR (x.status IN ('failed', 'cancelled') AND d.ignore_failed))) o
    WHERE t.id = retried AND t.status IN ('waiting', 'scheduled', 'pending')
      AND EXISTS (SELECT 1 FROM tasks_dependency WHERE task_id = retried);
    UPDATE tasks_task t SET status = 'waiting', completed_at = NULL, last_error = '', updated_at = now()
    FROM tasks_dependency d
    WHERE d.depends_on_id = retried AND t.id = d.task_id AND t.status = 'cancelled'
      AND t.last_error LIKE 'DependencyFailed:%';
    UPDATE tasks_task t SET waiting_on = t.waiting_on + 1, updated_at = now()
    FROM tasks_dependency d
    WHERE d.depends_on_id = retried AND t.id = d.task_id AND t.status = 'waiting'
      AND (was = 'completed' OR d.ignore_failed);
END $$;

-- A closed batch whose tasks are all finished: mark it, once (the row lock and
-- `finished_at IS NULL` make it once), release the callbacks that apply and
-- cancel the others, and log a batch.finished event.
CREATE FUNCTION tasks_batch_finish(batch uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    b tasks_batch;
    ok boolean;
    run uuid[];
BEGIN
    UPDATE tasks_batch SET finished_at = now()
    WHERE id = batch AND finished_at IS NULL AND closed AND completed + failed + cancelled >= total
    RETURNING * INTO b;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    ok := b.failed + b.cancelled = 0;
    run := array_remove(ARRAY[b.on_complete, CASE WHEN ok THEN b.on_success ELSE b.on_failure END], NULL);
    UPDATE tasks_task
    SET status = CASE WHEN run_at > clock_timestamp() THEN 'scheduled' ELSE 'pending' END, updated_at = now()
    WHERE id = ANY(run) AND status = 'waiting';
    UPDATE tasks_task
    SET status = 'cancelled', completed_at = now(), updated_at = now(),
        last_error = CASE WHEN ok THEN 'BatchFinished: every task completed, so on_failure does not run.'
                          ELSE 'BatchFinished: some tasks failed or were cancelled, so on_success does not run.' END
    WHERE id = (CASE WHEN ok THEN b.on_failure ELSE b.on_success END) AND status = 'waiting';
    INSERT INTO tasks_event (xid, at, event, queue, type, task_ids, data)
    VALUES (pg_current_xact_id()::text::bigint, now(), 'batch.finished', '', '', run,
            jsonb_build_object('batch', b.id, 'name', b.name, 'total', b.total, 'completed', b.completed,
                               'failed', b.failed, 'cancelled', b.cancelled));
END $$;

CREATE FUNCTION tasks_flow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_finished boolean := OLD.status IN ('completed', 'failed', 'cancelled');
    is_finished boolean := NEW.status IN ('completed', 'failed', 'cancelled');
BEGIN
    IF is_finished AND NOT was_finished THEN
        IF NEW.workflow_id IS NOT NULL THEN
            PERFORM tasks_flow_release(NEW.id, NEW.status, NEW.node);
        END IF;
        IF NEW.batch_id IS NOT NULL THEN
            UPDATE tasks_batch
            SET completed = completed + (NEW.status = 'completed')::int,
                failed = failed + (NEW.status = 'failed')::int,
                cancelled = cancelled + (NEW.status = 'cancelled')::int
            WHERE id = NEW.batch_id AND finished_at IS NULL;
            PERFORM tasks_batch_finish(NEW.batch_id);
        END IF;
    ELSIF was_finished AND NOT is_finished THEN
        IF NEW.workflow_id IS NOT NULL THEN
            PERFORM tasks_flow_revive(NEW.id, OLD.status);
        END IF;
        IF NEW.batch_id IS NOT NULL THEN
            UPDATE tasks_batch
            SET completed = completed - (OLD.status = 'completed')::int,
                failed = failed - (OLD.status = 'failed')::int,
                cancelled = cancelled - (OLD.status = 'cancelled')::int
            WHERE id = NEW.batch_id AND finished_at IS NULL;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_task_flow AFTER UPDATE OF status ON tasks_task
    FOR EACH ROW
    WHEN ((NEW.workflow_id IS NOT NULL OR NEW.batch_id IS NOT NULL) AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION tasks_flow();
"""

DROP_FUNCTIONS = """
DROP TRIGGER IF EXISTS tasks_task_flow ON tasks_task;
DROP FUNCTION IF EXISTS tasks_flow();
DROP FUNCTION IF EXISTS tasks_batch_finish(uuid);
DROP FUNCTION IF EXISTS tasks_flow_revive(uuid, text);
DROP FUNCTION IF EXISTS tasks_flow_release(uuid, text, text);
"""

FUNCTIONS = FUNCTIONS_SQL


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0012_queue_groups'),
    ]

    operations = [
        migrations.CreateModel(
            name='Batch',
            fields=[
                ('id', models.UUIDField(default=tasks.db.uuid7, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(blank=True, max_length=200)),
                ('closed', models.BooleanField(default=False)),
                ('total', models.IntegerField(default=0)),
                ('completed', models.IntegerField(default=0)),
                ('failed', models.IntegerField(default=0)),
                ('cancelled', models.IntegerField(default=0)),
                ('on_success', models.UUIDField(blank=True, null=True)),
                ('on_failure', models.UUIDField(blank=True, null=True)),
                ('on_complete', models.UUIDField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='Dependency',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ignore_failed', models.BooleanField(default=False)),
            ],
        ),
        migrations.CreateModel(
            name='Workflow',
            fields=[
                ('id', models.UUIDField(default=tasks.db.uuid7, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='task',
            name='task_status_valid',
        ),
        migrations.RemoveConstraint(
            model_name='task',
            name='task_unique_key_active',
        ),
        migrations.AddField(
            model_name='task',
            name='batch_id',
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='node',
            field=models.CharField(blank=True, db_default='', default='', help_text="The task's name in its workflow.", max_length=100),
        ),
        migrations.AddField(
            model_name='task',
            name='workflow_id',
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='task',
            name='status',
            field=models.CharField(choices=[('waiting', 'Waiting'), ('scheduled', 'Scheduled'), ('pending', 'Pending'), ('processing', 'Processing'), ('completed', 'Completed'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=10),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('workflow_id__isnull', False)), fields=['workflow_id'], name='task_workflow_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('batch_id__isnull', False)), fields=['batch_id'], name='task_batch_idx'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['waiting', 'scheduled', 'pending', 'processing', 'completed', 'failed', 'cancelled'])), name='task_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ('waiting', 'scheduled', 'pending', 'processing')), ('unique_key__isnull', False)), fields=('unique_key',), name='task_unique_key_active'),
        ),
        migrations.AddConstraint(
            model_name='batch',
            constraint=models.CheckConstraint(condition=models.Q(('total__gte', 0)), name='batch_total_positive'),
        ),
        migrations.AddField(
            model_name='dependency',
            name='depends_on',
            field=models.ForeignKey(on_delete=django.db.models.deletion.DB_CASCADE, related_name='dependents', to='tasks.task'),
        ),
        migrations.AddField(
            model_name='dependency',
            name='task',
            field=models.ForeignKey(on_delete=django.db.models.deletion.DB_CASCADE, related_name='dependencies', to='tasks.task'),
        ),
        migrations.AddIndex(
            model_name='dependency',
            index=models.Index(fields=['depends_on'], name='dependency_depends_on_idx'),
        ),
        migrations.AddConstraint(
            model_name='dependency',
            constraint=models.UniqueConstraint(fields=('task', 'depends_on'), name='dependency_unique'),
        ),
        migrations.AddField(
            model_name='task',
            name='waiting_on',
            field=models.IntegerField(db_default=0, default=0),
        ),
        migrations.AlterField(
            model_name='event',
            name='event',
            field=models.CharField(choices=[('task.created', 'Task created'), ('task.started', 'Task started'), ('task.completed', 'Task completed'), ('task.failed', 'Task failed'), ('task.retried', 'Task retried'), ('task.cancelled', 'Task cancelled'), ('worker.started', 'Worker started'), ('worker.paused', 'Worker paused'), ('worker.resumed', 'Worker resumed'), ('worker.stopping', 'Worker stopping'), ('worker.stopped', 'Worker stopped'), ('webhook.delivered', 'Webhook delivered'), ('webhook.failed', 'Webhook failed'), ('batch.finished', 'Batch finished')], max_length=40),
        ),
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
    ]
