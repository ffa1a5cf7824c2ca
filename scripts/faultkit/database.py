"""Scenarios in which the database misbehaves: it restarts (2), a long
transaction holds back vacuum (5), connections are budgeted and pooled (6)."""


def restart_postgres(lab):
    """2. Restart PostgreSQL and drop every connection in the middle of a drain."""
    raise NotImplementedError


def long_transaction(lab):
    """5. A transaction held open elsewhere during a drain."""
    raise NotImplementedError


def connection_budget(lab):
    """6. Connection budget, and PgBouncer in transaction mode."""
    raise NotImplementedError
