"""The audit: every task id the producer wrote down, held against the
database and the side-effect log that each execution appends to.

A committed task must end in its expected status (completed, or failed for
poison), having run once; it may have run more than once only when each extra
run was an attempt the queue itself recorded as cut short by a crash (worker
lost, slot crashed, shutdown). Anything else is unexplained and fails the run.
A rolled-back enqueue must leave no row and no execution.
"""

import collections
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

# Attempts the queue records as cut short by a crash, not by the handler.
CRASH_ERRORS = {"tasks.exceptions.WorkerLost", "tasks.exceptions.SlotCrashed",
                "tasks.exceptions.WorkerShutdown", "tasks.exceptions.TaskTimeout"}


@dataclass
class Audit:
    committed: int = 0
    rolled_back: int = 0
    in_doubt: int = 0
    in_doubt_committed: int = 0
    refused: int = 0
    finished: int = 0  # reached their expected status
    lost: list[str] = field(default_factory=list)
    executions: int = 0
    duplicated: int = 0  # ran more than once, each extra run explained by a crash
    unexplained: list[str] = field(default_factory=list)
    rolled_back_ran: list[str] = field(default_factory=list)
    attempt_errors: collections.Counter = field(default_factory=collections.Counter)  # by error type

    @property
    def ok(self) -> bool:
        return not self.lost and not self.unexplained and not self.rolled_back_ran

    def summary(self) -> str:
        errors = ", ".join(f"{name} {n}" for name, n in sorted(self.attempt_errors.items())) or "none"
        return (f"committed {self.committed}, finished {self.finished}, lost {len(self.lost)}, "
                f"duplicated {self.duplicated} (explained), unexplained {len(self.unexplained)}, "
                f"rolled back {self.rolled_back} (ran: {len(self.rolled_back_ran)}), "
                f"in doubt {self.in_doubt} ({self.in_doubt_committed} committed), refused {self.refused}; "
                f"failed attempts recorded: {errors}")


def read_fates(paths: list[Path]) -> dict[str, str]:
    fates = {}
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                fate, task_id = line.split()
                fates[task_id] = fate
    return fates


def read_effects(path: Path) -> dict[str, list[int]]:
    """Attempt numbers of every execution, by task id."""
    runs = collections.defaultdict(list)
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:  # a line cut by a SIGKILL mid-write is not an execution
                runs[parts[0]].append(int(parts[1]))
    return runs


def read_rows(database_url: str) -> dict[str, tuple]:
    with psycopg.connect(database_url, application_name="faults-observer") as conn:
        rows = conn.execute("SELECT id::text, status, attempt, type, errors FROM tasks_task").fetchall()
    return {row[0]: row[1:] for row in rows}


def audit(database_url: str, fates: dict[str, str], effects: dict[str, list[int]],
          expected: dict[str, str] | None = None) -> Audit:
    """`expected` maps a task type to its final status (default: completed)."""
    expected = expected or {}
    rows = read_rows(database_url)
    result = Audit()
    for *_, errors in rows.values():
        result.attempt_errors.update(e.get("type", "?").rsplit(".", 1)[-1] for e in errors)
    for task_id, fate in fates.items():
        row = rows.get(task_id)
        runs = effects.get(task_id, [])
        if fate in ("rolledback", "refused"):
            result.rolled_back += fate == "rolledback"
            result.refused += fate == "refused"
            if row is not None or runs:
                result.rolled_back_ran.append(task_id)
            continue
        if fate == "indoubt":
            result.in_doubt += 1
            if row is None:
                if runs:
                    result.unexplained.append(task_id)
                continue
            result.in_doubt_committed += 1
        result.committed += 1
        if row is None:
            result.lost.append(task_id)
            continue
        status, attempt, task_type, errors = row
        if status != expected.get(task_type, "completed"):
            result.lost.append(task_id)
            continue
        result.finished += 1
        result.executions += len(runs)
        if task_type in ("record", "flowstep") and not _explained(runs, attempt, errors):
            result.unexplained.append(task_id)
        elif len(runs) > 1:
            result.duplicated += 1
    return result


def _explained(runs: list[int], final_attempt: int, errors: list[dict]) -> bool:
    """Ran exactly once, or each extra run is an attempt recorded as cut short by a crash."""
    if not runs or len(set(runs)) != len(runs) or final_attempt not in runs:
        return False  # never ran, or one attempt ran twice (two holders of one claim)
    crashed = {e.get("attempt") for e in errors if e.get("type") in CRASH_ERRORS}
    return all(attempt in crashed for attempt in runs if attempt != final_attempt)
