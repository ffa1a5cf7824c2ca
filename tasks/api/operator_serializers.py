"""JSON of workers, queues, statistics and health, as the operators' endpoints return it."""


from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from tasks import conf, validation
from tasks.api.serializers import StrictFields
from tasks.models import Task, TaskStatus, Worker, WorkerState


class StatusCountsSerializer(serializers.Serializer):
    scheduled = serializers.IntegerField()
    pending = serializers.IntegerField()
    processing = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class WorkerSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="host:pid")
    alive = serializers.SerializerMethodField(help_text="Heartbeating within QUEUE_WORKER_TIMEOUT and not stopped.")
    heartbeat_age_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Worker
        fields = ["id", "name", "hostname", "pid", "queues", "concurrency", "state", "alive", "started_at",
                  "last_heartbeat", "heartbeat_age_seconds", "stopped_at", "processed", "failed"]
        read_only_fields = fields

    def get_alive(self, worker: Worker) -> bool:
        timeout = timedelta(seconds=conf.get("WORKER_TIMEOUT"))
        return worker.state != WorkerState.STOPPED and worker.heartbeat_age(self._now()) <= timeout

    def get_heartbeat_age_seconds(self, worker: Worker) -> float:
        return round(worker.heartbeat_age(self._now()).total_seconds(), 3)

    def _now(self) -> datetime:
        return self.context.setdefault("now", timezone.now())


class WorkerDetailSerializer(WorkerSerializer):
    running = serializers.SerializerMethodField(help_text="Ids of the tasks it holds (processing).")

    class Meta(WorkerSerializer.Meta):
        fields = [*WorkerSerializer.Meta.fields, "running"]
        read_only_fields = fields

    def get_running(self, worker: Worker) -> list[str]:
        held = Task.objects.filter(status=TaskStatus.PROCESSING, worker_id=worker.id).values_list("id", flat=True)
        return [str(task_id) for task_id in held[:1000]]


class FlowSerializer(serializers.Serializer):
    max_running = serializers.IntegerField(allow_null=True)
    running = serializers.IntegerField()
    partition_by = serializers.CharField()
    partition_max_running = serializers.IntegerField(allow_null=True)
    rate_limit = serializers.IntegerField(allow_null=True)
    partition_rate_limit = serializers.IntegerField(allow_null=True)
    rate_period = serializers.FloatField(allow_null=True)
    rate_used = serializers.IntegerField(help_text="Tasks started within the last rate_period.")
    ordered = serializers.BooleanField()
    waiting_on_limit = serializers.IntegerField(help_text="Pending tasks held back by a limit now reached.")


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    paused = serializers.BooleanField(help_text="Workers claim nothing from a paused queue.")
    max_pending = serializers.IntegerField(allow_null=True, help_text="The queue's own limit; null: the default.")
    pending_limit = serializers.IntegerField(allow_null=True, help_text="The limit in force; null: none.")
    counts = StatusCountsSerializer()
    oldest_pending_age_seconds = serializers.FloatField(allow_null=True)
    flow = FlowSerializer(allow_null=True, help_text="Flow-control limits and their use; null: none.")


class QueueLimitSerializer(StrictFields, serializers.Serializer):
    """Every field optional: PATCH changes the ones given, PUT declares the queue with them."""

    max_pending = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1,
        help_text="Most pending tasks the queue accepts; beyond it, creation answers 503. "
                  "null: QUEUE_MAX_PENDING; 0: no limit.",
    )
    # Flow control (docs/flow-control.md). null: the queue's QUEUE_LIMITS entry; 0: no limit.
    max_running = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1,
        help_text="Most tasks of the queue running at once, across every worker.")
    partition_by = serializers.RegexField(
        validation.PARTITION_PATH, required=False, max_length=200, allow_blank=True,
        help_text="Dotted payload path giving a task's partition when it has no partition_key; empty: none.")
    partition_max_running = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1, help_text="Most tasks of one partition running at once.")
    rate_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1, help_text="Most tasks started per rate_period.")
    partition_rate_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**31 - 1, help_text="Most tasks of one partition started per rate_period.")
    rate_period = serializers.FloatField(
        required=False, allow_null=True, min_value=0.001, max_value=86400 * 7, help_text="Seconds; null: 60.")
    ordered = serializers.BooleanField(required=False, help_text="Tasks sharing an ordering_key run one at a time, in order.")


class PurgedSerializer(serializers.Serializer):
    queue = serializers.CharField()
    cancelled = serializers.IntegerField()


class DeadLettersRetriedSerializer(serializers.Serializer):
    retried = serializers.IntegerField()


class DeadLettersDeletedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class ThroughputSerializer(serializers.Serializer):
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    """GET /api/stats: totals by status (`<status>_count`), workers, per-queue counts, throughput."""

    total_tasks = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    processing_count = serializers.IntegerField()
    completed_count = serializers.IntegerField()
    failed_count = serializers.IntegerField()
    scheduled_count = serializers.IntegerField()
    worker_count = serializers.IntegerField(help_text="Workers alive.")
    cancelled_count = serializers.IntegerField()
    queues = serializers.DictField(child=StatusCountsSerializer(), help_text="Counts per queue and status.")
    throughput = serializers.DictField(child=ThroughputSerializer(),
                                       help_text="Tasks finished in the last full minute and the last hour.")
    oldest_pending_age_seconds = serializers.FloatField(allow_null=True)


class ReplicaHealthSerializer(serializers.Serializer):
    database = serializers.CharField(help_text='"ok", or why the replica is unreachable.')
    lag_seconds = serializers.FloatField(allow_null=True, help_text="How far its replay is behind the primary.")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "unavailable"], help_text=(
        '"degraded": the web tier answers, but tasks wait with no live worker to run them (see problems).'))
    database = serializers.CharField(help_text='"ok" (it answers), or why it is unreachable.')
    primary = serializers.ChoiceField(choices=["writable", "read-only"], allow_null=True, help_text=(
        '"read-only": the server reached is a standby (mid-failover); null: unreachable.'))
    replica = ReplicaHealthSerializer(required=False, help_text="Only when DATABASE_REPLICA_URL is set.")
    workers = serializers.IntegerField(allow_null=True, help_text="Workers alive.")
    workers_paused = serializers.IntegerField(allow_null=True, help_text="Alive workers that are paused.")
    problems = serializers.ListField(child=serializers.CharField(), help_text="Why the status is degraded.")
    last_heartbeat_age_seconds = serializers.FloatField(
        allow_null=True, help_text="Since the most recent heartbeat of any worker; null: none ever.",
    )
