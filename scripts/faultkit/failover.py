"""Scenarios in which the database machine dies and its standby takes over:
a primary with a streaming standby (tests/support/pgcluster.py), producers and
workers on the libpq multi-host URL `h1,h2/db?target_session_attrs=read-write`,
the primary SIGKILLed mid-drain, the standby promoted a few seconds later (the
time an HA manager such as Patroni takes to decide).

7 replicates synchronously: every acknowledged commit is on the standby, so
nothing committed may be lost. 8 replicates asynchronously: commits of the last
moments before the kill may never reach the standby; the scenario counts what
that window cost (lost enqueues, tasks run again) instead of failing on it.
"""

import time

from faultkit.cluster import ReplicaPair
from faultkit.database import OutageLoad, completed_since
from faultkit.lab import Lab, Result, completed, scalar, wait_until


def failover_sync(lab: Lab) -> Result:
    """7. Failover to a synchronous standby (primary SIGKILLed, standby promoted) mid-drain."""
    return _failover(lab, 7, synchronous=True)


def failover_async(lab: Lab) -> Result:
    """8. Failover to an asynchronous standby mid-drain: what the replication window loses."""
    return _failover(lab, 8, synchronous=False)


def _failover(lab: Lab, number: int, synchronous: bool) -> Result:
    mode = "sync" if synchronous else "async"
    name, tasks, down = f"s{number}_{mode}", (800 if lab.short else 5000), (3 if lab.short else 5)
    window = 1.0 if lab.short else 2.0  # seconds between the replication link's failure and the primary's
    pair = ReplicaPair()
    try:
        pair.primary.create_database(name)
        pair.add_standby(synchronous, through_link=True)
        url = pair.url(name, connect_timeout="2")
        fleet = lab.fleet(url, name)
        fleet.manage("migrate", "--verbosity", "0")
        load = OutageLoad(url, fleet, tasks, pause=0.25 if lab.short else 0.1)
        wait_until(lambda: completed(url) >= 150, 60)
        # The replication link fails first, then the primary: what the standby
        # missed in between is what each mode of replication may lose.
        pair.cut_link()
        time.sleep(window)
        missed = scalar(pair.primary.url(name), "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)",
                        [pair.standby.execute("SELECT pg_last_wal_receive_lsn()::text")[0][0]])
        killed = time.time()
        pair.primary.kill()
        time.sleep(down)
        pair.promote()
        promoted = time.time()
        wait_until(lambda: completed_since(url, promoted), 120)
        first_task = completed_since(url, promoted)
        first_201 = load.first_201_after(promoted)
        time.sleep(2)
        result, dead = load.finish(lab)
        fleet.stop_all()
    finally:
        lab.stop_everything()
        pair.destroy()
    problems = load.problems(result)
    if dead:
        problems.append(f"process(es) exited instead of reconnecting to the new primary: {dead}")
    if first_task is None:
        problems.append("no task completed after the promotion")
    figures = {
        "replication": "synchronous (synchronous_standby_names = '*', synchronous_commit = on)" if synchronous
        else "asynchronous (the default)",
        "workers": "3 × concurrency 2, a Python producer and an HTTP client through the web server, "
                   "all on the multi-host URL with target_session_attrs=read-write",
        "standby behind the primary at the kill": f"{missed} bytes of WAL it never received "
                                                  f"(the replication link was cut {window:.0f} s before the kill)",
        "HTTP answers": load.http_answers(),
        "first task completed after the promotion": "never" if first_task is None
        else f"{first_task - promoted:.1f} s ({first_task - killed:.1f} s after the kill)",
        "API creating tasks again after the promotion": "n/a" if first_201 is None else f"{first_201:.1f} s",
        "processes that had to be restarted": "none" if not dead else ", ".join(dead),
    }
    window_loss = not synchronous
    if window_loss:
        # What asynchronous replication risks, counted rather than failed on.
        figures["committed enqueues lost with the primary (async window)"] = str(len(result.lost))
        figures["tasks run again because their outcome was lost (async window)"] = str(len(result.unexplained))
        figures["what asynchronous replication risks"] = (
            "the commits the standby had not received when the primary died; here the standby is a loopback "
            f"hop away, so the window is the {window:.0f} s of the cut link (docs/scaling.md, High availability)")
    return Result(number, f"Failover to a{' synchronous' if synchronous else 'n asynchronous'} standby "
                          "(primary SIGKILLed, standby promoted), mid-drain", result,
                  faults=f"replication link cut, {window:.0f} s later SIGKILL of every primary process, "
                         f"promotion {down} s after that",
                  recovery="no task completed" if first_task is None else
                  f"first task done {first_task - promoted:.1f} s after the promotion, "
                  f"{first_task - killed:.1f} s after the kill",
                  figures=figures, problems=problems, window_loss=window_loss)
