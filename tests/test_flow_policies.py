"""Flow control's pure parts: --queues with weights, the weighted order, the
rate window, and how row and settings limits combine."""

import collections
import random

import pytest

from tasks.management.arguments import parse_queues
from tasks.queue.flow import rate_window, recorded
from tasks.queue.limits import QueueLimits, merge
from tasks.worker.claimer import weighted_order


@pytest.mark.parametrize("text, expected", [
    ("a,b", (["a", "b"], None)),                       # plain names: no weights
    ("*", (["*"], None)),                              # every queue
    ("critical:6,default:3,low:1", (["critical", "default", "low"], {"critical": 6, "default": 3, "low": 1})),
    (" a : 2 , b:1 ", (["a", "b"], {"a": 2, "b": 1})),  # spaces are ignored
])
def test_parse_queues(text, expected):
    assert parse_queues(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("a:0,b:1", "at least 1"),    # a weight of 0 would starve the queue
    ("a:x", "whole number"),
    ("a:2,b", "every queue"),     # all or none
    ("*:3", "cannot take a weight"),
    (",", "at least one"),
])
def test_parse_queues_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_queues(text)


def test_weighted_order_puts_each_queue_first_in_proportion_to_its_weight():
    rng = random.Random(7)
    firsts = collections.Counter(weighted_order({"critical": 6, "default": 3, "low": 1}, rng)[0] for _ in range(10000))
    assert abs(firsts["critical"] / 10000 - 0.6) < 0.03
    assert abs(firsts["default"] / 10000 - 0.3) < 0.03
    assert abs(firsts["low"] / 10000 - 0.1) < 0.03


@pytest.mark.parametrize("log, now, expected", [
    ([], 100.0, ([], 10, None)),                                  # nothing started yet
    ([[95.0, 4]], 100.0, ([[95.0, 4]], 6, None)),                 # 4 used in the last minute
    ([[30.0, 9], [95.0, 4]], 100.0, ([[95.0, 4]], 6, None)),      # the old claim left the window
    ([[50.0, 6], [95.0, 4]], 100.0, ([[50.0, 6], [95.0, 4]], 0, 110.0)),  # full: opens when 50.0 leaves
    ([[40.0, 6]], 100.0, ([], 10, None)),                         # exactly one period ago: out
    ([[95.0, 4, 94.5]], 100.0, ([[95.0, 4, 94.5]], 6, None)),     # a joined entry counts the same
])
def test_rate_window(log, now, expected):
    assert rate_window(log, now, rate=10, period=60.0) == expected


@pytest.mark.parametrize("log, now, expected", [
    ([], 100.0, [[100.0, 3]]),                        # the first claim
    ([[50.0, 2]], 100.0, [[50.0, 2], [100.0, 3]]),    # far apart: its own entry
    ([[99.7, 2]], 100.0, [[100.0, 5, 99.7]]),         # within period/100: joins it, at the later time
    ([[100.0, 5, 99.7]], 100.2, [[100.2, 8, 99.7]]),  # still within period/100 of the entry's first claim
    ([[100.2, 8, 99.7]], 100.4, [[100.2, 8, 99.7], [100.4, 3]]),  # not chained on: its own entry
])
def test_recorded(log, now, expected):
    assert recorded(log, now, 3, period=60.0) == expected


@pytest.mark.parametrize("row, configured, expected", [
    (None, {"max_running": 5}, QueueLimits("q", max_running=5)),                  # settings alone
    ({"max_running": 2}, {"max_running": 5}, QueueLimits("q", max_running=2)),    # the row wins
    ({"max_running": 0}, {"max_running": 5}, QueueLimits("q")),                   # 0 in the row: no limit
    ({"rate_limit": 100, "rate_period": None}, None, QueueLimits("q", rate_limit=100, rate_period=60.0)),
    ({"ordered": False}, {"ordered": True}, QueueLimits("q", ordered=True)),
])
def test_merge(row, configured, expected):
    assert merge("q", row, configured) == expected


# --- REST ----------------------------------------------------------------------


