"""Fold the event log into the Prometheus counters and histograms.

Reads the log after its cursor in commit-safe order (tasks/telemetry/event_log.py),
adds the counts to MetricCount and moves the cursor, in one statement, so each
event is counted exactly once however many workers run this. Pruning keeps
every event the fold has not reached. The statement is in tasks/telemetry/metrics.py.
"""

from datetime import datetime

from tasks.telemetry import metrics


def run_once(now: datetime) -> int:
    """Fold every final event not folded yet; returns how many log rows."""
    return metrics.fold()
