"""The project under test ("ours", a Django task queue on PostgreSQL) benchmark driver.

Unlike the other drivers this one runs with the PROJECT's interpreter, from the
project's checkout, with this folder on PYTHONPATH:

    cd <project checkout> && PYTHONPATH=<this folder> .venv/bin/python <this folder>/bench_ours.py

(OURS_ROOT=<checkout> may replace the cd.) It measures two paths:

- "echo": the built-in `echo` task type with a null payload, enqueued with
  `tasks.queue.enqueue` (one per transaction) and `queue.build` +
  `queue.enqueue_many` (COPY, BULK_CHUNK per call), run by `manage.py worker`.
- "django.tasks": a no-op `@django.tasks.task` function (ours_tasks.noop, in this
  folder, named in QUEUE_HANDLER_MODULES), enqueued with `.enqueue()` one by one
  and `.enqueue_many()` (BULK_CHUNK per call) in bulk.

Workers are the project's own `manage.py worker --burst --concurrency C`
(supervisor + C slot processes each), with LOG_LEVEL=WARNING by default
(OURS_LOG_LEVEL): the other systems' workers write no per-job log lines either.
The database is ${BENCH_DB_PREFIX}_ours on the libpq server of PGHOST/PGPORT/PGUSER
(the same server and transport as the other drivers); OURS_DATABASE_URL overrides it
(for example postgresql://root@127.0.0.1:5432/peerbench_ours; that database must exist).

Drain rate = N / (first job's start to last job's end), as for the other systems.
The project stamps each attempt's handler start and end in the slot process
(time.time(), stored as started_at / completed_at), so the span is taken from the
table: max(completed_at) - min(started_at). For the django.tasks path the
function also logs its own calls like the other systems' no-ops (results/exec),
and that span is recorded too (fn_rate). Wall-clock time from spawning the
workers to their exit is recorded as wall_s / wall_rate.

Correctness: every row must end `completed` at attempt 1 with no retry used,
the workers' `processed` counters must add up to N, every worker must exit 0,
and (django.tasks path) every job number must have run exactly once.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import psycopg  # noqa: E402
from psycopg.conninfo import make_conninfo  # noqa: E402

ROOT = os.path.abspath(os.environ.get("OURS_ROOT", os.getcwd()))
MANAGE = os.path.join(ROOT, "manage.py")
if not os.path.exists(os.path.join(ROOT, "tasks", "queue", "enqueue.py")):
    sys.exit(f"bench_ours: {ROOT} is not the project's checkout; cd there or set OURS_ROOT")
sys.path.insert(0, ROOT)

DB_URL = os.environ.get("OURS_DATABASE_URL") or make_conninfo(
    "", dbname=common.dbname("ours"), host=os.environ.get("PGHOST") or None,
    port=os.environ.get("PGPORT") or None, user=os.environ.get("PGUSER") or None)
LOG_LEVEL = os.environ.get("OURS_LOG_LEVEL", "WARNING")
CONCURRENCIES = [int(c) for c in os.environ.get("OURS_CONCURRENCY", "2,4,8").split(",")]
LAT_CONCURRENCY = int(os.environ.get("OURS_LAT_CONCURRENCY", "4"))  # the project's default QUEUE_CONCURRENCY
HANDLER_MODULE = "ours_tasks"
LOG_DIR = os.path.join(os.path.dirname(common.RESULTS), "ours-logs")  # worker output of LOG_LEVEL=INFO runs

os.environ["DATABASE_URL"] = DB_URL
os.environ["QUEUE_HANDLER_MODULES"] = HANDLER_MODULE
os.environ["LOG_LEVEL"] = LOG_LEVEL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "queueproject.settings")

if os.environ.get("OURS_DATABASE_URL") is None:
    common.ensure_db("ours")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402

from tasks import queue  # noqa: E402
from tasks.models import Task, Worker  # noqa: E402

from ours_tasks import noop  # noqa: E402

SYSTEM = {"echo": "ours (echo handler)", "djtask": "ours (django.tasks function)"}
TABLES = ["tasks_task", "tasks_worker", "tasks_statdelta", "tasks_statcount", "tasks_statminute",
          "tasks_webhookdelivery", "tasks_event"]


def q(sql_text, params=None):
    with connection.cursor() as c:
        c.execute(sql_text, params)
        return c.fetchall() if c.description else None


def truncate():
    q("truncate " + ", ".join(TABLES) + " cascade")


def settle():
    """common.settle (ANALYZE the queue table, CHECKPOINT) on this driver's database."""
    connection.close()  # the driver holds no connection while workers run
    with psycopg.connect(DB_URL, autocommit=True) as c:
        c.execute("analyze tasks_task")
        c.execute("checkpoint")


