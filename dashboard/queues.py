"""The queues as operators see them: depth, throughput, oldest pending, paused.

A queue exists as soon as a task names it, so the list is the union of the
queues in the counters and the queues with a settings row (a paused queue may
be empty). Built by tasks.telemetry.summary, as /api/queues is; everything
reads trigger-maintained counters and the claim index, nothing counts the
task table.
"""

from datetime import datetime

from tasks.telemetry import counters, summary


def queue_rows(now: datetime, counts: dict[str, dict[str, int]] | None = None,
               minutes: list[dict] | None = None) -> list[summary.QueueSummary]:
    """One row per known queue, by name, with its throughput over the last 60
    minutes (the current one included). `counts` is counters.counts() and
    `minutes` counters.per_minute(now, 60) when the caller has them."""
    return summary.queues(now, by_queue=counts, minutes=minutes or counters.per_minute(now, 60))
