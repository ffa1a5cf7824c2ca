"""Pure pieces of the dashboard: durations, payload and time parsing, chart layout."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from dashboard.chart import HEIGHT, throughput_chart
from dashboard.forms import parse_payload, parse_when
from dashboard.templatetags.dashboard import age, short_id


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (0, "0.0 s"), (2.345, "2.3 s"), (59, "59 s"), (60, "1 min"), (90, "1 min 30 s"),
     (3600, "1 h"), (3 * 3600 + 5 * 60 + 9, "3 h 5 min"), (2 * 86400 + 4 * 3600, "2 d 4 h"),
     (timedelta(minutes=2), "2 min"), (-5, "0.0 s")],
)
def test_age_reads_like_a_person_would_say_it(value, text):
    assert age(value) == text


def test_age_of_a_moment_is_measured_to_now():
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=75), now) == "1 min 15 s"


def test_short_id_is_the_creation_millisecond_and_the_last_two_random_digits():
    # Digits 7-12 (the millisecond, modulo 2**24) and the last two: a subsequence of the id.
    assert short_id("01a2130a-c54b-7ad1-8f3e-06c91de58514") == "0ac54b14"


@pytest.mark.parametrize(
    ("text", "value"),
    [("", None), ("  ", None), ("hello", "hello"), ("user@example.com", "user@example.com"), ("3", 3),
     ("2.5", 2.5), ('"x"', "x"), ("null", None), ("true", True), ('{"a": [1]}', {"a": [1]})],
)
def test_payload_text_is_json_when_it_parses_and_a_string_otherwise(text, value):
    assert parse_payload(text) == value


@pytest.mark.parametrize("text", ['{"a": ', "[1, 2", '"open'])
def test_payload_that_looks_like_broken_json_is_refused(text):
    with pytest.raises(ValidationError, match="The payload must be JSON"):
        parse_payload(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("", None), ("2030-01-01T09:00", datetime(2030, 1, 1, 9, 0, tzinfo=UTC)),
     ("2030-01-01T09:00:30Z", datetime(2030, 1, 1, 9, 0, 30, tzinfo=UTC)),
     ("2030-01-01T09:00:00+01:00", datetime(2030, 1, 1, 8, 0, tzinfo=UTC))],
)
def test_schedule_times_without_a_zone_are_read_in_the_current_zone(settings, text, value):
    settings.TIME_ZONE = "UTC"
    assert parse_when(text) == value


@pytest.mark.parametrize("text", ["tomorrow", "2030-13-01T09:00", "9am"])
def test_schedule_times_that_are_not_times_are_refused(text):
    with pytest.raises(ValidationError, match="The time must be a date and time"):
        parse_when(text)


def test_chart_stacks_failed_on_completed_and_scales_to_the_busiest_minute():
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    minutes = [{"minute": start + timedelta(minutes=i), "completed": c, "failed": f}
               for i, (c, f) in enumerate([(0, 0), (6, 2), (4, 0)])]
    chart = throughput_chart(minutes)
    assert (chart.peak, chart.completed, chart.failed) == (8, 10, 2)
    empty, busy, half = chart.bars
    assert empty.completed_height == empty.failed_height == 0
    assert busy.completed_height + busy.failed_height == pytest.approx(chart.plot_bottom - chart.top)
    assert busy.failed_y + busy.failed_height == pytest.approx(busy.completed_y)  # stacked
    assert half.completed_height == pytest.approx((chart.plot_bottom - chart.top) / 2)
    assert empty.x < busy.x < half.x and chart.plot_bottom < HEIGHT


def test_an_idle_hour_draws_empty_bars():
    chart = throughput_chart([{"minute": datetime(2030, 1, 1, tzinfo=UTC), "completed": 0, "failed": 0}] * 60)
    assert chart.peak == 0 and len(chart.bars) == 60 and all(b.completed_height == 0 for b in chart.bars)