def worker_env(log_level=None):
    pp = os.environ.get("PYTHONPATH", "")
    return {"DATABASE_URL": DB_URL, "QUEUE_HANDLER_MODULES": HANDLER_MODULE,
            "LOG_LEVEL": log_level or LOG_LEVEL, "BENCH_WORKER": "1",
            "PYTHONPATH": HERE + (os.pathsep + pp if pp else "")}


def worker_cmd(conc, *extra):
    return [sys.executable, MANAGE, "worker", "--concurrency", str(conc), *extra]


def run_workers(cmds, env, log_name=None, timeout=1800):
    """As common.run_workers, from the project's checkout; with log_name, each
    worker's stdout+stderr go to ours-logs/<log_name>-<i>.log beside the results file."""
    e = dict(os.environ, **env)
    outs = []
    if log_name:
        os.makedirs(LOG_DIR, exist_ok=True)
        outs = [open(os.path.join(LOG_DIR, f"{log_name}-{i}.log"), "wb") for i in range(len(cmds))]
    t0 = time.time()
    procs = [subprocess.Popen(c, env=e, cwd=ROOT, stdout=outs[i] if outs else None,
                              stderr=subprocess.STDOUT if outs else None)
             for i, c in enumerate(cmds)]
    try:
        rcs = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:  # only on a timeout or an error: never leave a worker behind
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=60)
        for f in outs:
            f.close()
    t1 = time.time()
    if any(rcs):
        print("WARNING worker exit codes", rcs, file=sys.stderr)
    return t0, t1, rcs


def bulk_insert(path, n):
    for s in range(0, n, common.BULK_CHUNK):
        size = min(common.BULK_CHUNK, n - s)
        if path == "echo":
            queue.enqueue_many([queue.build("echo", None) for _ in range(size)])
        else:
            noop.enqueue_many([(i,) for i in range(s, s + size)])


def db_check(n):
    """What the task table says after a run: rows completed at attempt 1 with no retry
    (ok_rows), rows claimed more than once (re_run: a duplicate execution shows as
    attempt > 1), rows not completed plus rows that never existed (lost), the
    histogram of (status, attempt), first handler start, last handler end, and the
    workers' processed counters."""
    (ok_rows, total, re_run, not_done, first, last), = q(
        "select count(*) filter (where status = 'completed' and attempt = 1 and retry_count = 0), count(*), "
        "count(*) filter (where attempt > 1), count(*) filter (where status <> 'completed'), "
        "extract(epoch from min(started_at)), extract(epoch from max(completed_at)) from tasks_task")
    hist = {f"{s}/attempt{a}": c for s, a, c in q(
        "select status, attempt, count(*) from tasks_task group by 1, 2 order by 1, 2")}
    processed = Worker.objects.aggregate(total=Sum("processed"))["total"] or 0
    return dict(ok_rows=ok_rows, rows=total, re_run=re_run, lost=not_done + max(0, n - total), hist=hist,
                first=float(first) if first is not None else None,
                last=float(last) if last is not None else None, processed=processed)


# ---------------------------------------------------------------------------- enqueue

