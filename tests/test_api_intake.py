"""The fast path of task creation (tasks/api/intake.py) against the serializer
it stands in for: whatever the fast path accepts, TaskCreateSerializer accepts
and turns into the same task; whatever it declines goes to the serializer,
whose errors the API answers with. A table of edge cases, then random bodies."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.api import intake
from tasks.api.serializers import BulkCreateSerializer, TaskCreateSerializer

FIELDS = ("type", "payload", "queue", "priority", "status", "max_retries", "timeout", "webhook", "idempotency_key",
          "unique_key", "retry_backoff", "metadata")


def shape(task) -> dict:
    return {field: getattr(task, field) for field in FIELDS}


def serializer_task(body, serializer_class=TaskCreateSerializer):
    serializer = serializer_class(data=body)
    return serializer.validated_data if serializer.is_valid() else None


def assert_same_as_the_serializer(body) -> bool:
    """Whether the fast path took `body`; fails if it took it differently."""
    fast = intake.new_task(body)
    if fast is None:
        return False
    validated = serializer_task(body)
    assert validated is not None, f"the fast path accepted what the serializer refuses: {body!r}"
    assert shape(fast) == shape(validated["task"])
    return True


@pytest.mark.parametrize("body, fast", [
    ({"type": "echo"}, True),
    ({"type": "echo", "payload": {"a": [1, 2.5, None, "x"]}, "priority": -100, "max_retries": 0,
      "queue": "a_b.c:d-e", "timeout": 7 * 86400, "webhook": "https://example.com/hook",
      "idempotency_key": "k" * 255, "scheduled_for": None}, True),
    ({"type": "echo", "timeout": 1}, True),  # the serializer turns 1 into 1.0: so does the fast path
    ({"type": "echo", "metadata": {"user_id": "123", "tags": ["a"]}}, True),
    ({"type": "echo", "metadata": None}, True),
    ({"type": "echo", "metadata": ["not", "an", "object"]}, False),
    ({"type": "echo", "metadata": {"nul": "x\x00y"}}, False),  # text PostgreSQL cannot store
    # Everything below goes to the serializer: most are errors, some it accepts after trimming.
    ({"type": " echo"}, False),  # trimmed by the serializer
    ({"type": "echo", "queue": "mail\n"}, False),
    ({"type": "echo", "webhook": "  "}, False),
    ({"type": "echo", "priority": True}, False),  # a boolean is not a priority
    ({"type": "echo", "priority": 101}, False),
    ({"type": "echo", "priority": 5.0}, False),
    ({"type": "echo", "max_retries": 101}, False),
    ({"type": "echo", "timeout": 0}, False),
    ({"type": "echo", "timeout": False}, False),
    ({"type": "echo", "queue": ""}, False),
    ({"type": "echo", "queue": "x" * 101}, False),
    ({"type": "echo", "queue": "white space"}, False),
    ({"type": "echo", "webhook": None}, False),
    ({"type": "echo", "webhook": "http://127.0.0.1/hook"}, False),  # private addresses are refused
    ({"type": "echo", "idempotency_key": ""}, False),
    ({"type": "echo", "idempotency_key": "x\x00y"}, False),
    ({"type": "echo", "scheduled_for": "2030-01-01T09:00:00Z"}, False),  # times are parsed by the serializer
    ({"type": "no-such-type"}, False),
    ({"type": "echo", "payload": "\ud800"}, False),
    ({"type": "echo", "surprise": 1}, False),
    ({"payload": 1}, False),
    ([{"type": "echo"}], False),
    ("echo", False),
])
def test_the_fast_path_takes_plainly_valid_bodies_and_leaves_the_rest_to_the_serializer(body, fast):
    assert assert_same_as_the_serializer(body) is fast


def test_a_bulk_body_is_taken_whole_or_left_whole_to_the_serializer():
    good = [{"type": "echo", "payload": n} for n in range(3)]
    tasks = intake.new_tasks({"tasks": good})
    assert [task.payload for task in tasks] == [0, 1, 2]
    assert serializer_task({"tasks": good}, BulkCreateSerializer) is not None
    for body in ({"tasks": [*good, {"type": "echo", "priority": "high"}]},  # one bad item
                 {"tasks": [{"type": "echo", "idempotency_key": "k"}]},  # no keys in a batch
                 {"tasks": []}, {"tasks": good, "more": 1}, {"tasks": {"type": "echo"}}, good):
        assert intake.new_tasks(body) is None


def test_a_bulk_body_over_the_limit_is_left_to_the_serializer(settings):
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "BULK_MAX": 2}
    assert intake.new_tasks({"tasks": [{"type": "echo"}] * 3}) is None
    assert len(intake.new_tasks({"tasks": [{"type": "echo"}] * 2})) == 2


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)
VALUES = {
    "type": st.sampled_from(["echo", "email", " echo", "ECHO", "", "fail"]) | JSON,
    "queue": st.sampled_from(["default", "a.b", "x" * 100, "x" * 101, "a b", "mail\n"]) | JSON,
    "priority": st.integers(-102, 102) | JSON,
    "max_retries": st.integers(-1, 102) | JSON,
    "timeout": st.floats(-1, 7 * 86400 + 1) | st.integers(-1, 7 * 86400 + 1) | JSON,
    "webhook": st.sampled_from(["", "https://example.com/h", "ftp://x", " https://example.com/h"]) | JSON,
    "idempotency_key": st.sampled_from(["k", "", " k", "k" * 256]) | JSON,
    "payload": JSON,
    "scheduled_for": st.none() | JSON,
    "metadata": st.dictionaries(st.text(max_size=3), JSON, max_size=3) | JSON,
    "unknown": JSON,
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.fixed_dictionaries({"type": VALUES["type"]}, optional={k: v for k, v in VALUES.items() if k != "type"}))
def test_whatever_the_fast_path_accepts_the_serializer_accepts_the_same_way(body):
    assert_same_as_the_serializer(body)
