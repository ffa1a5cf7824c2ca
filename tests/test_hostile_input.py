"""Hostile input: limits, and property-based fuzzing of validation and of
POST /api/tasks. Whatever arrives, the answer is a 201 or a 4xx naming the
field, never a 500, and a rejection writes nothing."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks import queue
from tasks.handlers import registry
from tasks.models import Task

pytestmark = pytest.mark.django_db

FIELDS = {"type", "payload", "priority", "max_retries", "scheduled_for", "webhook", "queue", "timeout",
          "unique_key", "idempotency_key"}
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any code point, surrogates and NUL included: what a JSON body can carry.
texts = st.text(alphabet=st.characters(codec=None), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
anything = json_values | st.floats() | texts
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.none() | st.just(UTC))


def mostly(valid, hostile=anything):
    """Valid three times in four, so that many examples get past the other fields."""
    return st.one_of(valid, valid, valid, hostile)


type_names = mostly(st.just("echo"), st.sampled_from(["email", "sleep", "webhook", "fail"]) | texts)
priorities = mostly(st.integers(-100, 100))
max_retries = mostly(st.integers(0, 100))
timeouts = mostly(st.none() | st.floats(0.001, 7 * 86400))
webhooks = mostly(st.sampled_from(["", "https://example.com/hook"]), texts | anything)
queue_names = mostly(st.from_regex(r"[A-Za-z0-9_.:-]{1,100}", fullmatch=True), texts | anything)


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_user("mallory")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def nested(depth: int):
    value = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("payload", "reason"), [
    (nested(33), "nests deeper than 32 levels"),
    ({"a": "nul\x00byte"}, "NUL character"),
    ({"key\x00": 1}, "NUL character"),
    (["\ud800"], "lone UTF-16 surrogate"),
    ("x" * 300_000, "the limit is 262144 bytes"),
])
def test_payload_limits_name_the_reason(payload, reason):
    with pytest.raises(ValidationError) as raised:
        queue.enqueue("echo", payload)
    assert reason in raised.value.message_dict["payload"][0]
    assert Task.objects.count() == 0


def test_payload_at_the_depth_limit_is_stored_and_a_cycle_is_refused():
    assert Task.objects.get(pk=queue.enqueue("echo", nested(32)).pk).payload == nested(32)
    loop = []
    loop.append(loop)
    with pytest.raises(ValidationError):
        queue.enqueue("echo", loop)


@FUZZ
@given(payload=json_values)
def test_any_payload_is_either_refused_with_a_reason_or_stored(payload):
    try:
        task = queue.build("echo", payload)
    except ValidationError as exc:
        assert list(exc.message_dict) == ["payload"] and exc.message_dict["payload"][0]
        return
    with transaction.atomic():  # accepted means storable: no DataError from PostgreSQL
        task.save(force_insert=True)
        transaction.set_rollback(True)


@FUZZ
@given(type_name=type_names, payload=json_values, priority=priorities, retries=max_retries,
       run_at=instants | st.none(), timeout=timeouts, webhook=webhooks, queue_name=queue_names,
       key=st.none() | texts | st.text(min_size=250, max_size=300))
def test_build_either_refuses_naming_fields_or_the_task_stores(
    type_name, payload, priority, retries, run_at, timeout, webhook, queue_name, key
):
    try:
        task = queue.build(type_name, payload, priority=priority, max_retries=retries, run_at=run_at,
                           timeout=timeout, webhook=webhook, queue=queue_name, idempotency_key=key)
    except ValidationError as exc:
        assert exc.message_dict and set(exc.message_dict) <= FIELDS
        assert all(isinstance(m, str) and m for messages in exc.message_dict.values() for m in messages)
        return
    with transaction.atomic():
        task.save(force_insert=True)
        transaction.set_rollback(True)


bodies = st.fixed_dictionaries({"type": type_names}, optional={
    "payload": json_values,
    "priority": priorities,
    "max_retries": max_retries,
    "scheduled_for": mostly(instants.map(lambda d: d.isoformat())),
    "webhook": webhooks,
    "queue": queue_names,
    "timeout": timeouts,
    "colour": anything,
}) | json_values


@FUZZ
@given(body=bodies)
def test_post_tasks_answers_201_or_a_named_400_and_writes_only_on_201(api, body):
    before = Task.objects.count()
    response = api.post("/api/tasks", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 201:
        assert Task.objects.count() == before + 1
        assert registry.get(response.json()["type"])
        return
    error = response.json()["error"]
    assert error["code"] in ("invalid", "parse_error") and error["message"]
    assert Task.objects.count() == before


@FUZZ
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_400_parse_error(api, raw):
    response = api.post("/api/tasks", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert Task.objects.count() == 0


def test_a_deeply_nested_body_is_a_400_not_a_crash(api):
    response = api.post("/api/tasks", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert "nests too deeply" in response.json()["error"]["message"]


def test_an_oversized_body_is_a_413(api, settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "API_MAX_BODY_BYTES": 1000}  # the API's one body limit
    body = json.dumps({"type": "echo", "payload": "x" * 2000})
    response = api.post("/api/tasks", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert Task.objects.count() == 0


def test_json_only(api):
    response = api.post("/api/tasks", data="type=echo", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert Task.objects.count() == 0