def enqueue_single(rep, path):
    truncate()
    settle()
    if path == "echo":
        t0 = time.perf_counter()
        for _ in range(common.N_ENQ):
            queue.enqueue("echo", None)
        dt = time.perf_counter() - t0
        note = 'queue.enqueue("echo", None) per job, autocommit (1 commit/job)'
    else:
        t0 = time.perf_counter()
        for i in range(common.N_ENQ):
            noop.enqueue(i)
        dt = time.perf_counter() - t0
        note = "@django.tasks.task function .enqueue(i) per job, autocommit (1 commit/job)"
    assert Task.objects.count() == common.N_ENQ
    common.record(system=SYSTEM[path], test="enqueue_single", rep=rep, n=common.N_ENQ, secs=dt,
                  rate=common.N_ENQ / dt, note=note)


def enqueue_bulk(rep, path):
    truncate()
    settle()
    t0 = time.perf_counter()
    bulk_insert(path, common.N_ENQ)
    dt = time.perf_counter() - t0
    assert Task.objects.count() == common.N_ENQ
    if path == "echo":
        note = f"queue.build + queue.enqueue_many (one INSERT), {common.BULK_CHUNK} jobs/call (validation included)"
    else:
        note = (f"@django.tasks.task function .enqueue_many([(i,), ...]), {common.BULK_CHUNK}/call "
                "(validates arguments, sends task_enqueued per task)")
    common.record(system=SYSTEM[path], test="enqueue_bulk", rep=rep, n=common.N_ENQ, secs=dt,
                  rate=common.N_ENQ / dt, note=note)


# ---------------------------------------------------------------------------- drain

def drain(rep, path, procs, conc, log_level=None, tag=""):
    n = common.N_DRAIN
    truncate()
    bulk_insert(path, n)
    settle()
    common.clear_exec()
    level = log_level or LOG_LEVEL
    t0, t1, rcs = run_workers([worker_cmd(conc, "--burst")] * procs, worker_env(level),
                              log_name=f"drain-{path}-p{procs}-c{conc}{tag}" if level != "WARNING" else None)
    d = db_check(n)
    span = d["last"] - d["first"]
    rec = dict(system=SYSTEM[path] + (f" (LOG_LEVEL={level})" if level != LOG_LEVEL else ""),
               test=f"drain_p{procs}_c{conc}", rep=rep, n=n, procs=procs, conc=conc,
               secs=span, rate=n / span, wall_s=t1 - t0, wall_rate=n / (t1 - t0),
               db_ok_rows=d["ok_rows"], db_rows=d["rows"], db_status=d["hist"], processed=d["processed"],
               rcs=rcs, log_level=level)
    ok = d["ok_rows"] == n and d["rows"] == n and d["processed"] == n and all(r == 0 for r in rcs)
    dup, missing = d["re_run"], d["lost"]
    if path == "djtask":
        ex = common.collect_exec(n)
        ok = ok and ex["files"] > 0 and ex["unique"] == n and ex["duplicates"] == 0 and ex["missing"] == 0
        dup, missing = dup + ex["duplicates"], max(missing, ex["missing"])
        rec.update(executed=ex["executed"], exec_files=ex["files"], fn_secs=ex["span_s"],
                   fn_rate=(n / ex["span_s"]) if ex["span_s"] else None)
    rec.update(duplicates=dup, missing=missing, ok=ok,
               note=(f"manage.py worker --burst --concurrency {conc} x {procs} process(es), LOG_LEVEL={level}; "
                     "span = max(completed_at) - min(started_at), both stamped in the slot process"))
    common.record(**rec)
    return rec


# ---------------------------------------------------------------------------- latency

