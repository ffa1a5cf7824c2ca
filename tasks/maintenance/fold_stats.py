"""Fold the per-statement count deltas into totals and per-minute throughput.

Triggers append deltas (insert-only, so writers never contend); this chore
keeps that table short. The statement and the reading side are in
tasks/telemetry/counters.py.
"""

from datetime import datetime

from tasks.telemetry import counters


def run_once(now: datetime) -> int:
    """Fold every delta written so far; returns how many were folded."""
    return counters.fold()
