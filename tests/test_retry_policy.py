from datetime import UTC, datetime, timedelta

import pytest

from tasks.queue.retry_policy import backoff, next_run_at

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [
        (1, 0.0, 1.0),  # ceiling 2s; equal jitter keeps at least half
        (1, 0.999999, 2.0),
        (2, 0.0, 2.0),  # ceiling doubles
        (3, 0.5, 6.0),  # ceiling 8: 4 + 0.5 * 4
        (10, 0.0, 30.0),  # capped at 60: half of the cap
        (50, 1.0, 60.0),  # never above the cap, however many retries
    ],
)
def test_backoff_grows_exponentially_with_jitter_under_a_cap(retry, jitter, expected):
    assert backoff(retry, base=2, cap=60, jitter=jitter) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("retry_count", "max_retries", "expected_delay"),
    [
        (0, 3, 1.5),  # first retry: ceiling 2, jitter 0.5
        (2, 3, 6.0),  # third retry: ceiling 8
        (3, 3, None),  # no retries left: give up
        (0, 0, None),  # retries disabled
    ],
)
def test_next_run_at_schedules_or_gives_up(retry_count, max_retries, expected_delay):
    result = next_run_at(retry_count, max_retries, NOW, base=2, cap=3600, jitter=0.5)
    if expected_delay is None:
        assert result is None
    else:
        assert result == NOW + timedelta(seconds=expected_delay)


def test_jitter_spreads_retries_of_tasks_that_failed_together():
    times = {next_run_at(1, 5, NOW, base=2, cap=3600) for _ in range(50)}
    assert len(times) > 40
    assert all(NOW + timedelta(seconds=2) <= t <= NOW + timedelta(seconds=4) for t in times)