@pytest.mark.django_db
def test_rest_sets_limits_shows_their_use_and_refuses_bad_ones(api, staff_api):
    from tasks import queue
    from tasks.models import Queue
    from tests.api_helpers import error_of, post

    error_of(api.patch("/api/queues/pay", {"max_running": 2}, format="json"), 403)
    # A queue that neither a task nor a row names is declared with PUT (PATCH is a 404).
    error_of(staff_api.patch("/api/queues/pay", {"max_running": 2}, format="json"), 404)
    body = staff_api.put("/api/queues/pay", {"max_running": 2, "rate_limit": 100, "rate_period": 60,
                                              "partition_by": "customer.id", "partition_max_running": 1,
                                              "ordered": True}, format="json").json()
    assert body["flow"] == {"max_running": 2, "running": 0, "partition_by": "customer.id",
                            "partition_max_running": 1, "rate_limit": 100, "rate_period": 60.0,
                            "partition_rate_limit": None, "rate_used": 0, "ordered": True,
                            "waiting_on_limit": 0}
    row = Queue.objects.get(name="pay")
    assert (row.max_running, row.rate_limit, row.ordered) == (2, 100, True)
    error = error_of(staff_api.patch("/api/queues/pay", {"max_running": -1}, format="json"), 400)
    assert "max_running" in str(error)
    error = error_of(staff_api.patch("/api/queues/pay", {"partition_by": "a..b"}, format="json"), 400)
    assert "partition_by" in str(error)
    created = post(staff_api, "/api/tasks", {"type": "echo", "queue": "pay", "ordering_key": "acct-1",
                                            "partition_key": "c1"})
    assert created.status_code == 201
    refused = post(staff_api, "/api/tasks", {"type": "echo", "queue": "default", "ordering_key": "acct-1"})
    assert "ordering_key" in str(error_of(refused, 400))
    for _ in range(3):
        queue.enqueue("echo", 1, queue="pay")
    staff_api.patch("/api/queues/pay", {"max_running": 0, "rate_limit": 0, "partition_max_running": 0,
                                        "partition_by": "", "ordered": False}, format="json")
    listed = {q["name"]: q for q in api.get("/api/queues").json()}
    assert listed["pay"]["flow"] is None and listed["pay"]["counts"]["pending"] == 4


# --- the hot path ----------------------------------------------------------------


class Spy:
    """A real cursor that remembers the statements it ran."""

    def __init__(self, cursor):
        self.cursor, self.statements = cursor, []

    def execute(self, sql, params=None, **kwargs):
        self.statements.append(sql)
        return self.cursor.execute(sql, params, **kwargs)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


@pytest.mark.django_db(transaction=True)
def test_a_worker_without_limits_runs_the_plain_claim_and_nothing_else():
    import uuid

    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.models import Queue
    from tasks.queue.claims import CLAIM_FROM_ALL, CLAIM_FROM_ALL_EXCEPT, CLAIM_FROM_QUEUES
    from tasks.queue.flow import CLAIM_LIMITED, LOCK
    from tasks.worker.claimer import Claimer

    for name in ("default", "mail", "pay"):
        queue.enqueue("echo", 1, queue=name)
    Queue.objects.create(name="pay", max_running=1)
    spy = Spy(raw_cursor())
    claimer = Claimer(uuid.uuid4(), ["default", "mail"])
    assert len(claimer.claim(spy, 10).jobs) == 2
    spy.statements.clear()
    claimer.claim(spy, 10)  # the limits were read under a second ago
    assert spy.statements == [CLAIM_FROM_QUEUES]
    # A `*` worker skips the limited queue in its plain claim and claims it apart.
    spy.statements.clear()
    everything = Claimer(uuid.uuid4(), None)
    assert [job.queue for job in everything.claim(spy, 10).jobs] == ["pay"]
    assert LOCK in spy.statements and CLAIM_LIMITED in spy.statements
    assert CLAIM_FROM_ALL_EXCEPT in spy.statements and CLAIM_FROM_ALL not in spy.statements


# --- the console and /metrics ------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_and_metrics_show_limits_and_their_use(staff_client):
    from prometheus_client.parser import text_string_to_metric_families

    from tasks import queue
    from tasks.models import Queue, TaskStatus
    from tasks.telemetry import metrics

    Queue.objects.create(name="pay", max_running=1, rate_limit=30, rate_period=60)
    running = queue.enqueue("echo", 1, queue="pay")
    type(running).objects.filter(pk=running.pk).update(status=TaskStatus.PROCESSING)
    for _ in range(2):
        queue.enqueue("echo", 1, queue="pay")
    page = staff_client.get("/dashboard/queues/").content.decode()
    assert "1 / 1 running" in page and "0 / 30 per 60 s" in page and "2 waiting" in page
    samples = {(s.name, tuple(s.labels.items())): s.value
               for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples}
    assert samples[("taskqueue_queue_max_running", (("queue", "pay"),))] == 1
    assert samples[("taskqueue_queue_running", (("queue", "pay"),))] == 1
    assert samples[("taskqueue_queue_rate_limit", (("queue", "pay"),))] == 30
    assert samples[("taskqueue_queue_waiting_on_limit", (("queue", "pay"),))] == 2
    assert ("taskqueue_queue_max_running", (("queue", "default"),)) not in samples


