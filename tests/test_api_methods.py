"""What schemathesis found once the schema grew (scripts/fuzz_api.py), each pinned here:
methods a route does not serve, OPTIONS, and bodies that are not objects."""

import json

import pytest

from tasks.models import Queue
from tests.api_helpers import error_of

pytestmark = pytest.mark.django_db


def test_options_on_a_queue_describes_it_instead_of_failing(staff_api):
    Queue.objects.create(name="default")
    response = staff_api.options("/api/queues/default")
    assert response.status_code == 200 and response.json()["name"]


def test_metrics_answers_another_method_with_405_not_a_csrf_refusal(django_user_model):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # as a browser's session is checked
    client.force_login(django_user_model.objects.create_user("someone", is_staff=True))
    response = client.post("/metrics")
    assert response.status_code == 405 and response["Allow"] == "GET"


def test_the_event_stream_names_the_method_it_serves(staff_api):
    response = staff_api.post("/api/events")
    assert response.status_code == 405 and response["Allow"] == "GET"


def test_declaring_a_queue_with_a_json_null_body_is_refused_and_creates_nothing(staff_api):
    response = staff_api.put("/api/queues/fresh", data=json.dumps(None), content_type="application/json")
    error_of(response, 400)
    assert not Queue.objects.filter(name="fresh").exists()
    assert staff_api.put("/api/queues/fresh").status_code == 201  # no body at all: declared with defaults
