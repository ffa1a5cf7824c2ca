"""Housekeeping: one chore per file, each `run_once(now) -> count`, safe to call
from any number of workers at once (an advisory lock elects one), and the
Housekeeper thread (housekeeper.py) that only sleeps and calls them.

promote (due scheduled tasks become pending), rescue (tasks of dead workers),
fire_schedules (periodic ticks), prune (finished tasks past retention),
fold_stats (counter deltas into totals), fold_events and prune_events (the
event log into the metrics, then away), repair_flows (a safety net for
workflow tasks and batches a drifted count left waiting).
"""