@pytest.mark.parametrize("args, message", [
    (["--queues", "a:2,b:1", "--strict-priority"], "without weights"),
    (["--strict-priority"], "needs the queues named"),
    (["--queues", "a:0"], "at least 1"),
])
def test_worker_command_refuses_contradictory_queue_orders(args, message):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("worker", *args)


@pytest.mark.django_db(transaction=True)
def test_a_limited_queue_serializes_only_its_own_claims(raw_conn):
    """While one limited claim of `pay` holds its queue row, a claim of another
    limited queue and a plain claim go through at once; a second claim of `pay` waits."""
    import uuid

    import psycopg
    from django.db import connection

    from tasks import queue
    from tasks.db import raw_cursor
    from tasks.models import Queue
    from tasks.worker.claimer import Claimer

    for name in ("pay", "mail", "default"):
        queue.enqueue("echo", 1, queue=name)
    Queue.objects.create(name="pay", max_running=1)
    Queue.objects.create(name="mail", max_running=1)
    with raw_conn.transaction():
        raw_conn.execute("SELECT 1 FROM tasks_queue WHERE name = 'pay' FOR UPDATE")
        cursor = raw_cursor()
        cursor.execute("SET lock_timeout = '500ms'")
        assert [j.queue for j in Claimer(uuid.uuid4(), ["mail", "default"]).claim(cursor, 10).jobs] == \
            ["mail", "default"]
        with pytest.raises(psycopg.errors.LockNotAvailable):
            Claimer(uuid.uuid4(), ["pay"]).claim(cursor, 10)
        cursor.execute("RESET lock_timeout")
    connection.close()


@pytest.mark.parametrize("value, fault", [
    ([1], "JSON object"),
    ({"pay": 5}, "must be an object"),
    ({"pay": {"max_runing": 5}}, "unknown field 'max_runing'"),
    ({"pay": {"max_running": -1}}, "'max_running'"),
    ({"pay": {"ordered": "yes"}}, "'ordered'"),
])
def test_malformed_queue_limits_fail_the_system_check(settings, value, fault):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "LIMITS": value}
    with pytest.raises(SystemCheckError, match=fault):
        call_command("check")


@pytest.mark.django_db
def test_the_admin_sets_a_queues_limits(admin_client):
    from tasks.models import Queue

    response = admin_client.post("/admin/tasks/queue/add/", {
        "name": "pay", "max_running": "3", "partition_by": "customer.id", "partition_max_running": "1",
        "rate_limit": "100", "rate_period": "60", "partition_rate_limit": "", "max_pending": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    row = Queue.objects.get(name="pay")
    assert (row.max_running, row.partition_by, row.partition_max_running, row.rate_limit) == (3, "customer.id", 1, 100)
    listed = admin_client.get("/admin/tasks/queue/").content.decode()
    assert "Max running" in listed and "Rate limit" in listed


@pytest.mark.django_db
def test_the_admin_refuses_a_partition_path_the_api_would_refuse(admin_client):
    response = admin_client.post("/admin/tasks/queue/add/", {"name": "pay", "partition_by": "a..b"})
    assert response.status_code == 200 and "dotted path" in response.content.decode()


@pytest.mark.django_db
def test_the_dashboard_sets_limits_after_asking_and_refuses_bad_ones(staff_client, member_client):
    from tasks.models import AuditEntry, Queue

    body = {"max_running": "4", "rate_limit": "100", "rate_period": "60", "partition_by": "customer.id",
            "partition_max_running": "2", "partition_rate_limit": "", "ordered": "on"}
    assert "Set the limits of queue pay?" in staff_client.post("/dashboard/queues/pay/limits/", body).content.decode()
    assert not Queue.objects.filter(name="pay").exists()  # nothing before the yes
    response = staff_client.post("/dashboard/queues/pay/limits/", {**body, "confirm": "yes"})
    assert response.status_code == 302
    row = Queue.objects.get(name="pay")
    assert (row.max_running, row.rate_limit, row.partition_by, row.partition_max_running, row.ordered) == \
        (4, 100, "customer.id", 2, True)
    assert AuditEntry.objects.filter(action="queue.limits").count() == 1
    page = staff_client.get("/dashboard/queues/").content.decode()
    assert 'name="max_running" min="0" value="4"' in page
    refused = staff_client.post("/dashboard/queues/pay/limits/", {"max_running": "-2", "confirm": "yes"}, follow=True)
    assert "nothing changed" in refused.content.decode() and Queue.objects.get(name="pay").max_running == 4
    assert member_client.post("/dashboard/queues/pay/limits/", {**body, "confirm": "yes"}).status_code in (302, 403)
    assert Queue.objects.get(name="pay").rate_limit == 100
