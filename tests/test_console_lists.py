"""The task list and the dead letters: state-aware columns and orders, sortable
headers, keyset pages, the bounded walk, the match count, search by id."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import listing
from tasks.models import TaskStatus
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def rows(client, query: str) -> list[str]:
    html = client.get(f"/dashboard/tasks/?{query}").content.decode()
    return re.findall(r'<tr data-task="([^"]+)"', html)


def ids(*tasks) -> list[str]:
    return [str(t.pk) for t in tasks]


def test_each_status_lists_its_tasks_in_the_order_that_matters_with_its_own_column(staff_client):
    now = timezone.now()
    later, soon = (TaskFactory(status=TaskStatus.SCHEDULED, run_at=now + timedelta(hours=h)) for h in (5, 1))
    assert rows(staff_client, "status=scheduled") == ids(soon, later)  # soonest first
    html = staff_client.get("/dashboard/tasks/?status=scheduled").content.decode()
    assert "Runs ↑" in html and "runs <time" in html and ">in 59 min" in html

    young, old = (TaskFactory(status=TaskStatus.PROCESSING, started_at=now - timedelta(minutes=m)) for m in (1, 30))
    assert rows(staff_client, "status=processing") == ids(old, young)  # running longest first
    assert "running 30 min" in staff_client.get("/dashboard/tasks/?status=processing").content.decode()

    done = TaskFactory(status=TaskStatus.COMPLETED, started_at=now - timedelta(seconds=4), completed_at=now)
    html = staff_client.get("/dashboard/tasks/?status=completed").content.decode()
    assert rows(staff_client, "status=completed") == ids(done) and "took 4.0 s" in html and ">Took</th>" in html

    failed_first, failed_last = (TaskFactory(status=TaskStatus.FAILED, completed_at=now - timedelta(minutes=m))
                                 for m in (10, 1))
    assert rows(staff_client, "status=failed") == ids(failed_last, failed_first)  # newest failure first


def test_headers_sort_both_ways_and_keep_the_filters(staff_client):
    now = timezone.now()
    tasks = [TaskFactory(status=TaskStatus.SCHEDULED, queue="emails", run_at=now + timedelta(minutes=m))
             for m in (30, 10, 20)]
    html = staff_client.get("/dashboard/tasks/?status=scheduled&queue=emails").content.decode()
    link = re.search(r'<a href="\?([^"]+)">Runs ↑', html).group(1).replace("&amp;", "&")
    assert "queue=emails" in link and "sort=-runs" in link
    assert rows(staff_client, link) == ids(tasks[0], tasks[2], tasks[1])  # latest first now
    assert rows(staff_client, "status=scheduled&sort=created") == ids(*tasks)  # creation order
    assert rows(staff_client, "status=scheduled&sort=-failed") == ids(tasks[1], tasks[2], tasks[0])  # not offered


def test_dead_letters_page_through_failure_times_with_ties_broken_by_id(staff_client, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    now = timezone.now()
    same = now - timedelta(minutes=5)
    tasks = [TaskFactory(status=TaskStatus.FAILED, completed_at=at) for at in (same, now, same, same, same)]
    expected = ids(tasks[1], tasks[4], tasks[3], tasks[2], tasks[0])
    html = staff_client.get("/dashboard/dead-letters/").content.decode()
    first = re.findall(r'<tr data-task="([^"]+)"', html)
    older = re.search(r'<a href="\?([^"]+)" rel="next">', html).group(1).replace("&amp;", "&")
    second_html = staff_client.get(f"/dashboard/dead-letters/?{older}").content.decode()
    second = re.findall(r'<tr data-task="([^"]+)"', second_html)
    assert first + second == expected
    newer = re.search(r'<a href="\?([^"]+)" rel="prev">', second_html).group(1).replace("&amp;", "&")
    assert re.findall(r'<tr data-task="([^"]+)"', staff_client.get(f"/dashboard/dead-letters/?{newer}").content.decode()) == first


def test_a_rare_filter_reads_a_bounded_part_of_the_table_per_page_and_goes_on_from_there(staff_client, monkeypatch):
    monkeypatch.setattr(listing, "SCAN_BUDGET", 10)
    rare = TaskFactory(type="sleep")
    TaskFactory.create_batch(25, type="echo")  # newer: the walk meets them first
    html = staff_client.get("/dashboard/tasks/?type=sleep").content.decode()
    assert f'data-task="{rare.pk}"' not in html and "Read 10 tasks back to" in html
    found, query = False, re.search(r'<a href="\?([^"]+)" rel="next">look further', html).group(1)
    for _ in range(3):
        html = staff_client.get("/dashboard/tasks/?" + query.replace("&amp;", "&")).content.decode()
        if f'data-task="{rare.pk}"' in html:
            found = True
            break
        query = re.search(r'<a href="\?([^"]+)" rel="next">', html).group(1)
    assert found


def test_counts_are_exact_for_status_and_queue_and_estimated_otherwise(staff_client, monkeypatch):
    TaskFactory.create_batch(4, status=TaskStatus.FAILED, queue="emails", type="echo")
    TaskFactory.create_batch(2, status=TaskStatus.PENDING, queue="emails", type="sleep")
    count = lambda q: re.search(r"data-count>([^<]*)", staff_client.get(f"/dashboard/tasks/?{q}").content.decode()).group(1)  # noqa: E731
    assert count("status=failed&queue=emails").startswith("4 tasks match status failed, queue emails")
    assert count("").startswith("6 tasks")
    assert count("type=sleep").startswith("2 tasks")  # every match on one page: counted
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    assert count("type=echo").startswith("About ")  # more than a page: PostgreSQL's estimate, said so


def test_search_finds_ids_then_falls_back_to_text(staff_client):
    hexy = TaskFactory(payload={"order": "deadbeef"})
    other = TaskFactory()
    assert rows(staff_client, "q=deadbeef") == ids(hexy)  # looks like a short id, is none: text
    assert rows(staff_client, f"q={str(other.pk)[:8]}") in (ids(other), ids(other, hexy), ids(hexy, other)[::-1])
    assert rows(staff_client, f"q={other.pk}") == ids(other)
