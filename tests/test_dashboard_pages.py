"""Every dashboard page: who may see it, what it shows, and its live fragment."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import queue
from tasks.models import Queue, StatMinute, TaskStatus, WebhookDelivery, WorkerState
from tests.dashboard_helpers import HTMX
from tests.factories import TaskFactory, WorkerFactory

pytestmark = pytest.mark.django_db

PAGES = ["/dashboard/", "/dashboard/tasks/", "/dashboard/tasks/new/", "/dashboard/workers/",
         "/dashboard/queues/", "/dashboard/dead-letters/", "/dashboard/schedules/", "/dashboard/metrics/",
         "/dashboard/audit/"]
LIVE_PAGES = ["/dashboard/", "/dashboard/tasks/", "/dashboard/workers/", "/dashboard/queues/",
              "/dashboard/dead-letters/", "/dashboard/schedules/", "/dashboard/metrics/", "/dashboard/audit/"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == f"/admin/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_signed_in_users_without_the_read_scope_are_refused(member_client, path):
    response = member_client.get(path)
    assert response.status_code == 403
    assert "signed in as <b>member</b>, but the dashboard needs the read scope" in response.content.decode()


@pytest.mark.parametrize("path", PAGES)
def test_staff_see_every_page_with_the_navigation(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    for link in PAGES:
        assert f'href="{link}"' in html
    assert "htmx-2.0.11.min.js" in html and "Log out operator" in html


def test_an_expired_session_on_a_live_fragment_asks_htmx_for_a_full_page_login(client):
    response = client.get("/dashboard/", **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/admin/login/?next=/dashboard/"


@pytest.mark.parametrize("path", LIVE_PAGES)
def test_live_pages_refresh_themselves_and_answer_htmx_with_the_fragment_alone(staff_client, path):
    page = staff_client.get(path).content.decode()
    assert f'data-live hx-get="{path}" hx-trigger="live-refresh"' in page
    assert '<select id="refresh"' in page  # the interval (or pause) the operator chooses
    fragment = staff_client.get(path, **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="live"')
    assert "<html" not in fragment and "hx-trigger" in fragment


def test_overview_shows_counts_throughput_queues_oldest_pending_and_recent_tasks(staff_client):
    now = timezone.now()
    TaskFactory.create_batch(2, status=TaskStatus.PENDING, run_at=now - timedelta(minutes=5),
                            created_at=now - timedelta(minutes=5))
    TaskFactory(status=TaskStatus.PENDING, queue="emails", run_at=now - timedelta(seconds=30),
                created_at=now - timedelta(seconds=30))
    TaskFactory(status=TaskStatus.SCHEDULED, run_at=now + timedelta(hours=1))
    TaskFactory.create_batch(3, status=TaskStatus.COMPLETED)
    failed = TaskFactory(status=TaskStatus.FAILED, last_error="RuntimeError: boom")
    WorkerFactory()
    Queue.pause("emails")

    html = staff_client.get("/dashboard/").content.decode()

    for stat, value in [("total", 8), ("pending", 3), ("completed", 3), ("failed", 1), ("scheduled", 1),
                        ("processing", 0), ("cancelled", 0), ("workers", 1)]:
        assert f'data-stat="{stat}">{value}<' in html, stat
    assert 'data-stat="oldest">5 min' in html
    # Throughput: the triggers counted this minute's completions and failure.
    minute = now.replace(second=0, microsecond=0)
    assert f"{timezone.localtime(minute):%H:%M}: 3 completed, 1 failed" in html
    assert "completed 3 · " in html and "failed 1 · last 60 minutes" in html
    # Queues, with the paused one marked.
    assert 'data-queue="default"' in html and 'data-queue="emails"' in html
    assert 'emails</a> <span class="badge paused">paused</span>' in html
    # Recent tasks, with the failed one's error in red.
    assert f'data-task="{failed.pk}"' in html
    assert 'class="error"><span class="clamp long">RuntimeError: boom</span>' in html


def test_overview_chart_reads_folded_minutes_of_the_last_hour_only(staff_client):
    now = timezone.now()
    old = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    StatMinute.objects.create(bucket=old, queue="default", status="completed", count=7)
    StatMinute.objects.create(bucket=now - timedelta(hours=3), queue="default", status="completed", count=99)
    html = staff_client.get("/dashboard/").content.decode()
    assert f"{timezone.localtime(old):%H:%M}: 7 completed, 0 failed" in html
    assert "completed 7 · " in html and ">7</text>" in html  # the peak labels the axis


def test_task_table_shows_colour_priority_retries_error_and_webhook(staff_client):
    task = TaskFactory(status=TaskStatus.SCHEDULED, priority=5, max_retries=3, retry_count=1,
                       last_error="ConnectionError: timeout", webhook="https://example.com/hook")
    html = staff_client.get("/dashboard/tasks/").content.decode()
    row = html[html.index(f'data-task="{task.pk}"'):]
    row = row[: row.index("</tr>")]
    assert 'class="badge status-scheduled">scheduled<' in row
    assert "★ 5" in row and "Retries: 1/3" in row
    assert 'class="clamp long">ConnectionError: timeout<' in row
    assert 'title="Webhook: https://example.com/hook">🔗' in row


def test_task_list_filters_by_status_type_queue_and_priority(staff_client):
    a = TaskFactory(type="echo", queue="default", priority=0, status=TaskStatus.PENDING)
    b = TaskFactory(type="sleep", queue="slow", priority=5, status=TaskStatus.PENDING)
    c = TaskFactory(type="echo", queue="slow", priority=5, status=TaskStatus.FAILED)

    def shown(query):
        html = staff_client.get(f"/dashboard/tasks/?{query}").content.decode()
        return {t for t in (a, b, c) if f'data-task="{t.pk}"' in html}

    assert shown("") == {a, b, c}
    assert shown("status=failed") == {c}
    assert shown("type=sleep") == {b}
    assert shown("queue=slow") == {b, c}
    assert shown("priority=5&queue=slow&status=pending") == {b}
    # Bad filter values are ignored, not a 500.
    assert shown("priority=high&status=nonsense") == {a, b, c}


def test_task_search_by_id_error_type_queue_webhook_and_payload(staff_client):
    a = TaskFactory(payload={"to": "alice@example.com"})
    b = TaskFactory(last_error="ValueError: Disk Full on volume", queue="reports")
    c = TaskFactory(type="sleep", webhook="https://hooks.example.org/x")

    def found(text):
        html = staff_client.get("/dashboard/tasks/", {"q": text}).content.decode()
        return {t for t in (a, b, c) if f'data-task="{t.pk}"' in html}

    assert found(str(b.pk)) == {b}
    assert found(str(uuid.uuid4())) == set()
    assert found("disk full") == {b}
    assert found("ALICE@example") == {a}
    assert found("sleep") == {c}
    assert found("reports") == {b}
    assert found("hooks.example.org") == {c}


def test_task_list_pages_by_id_newest_first_in_both_directions(staff_client):
    tasks = TaskFactory.create_batch(120)
    newest_first = sorted(tasks, key=lambda t: t.pk, reverse=True)

    def page(query=""):
        response = staff_client.get(f"/dashboard/tasks/?{query}")
        page = response.context["page"]
        return [t.pk for t in page.rows], page

    ids, first = page("type=echo")
    assert ids == [t.pk for t in newest_first[:50]] and first.newer is None
    ids, second = page(first.older)
    assert ids == [t.pk for t in newest_first[50:100]]
    assert "type=echo" in second.older and second.newest == "type=echo"
    ids, third = page(second.older)
    assert ids == [t.pk for t in newest_first[100:]] and third.older is None
    ids, back = page(third.newer)
    assert ids == [t.pk for t in newest_first[50:100]]
    ids, _ = page(back.newer)
    assert ids == [t.pk for t in newest_first[:50]]
    # A page parameter that is not an id is ignored.
    assert page("after=not-a-uuid")[0] == [t.pk for t in newest_first[:50]]


def test_task_detail_shows_payload_result_attempts_timeline_worker_and_deliveries(staff_client):
    worker = WorkerFactory(hostname="box-1", pid=4242)
    now = timezone.now()
    task = TaskFactory(
        type="flaky", payload={"to": "bob@example.com"}, status=TaskStatus.COMPLETED, result={"sent": 1},
        attempt=2, retry_count=1, worker_id=worker.pk, started_at=now, completed_at=now + timedelta(seconds=2),
        webhook="https://example.com/hook", progress=1.0, progress_message="all done",
        errors=[{"attempt": 1, "worker": str(worker.pk), "at": now.isoformat(), "type": "ConnectionError",
                 "message": "attempt 1 failed on purpose", "traceback": "Traceback (most recent call last):\n  boom"}],
    )
    WebhookDelivery.objects.create(task=task, url=task.webhook, status="delivered", attempts=1,
                                   response_code=204, delivered_at=now)
    html = staff_client.get(f"/dashboard/tasks/{task.pk}/").content.decode()
    assert "&quot;to&quot;: &quot;bob@example.com&quot;" in html
    assert "&quot;sent&quot;: 1" in html
    assert "Attempt 1 · <span class=\"error\">ConnectionError: attempt 1 failed on purpose</span>" in html
    assert "Traceback (most recent call last):" in html
    assert 'Attempt 2 · <span class="badge status-completed">completed</span>' in html
    assert "box-1:4242</a> (running)" in html
    assert "(2.0 s)" in html  # the duration
    assert 'class="badge delivery-delivered">delivered<' in html and ">204<" in html
    assert "100% all done" in html
    assert "Retries: 1/3" in html
    # Finished, with nothing pending: no polling.
    assert "hx-trigger" not in html


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        (TaskStatus.SCHEDULED, {"run-now", "cancel"}),
        (TaskStatus.PENDING, {"cancel"}),
        (TaskStatus.PROCESSING, set()),
        (TaskStatus.COMPLETED, set()),
        (TaskStatus.FAILED, {"retry", "delete"}),
        (TaskStatus.CANCELLED, {"retry"}),
    ],
)
def test_task_detail_offers_the_actions_its_status_allows(staff_client, status, buttons):
    task = TaskFactory(status=status)
    html = staff_client.get(f"/dashboard/tasks/{task.pk}/").content.decode()
    offered = {a for a in ("retry", "cancel", "run-now", "delete") if f"/dashboard/tasks/{task.pk}/{a}/" in html}
    assert offered == buttons
    assert ("hx-trigger" in html) == (status in ("scheduled", "pending", "processing"))


def test_unknown_task_is_a_404(staff_client):
    assert staff_client.get(f"/dashboard/tasks/{uuid.uuid4()}/").status_code == 404


def test_workers_page_lists_live_workers_with_current_tasks_and_recent_stopped_ones(staff_client):
    now = timezone.now()
    busy = WorkerFactory(hostname="busy-host", queues=["default", "emails"], concurrency=4, processed=12, failed=2)
    paused = WorkerFactory(hostname="paused-host", state=WorkerState.PAUSED)
    WorkerFactory(hostname="gone-host", state=WorkerState.STOPPED, last_heartbeat=now - timedelta(minutes=5))
    WorkerFactory(hostname="ancient-host", state=WorkerState.STOPPED, last_heartbeat=now - timedelta(days=2))
    running = TaskFactory(type="sleep", status=TaskStatus.PROCESSING, worker_id=busy.pk, started_at=now)
    html = staff_client.get("/dashboard/workers/").content.decode()
    row = html[html.index(f'data-worker="{busy.pk}"'):]
    row = row[: row.index("</tr>")]
    assert "default, emails" in row and ">4<" in row and ">12<" in row and ">2<" in row
    assert f"/dashboard/tasks/{running.pk}/" in row
    assert f"/dashboard/workers/{busy.pk}/pause/" in row
    assert f"/dashboard/workers/{paused.pk}/resume/" in html
    assert "gone-host" in html and "ancient-host" not in html


def test_queues_page_shows_depth_throughput_and_oldest_pending(staff_client):
    now = timezone.now()
    TaskFactory.create_batch(2, queue="emails", status=TaskStatus.PENDING, run_at=now - timedelta(seconds=90),
                            created_at=now - timedelta(seconds=90))
    TaskFactory(queue="emails", status=TaskStatus.SCHEDULED, run_at=now + timedelta(hours=1))
    TaskFactory(queue="emails", status=TaskStatus.COMPLETED)
    Queue.pause("idle")  # a queue with a settings row and no tasks is listed too
    html = staff_client.get("/dashboard/queues/").content.decode()
    row = html[html.index('data-queue="emails"'):]
    row = row[: row.index("</tr>")]
    assert '<td data-label="Depth"><b>3</b></td>' in row
    assert '<td data-label="Completed / h">1</td>' in row
    assert '<td data-label="Oldest pending">1 min 30 s</td>' in row or "1 min 3" in row
    assert "/dashboard/queues/emails/pause/" in row and "/dashboard/queues/emails/purge/" in row
    assert "/dashboard/queues/idle/resume/" in html


def test_dead_letters_page_lists_failed_tasks_with_their_last_error(staff_client):
    dead = TaskFactory(status=TaskStatus.FAILED, last_error="RuntimeError: gave up", queue="emails",
                       completed_at=timezone.now())
    alive = TaskFactory(status=TaskStatus.PENDING)
    html = staff_client.get("/dashboard/dead-letters/").content.decode()
    assert f'data-task="{dead.pk}"' in html and f'data-task="{alive.pk}"' not in html
    assert ">RuntimeError: gave up<" in html
    assert "data-count>1 dead letter\n" in html
    assert f"/dashboard/tasks/{dead.pk}/retry/" in html and 'action="/dashboard/tasks/bulk/"' in html
    html = staff_client.get("/dashboard/dead-letters/?queue=other").content.decode()
    assert f'data-task="{dead.pk}"' not in html


def test_pages_render_without_javascript_the_static_parts_are_in_the_html(staff_client):
    queue.enqueue("echo", "hello")
    html = staff_client.get("/dashboard/").content.decode()
    # Everything is server-rendered: counts, the SVG chart and the table are in the first response.
    assert "<svg" in html and 'data-stat="total">1<' in html and "<table" in html