def latency(rep, path):
    truncate()
    settle()
    common.clear_exec()
    env = dict(os.environ, **worker_env())
    p = subprocess.Popen(worker_cmd(LAT_CONCURRENCY, "--max-tasks", str(common.N_LAT)), env=env, cwd=ROOT)
    try:
        # As the other drivers: let it start and go idle (4 s); ours also waits for the
        # worker's row to say "running" (written once its slot processes exist).
        deadline = time.time() + 60
        started = time.time()
        while not Worker.objects.filter(state="running").exists():
            if time.time() > deadline or p.poll() is not None:
                raise SystemExit("bench_ours: the latency worker did not start")
            time.sleep(0.1)
        ready_after = time.time() - started
        time.sleep(max(4.0 - ready_after, 1.0))
        t0s = {}
        for i in range(common.N_LAT):
            t0 = time.time()
            if path == "echo":
                t0s[str(queue.enqueue("echo", None).pk)] = t0
            else:
                t0s[str(noop.enqueue(i, t0).id)] = t0
            time.sleep(common.LAT_GAP)
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(timeout=60)
    d = db_check(common.N_LAT)
    db_lat = [(float(s) - t0s[str(pk)]) * 1000 for pk, s in
              q("select id, extract(epoch from started_at) from tasks_task")]
    rec = dict(system=SYSTEM[path], test="latency", rep=rep, worker_ready_s=ready_after,
               db_ok_rows=d["ok_rows"], db_status=d["hist"], processed=d["processed"])
    ok = (rc == 0 and d["ok_rows"] == common.N_LAT and d["rows"] == common.N_LAT
          and d["processed"] == common.N_LAT)
    dup, missing = d["re_run"], d["lost"]
    if path == "djtask":
        ex = common.collect_exec(common.N_LAT)
        lat = [x * 1000 for x in ex["lat"]]
        ok = ok and ex["unique"] == common.N_LAT and ex["duplicates"] == 0
        dup, missing = dup + ex["duplicates"], max(missing, ex["missing"])
        rec.update(db_p50_ms=common.pct(db_lat, 50), db_p99_ms=common.pct(db_lat, 99), exec_files=ex["files"])
        how = "time.time() in the function minus time.time() just before .enqueue()"
    else:
        lat = db_lat
        how = "started_at (slot's time.time() just before the handler) minus time.time() just before queue.enqueue()"
    rec.update(n=len(lat), p50_ms=common.pct(lat, 50), p99_ms=common.pct(lat, 99), max_ms=max(lat),
               duplicates=dup, missing=missing, ok=ok,
               note=(f"manage.py worker --concurrency {LAT_CONCURRENCY} --max-tasks {common.N_LAT}, idle, "
                     f"LISTEN/NOTIFY (trigger NOTIFY at commit); latency = {how}"))
    common.record(**rec)


# ---------------------------------------------------------------------------- main

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", default="enqueue,drain,latency")
    ap.add_argument("--paths", default="echo,djtask")
    ap.add_argument("--repeats", type=int, default=common.REPEATS)
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--info-log", action="store_true",
                    help="also one drain per (path, procs) at the best concurrency with LOG_LEVEL=INFO "
                         "(the project's default; worker output to ours-logs/ beside the results file)")
    a = ap.parse_args()
    call_command("migrate", verbosity=0)
    connection.close()
    tests = a.tests.split(",")
    paths = a.paths.split(",")
    procs_list = [int(p) for p in a.procs.split(",")]
    print(f"bench_ours: project {ROOT}, database {DB_URL}, LOG_LEVEL={LOG_LEVEL}, "
          f"concurrency {CONCURRENCIES}", flush=True)
    best = {}
    for rep in range(a.repeats):
        for path in paths:
            if "enqueue" in tests:
                enqueue_single(rep, path)
                enqueue_bulk(rep, path)
            if "drain" in tests:
                for procs in procs_list:
                    for conc in CONCURRENCIES:
                        r = drain(rep, path, procs, conc)
                        best.setdefault((path, procs), {}).setdefault(conc, []).append(r["rate"])
            if "latency" in tests:
                latency(rep, path)
    if a.info_log and "drain" in tests:
        for (path, procs), by_conc in best.items():
            conc = max(by_conc, key=lambda c: sorted(by_conc[c])[len(by_conc[c]) // 2])
            drain(0, path, procs, conc, log_level="INFO", tag="-info")
