"""Fold the event log into the metrics over time (per-period wait and run time
histograms and failures, per queue and per type).

Its own cursor over the log, so it neither waits for nor disturbs the
Prometheus fold; pruning keeps every event that either fold has not reached.
The statement and the reading side are in tasks/telemetry/history.py; the rows
past their retention go in the prune chore.
"""

from datetime import datetime

from tasks.telemetry import history


def run_once(now: datetime) -> int:
    """Fold every final event not folded yet; returns how many log rows."""
    return history.fold()
