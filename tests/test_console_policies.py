"""Pure policies of the console, as tables: list orders, percentiles from bins,
the dead-letter alarm, line chart layout, relative times."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from django.db.models import Q

from dashboard.linechart import line_chart
from dashboard.listing import Order
from dashboard.templatetags.dashboard import relative
from tasks.telemetry.alarms import dead_letters_rising
from tasks.telemetry.history import BOUNDS, bin_of, percentile

ID = UUID("01a2130a-c54b-7ad1-8f3e-06c91de58514")
T = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("status", "wanted", "name", "field", "descending"), [
    ("", None, "-created", "id", True),                  # every list: newest first
    ("", "created", "created", "id", False),             # ... or oldest first
    ("", "-failed", "-created", "id", True),             # an order the list does not offer falls back
    ("scheduled", None, "runs", "run_at", False),        # scheduled: soonest first (task_scheduled_run_idx)
    ("processing", None, "running", "started_at", False),  # running: longest first
    ("failed", None, "-failed", "completed_at", True),   # dead letters: newest failure first (task_failed_idx)
    ("failed", "failed", "failed", "completed_at", False),
    ("completed", "-runs", "-created", "id", True),      # no index serves it: not offered
])
def test_each_status_offers_the_orders_an_index_serves(status, wanted, name, field, descending):
    order = Order.of(status, wanted)
    assert (order.name, order.field, order.descending) == (name, field, descending)


@pytest.mark.parametrize(("status", "name", "reverse", "inclusive", "expected"), [
    ("", "-created", False, False, Q(id__lt=ID)),
    ("", "-created", True, False, Q(id__gt=ID)),            # the newer page walks the other way
    ("", "created", False, True, Q(id__gte=ID)),
    # (key, id) pairs: a range the index seeks to, then the tie broken by id.
    ("failed", "-failed", False, False,
     Q(completed_at__lte=T) & (Q(completed_at__lt=T) | Q(completed_at=T, id__lt=ID))),
    ("scheduled", "runs", False, False, Q(run_at__gte=T) & (Q(run_at__gt=T) | Q(run_at=T, id__gt=ID))),
])
def test_keyset_pages_continue_after_the_edge_of_the_last(status, name, reverse, inclusive, expected):
    order = Order.of(status, name)
    edge = (ID,) if order.field == "id" else (T, ID)
    assert order.beyond(edge, reverse, inclusive) == expected
    assert order.decode(order.encode(edge)) == edge


@pytest.mark.parametrize("text", [None, "", "not-a-uuid", "2030-01-01T12:00:00+00:00", "garbage_" + str(ID)])
def test_a_page_edge_that_is_not_ours_is_ignored(text):
    assert Order.of("failed", "-failed").decode(text) is None


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.0005, 0), (0.001, 1), (0.0014, 1), (0.0015, 2), (1.0, 20), (3600.0, 44), (10**6, len(BOUNDS)),
])
def test_bins_grow_by_sqrt_2_from_a_millisecond(seconds, expected):
    # As PostgreSQL's width_bucket numbers them: bin i holds BOUNDS[i-1] <= s < BOUNDS[i].
    assert bin_of(seconds) == expected


@pytest.mark.parametrize(("samples", "q", "low", "high"), [
    ([0.010] * 100, 0.5, 0.0085, 0.0115),                   # one value: within its bin
    ([0.010] * 50 + [1.0] * 50, 0.95, 0.85, 1.2),           # two clusters: p95 in the slow one
    ([0.010] * 96 + [30.0] * 4, 0.95, 0.0085, 0.0115),      # a few slow ones below the 95th
    ([0.010] * 94 + [30.0] * 6, 0.95, 23.0, 33.0),          # ... above it: within 30 s's bin
    ([0.0001] * 10, 0.5, 0.0, 0.001),                       # under a millisecond
])
def test_percentiles_from_the_bins_are_within_a_bin_of_the_truth(samples, q, low, high):
    bins = [0] * (len(BOUNDS) + 1)
    for s in samples:
        bins[bin_of(s)] += 1
    assert low <= percentile(bins, q) <= high


def test_an_empty_histogram_has_no_percentile():
    assert percentile([0] * (len(BOUNDS) + 1), 0.5) is None


@pytest.mark.parametrize(("per_minute", "expected"), [
    ([0] * 60, None),                                       # nothing fails
    ([0] * 50 + [1] * 10, (10, 0.0)),                       # 10 in 10 min after a quiet hour: rising
    ([0] * 50 + [0] * 6 + [1] * 4, None),                   # 4: below the minimum of 5
    ([1] * 60, None),                                       # steady: 10 now, 10 per 10 min before
    ([1] * 50 + [2] * 10, (20, 10.0)),                      # twice the earlier rate
    ([2] * 50 + [3] * 10, None),                            # more, but less than twice as many
    ([0] * 10 + [5] * 40 + [0] * 10, None),                 # falling
])
def test_dead_letters_rise_when_the_last_ten_minutes_double_the_hour_before(per_minute, expected):
    assert dead_letters_rising(per_minute) == expected


def test_line_charts_break_at_missing_periods_and_draw_lone_points_as_dots():
    starts = [T + timedelta(minutes=i) for i in range(5)]
    chart = line_chart("t", starts, [("a", 0, False, [1.0, 2.0, None, 4.0, None]), ("b", 9, True, [None] * 5)],
                       log=True, time_format="%H:%M")
    (line,) = chart.lines  # b has no value: no line
    assert len(line.segments) == 1 and len(line.segments[0].split()) == 2 and len(line.dots) == 1
    assert line.colour == 0 and [text for _, text in chart.y_labels] == ["1 s", "10 s"]
    assert [text for _, text, _ in chart.x_labels] == ["12:00", "12:02", "12:04"]


def test_a_chart_without_data_is_empty():
    assert line_chart("t", [T], [("a", 0, False, [None])], log=False, time_format="%H:%M").empty


@pytest.mark.parametrize(("moment", "text"), [
    (T - timedelta(minutes=3), "3 min ago"), (T + timedelta(hours=2, minutes=5), "in 2 h 5 min"), (None, "–"),
])
def test_moments_read_relative_to_now(moment, text):
    assert relative(moment, T) == text
