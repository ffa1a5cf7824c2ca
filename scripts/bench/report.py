"""docs/benchmarks.md from the results of one run of the benchmark."""

from pathlib import Path
from statistics import median

from scripts.bench import api_report

NOTE = """\
Measured on a **shared, noisy 2-core machine**: several engineers run test suites on it at the
same time, and the load generator, the web server, the workers and PostgreSQL all share its two
cores. Absolute numbers move by ±30% from run to run; compare the ratios measured in one run
(the floor and the drain below come from the same run)."""


# A separate script (it starts clusters of its own); its figures live in docs/scaling.md.
REPLICATION = [
    "## Replication: a synchronous standby", "",
    "Not part of `make bench`: `.venv/bin/python scripts/bench_replication.py` runs the enqueue and drain "
    "sections on a primary alone, then with a streaming standby (asynchronous, synchronous, and synchronous "
    "with `QUEUE_ASYNC_COMMIT=true`), on two throwaway clusters of its own. Its latest figures, and what a "
    "synchronous standby costs across machines, are in "
    "[Scaling](scaling.md#high-availability-failover-and-read-replicas).", "",
]


def render(r: dict) -> str:
    out = ["# Benchmarks", "", f"Produced by `{r['command']}` on {r['date']} "
           f"({r['runs']} runs per figure, medians; the whole run took {r['minutes']:.0f} minutes).", "", NOTE, ""]
    out += _targets(r)
    if "enqueue" in r:
        out += _enqueue(r["enqueue"])
    if r.get("api"):
        out += api_report.section(r["api"])
    if r.get("auth"):
        out += _auth(r["auth"])
    if "drain" in r or "floor" in r:
        out += _drain(r.get("drain"), r.get("floor"))
    if r.get("drain", {}).get("profile"):
        out += _profile(r["drain"])
    if "workflows" in r:
        out += _workflows(r["workflows"])
    if "latency" in r:
        out += _latency(r["latency"])
    if "scale" in r:
        out += _scale(r["scale"])
    if "flow" in r:
        out += _flow(r["flow"])
    out += REPLICATION
    out += ["## Where it ran", "",
            "Load average (1 minute) at the start of each section, from everything on the machine: "
            + ", ".join(f"{name} {load:.1f}" for name, load in r.get("load", {}).items()) + ".", ""]
    for title, key in (("Machine", "machine"), ("Versions", "versions"), ("PostgreSQL settings", "postgres")):
        out += [f"**{title}**", "", "| | |", "| --- | --- |"]
        out += [f"| {name} | {value} |" for name, value in r[key].items()] + [""]
    return "\n".join(out)


def _targets(r: dict) -> list[str]:
    rows = []

    def target(name, value, goal, ok):
        rows.append(f"| {name} | {value} | {goal} | {'met' if ok else '**missed**'} |")

    if "drain" in r and r["drain"]["ratios"]:
        d = r["drain"]
        ratio, tuned = median(d["ratios"]), median(d["tuned_ratios"])
        target("drain, 1 worker process vs the batched floor (paired runs)",
               f"{ratio:.0%} ({', '.join(f'{x:.0%}' for x in d['ratios'])})", "≥ 50%", ratio >= 0.5)
        target("the same, tuned settings", f"{tuned:,.0%} ({', '.join(f'{x:.0%}' for x in d['tuned_ratios'])})",
               "≥ 50%", tuned >= 0.5)
    if "drain" in r:
        d = r["drain"]
        two = d[2]["rate"]
        target("drain, 2 worker processes", f"{two:,.0f} tasks/s", "≥ 2,000/s", two >= 2000)
        for processes in (1, 2):
            ratios = d["kind_ratios"][processes]
            ratio = median(ratios)
            target(f"drain of django.tasks functions vs echo, {processes} process(es) (paired runs)",
                   f"{ratio:.0%} ({', '.join(f'{x:.0%}' for x in ratios)})", "≥ 80%", ratio >= 0.8)
        target("drain of django.tasks functions, 2 processes vs 1",
               f"{d[2]['django.tasks']:,.0f} vs {d[1]['django.tasks']:,.0f} tasks/s", "faster",
               d[2]["django.tasks"] > d[1]["django.tasks"])
    if "latency" in r:
        for name, lat in (("echo", r["latency"]), ("django.tasks", r["latency"]["django.tasks"])):
            target(f"pickup latency p50 / p99, {name}", f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms",
                   "≤ 3 / ≤ 10 ms", lat["p50_ms"] <= 3 and lat["p99_ms"] <= 10)
    if "enqueue" in r:
        e = r["enqueue"]
        for name, kind in (("`queue.enqueue`", "echo"), ("`.enqueue()` of a django.tasks function", "django.tasks")):
            rate = e[f"single {kind}"]
            target(f"single enqueue, {name}", f"{rate:,.0f} tasks/s ({rate / e['floor_single']:.0%} of the floor)",
                   "≥ 2,400/s", rate >= 2400)
        for name, kind in (("`queue.build` + `queue.enqueue_many`", "echo"),
                           ("`.enqueue_many()` of a django.tasks function", "django.tasks")):
            rate = e[f"bulk {kind}"]
            target(f"bulk enqueue, {name}", f"{rate:,.0f} tasks/s ({rate / e['floor_bulk']:.0%} of the floor)",
                   "≥ 60,000/s", rate >= 60000)
    if r.get("api"):
        bulk = r.get("enqueue", {}).get("bulk")
        for name, value, goal, ok in api_report.targets(r["api"], bulk):
            target(name, value, goal, ok)
    if "scale" in r:
        empty, full = r["scale"]["empty"], r["scale"]["full"]
        for label, field in (("claim", "claim_ms"), ("stats", "stats_ms"), ("list page", "list_ms")):
            ratio = getattr(full, field) / getattr(empty, field)
            target(f"{label} at {full.rows:,} finished rows vs {empty.rows:,}", f"{ratio:.2f}×", "≤ 2×", ratio <= 2)
    if "drain" in r:
        rss = max(r["drain"][1]["supervisor_rss_mb"], r["drain"][2]["supervisor_rss_mb"])
        target("worker RSS (supervisor, peak)", f"{rss:.0f} MB", "< 100 MB", rss < 100)
    if not rows:
        return []
    return ["## Against the targets", "", "| target | measured | goal | |", "| --- | --- | --- | --- |", *rows, ""]


def _enqueue(e: dict) -> list[str]:
    size = e["bulk_size"]
    out = ["## 1. Enqueue", "",
           "Each round measures the floors, then each kind; the figures are medians of the rounds (5 at least). "
           "The floors are a lean eight-column table with one index and no triggers, as a minimal SKIP LOCKED "
           "queue has, through plain psycopg.", "",
           "| how | tasks/s | latency p50 / p99 |", "| --- | --- | --- |",
           f"| floor: `INSERT ... RETURNING id`, one per transaction (2,000), prepared | {e['floor_single']:,.0f} | |",
           f"| `queue.enqueue(\"echo\")`, one task per transaction (2,000) | {e['single echo']:,.0f} | |",
           f"| `.enqueue()` of a django.tasks function, one per transaction (2,000) | {e['single django.tasks']:,.0f} | |",
           f"| floor: `executemany` INSERT, {size:,} per transaction | {e['floor_bulk']:,.0f} | |",
           f"| `queue.build` + `queue.enqueue_many` of echo, {size:,} per call | {e['bulk echo']:,.0f} | |",
           f"| `.enqueue_many()` of a django.tasks function, {size:,} per call | {e['bulk django.tasks']:,.0f} | |"]
    return out + ["", "Over HTTP: section 1b.", ""]


def _drain(d: dict | None, f: dict | None) -> list[str]:
    out = ["## 2. Drain, and 4. the floor", ""]
    if d:
        out += ["No-op tasks (`echo` of null), pre-queued, run to completion; every task verified completed at "
                "attempt 1 and counted once by the workers.", "",
                "The django.tasks rows run a no-op `@task` function (`scripts/bench/pytask.py`, a module no setting "
                "names: workers import it by the module its rows record), at echo's best slot count, each run "
                "beside an echo run.", "",
                "| worker processes | best slots per process | echo tasks/s | django.tasks tasks/s | tried, echo (slots: tasks/s) |",
                "| --- | --- | --- | --- | --- |"]
        for processes in (1, 2):
            row = d[processes]
            tried = ", ".join(f"{c}: {rate:,.0f}" for c, rate in row["tried"].items())
            out.append(f"| {processes} | {row['concurrency']} | {row['rate']:,.0f} | {row['django.tasks']:,.0f} | {tried} |")
        out += ["", "The ratio to the floor pairs each 1-process run with a floor run (batches of 100) made "
                "just before it, under the same load from elsewhere: "
                f"default {', '.join(f'{x:.0%}' for x in d['ratios'])}; "
                f"tuned {', '.join(f'{x:.0%}' for x in d['tuned_ratios'])}.",
                "", "Default settings: every task logs its two INFO lines (to a file). Tuned "
                "(`LOG_LEVEL=WARNING QUEUE_ASYNC_COMMIT=true`), same slots:", "",
                "| worker processes | echo, default | echo, tuned | django.tasks, default | django.tasks, tuned |",
                "| --- | --- | --- | --- | --- |"]
        out += [f"| {p} | {d[p]['rate']:,.0f} | {d['tuned'][p]:,.0f} | {d[p]['django.tasks']:,.0f} "
                f"| {d[p]['tuned django.tasks']:,.0f} |" for p in (1, 2)]
        out.append("")
    if f:
        out += ["The floor: a plain psycopg loop on an equivalent table (same columns, indexes, storage settings "
                "and triggers), claim then complete, each statement its own transaction:", "",
                "| loop | rows/s |", "| --- | --- |",
                f"| one job per transaction (claim 1, complete 1) | {f['batch_1']:,.0f} |",
                f"| batches of 100 | {f['batch_100']:,.0f} |", ""]
    if d:
        out += ["## 6. Memory", "",
                f"Peak RSS (VmHWM) while draining: supervisor {max(d[1]['supervisor_rss_mb'], d[2]['supervisor_rss_mb']):.0f} MB, "
                f"largest slot process {max(d[1]['slot_rss_mb'], d[2]['slot_rss_mb']):.0f} MB (slots are forked from a "
                "server that has Django loaded, so most of their pages are shared).", ""]
    return out


def _profile(d: dict) -> list[str]:
    analysis = (Path(__file__).parent / "analysis.md").read_text().strip()
    return ["## Where the time goes", "", analysis, "",
            f"py-spy, one worker process with {d[1]['concurrency']} slots draining the same tasks (this run):", "",
            "```", d["profile"], "```", ""]


def _auth(a: dict) -> list[str]:
    return ["## Authentication", "",
            "What authenticating one API request costs, in process: a credential the web process remembers "
            "(`QUEUE_API_TOKEN_CACHE`, 5 s) and one looked up (`0`: a SELECT by prefix and a SHA-512 for an API "
            "key; the token row and its user's scope permissions for a legacy token).", "",
            "| credential | remembered | looked up |", "| --- | --- | --- |",
            *(f"| {name} | {v['remembered_us']:.1f} µs | {v['lookup_us']:,.0f} µs |" for name, v in a.items()), ""]


def _workflows(w: dict) -> list[str]:
    labels = {"plain": "plain drain (no workflow), the reference", "fan-in": "fan-out, then one fan-in node",
              "batch": "a batch, then its on_complete callback", "chain": "a chain (each after the previous)"}
    plain = w["plain"]["rate"]
    return ["## Workflows and batches", "",
            "One worker process with 4 slots drains each shape of echo tasks, runs alternated; the clock stops "
            "when the last node (fan-in, callback, end of the chain) completes. A node is released by the "
            "transaction that completes its last dependency (docs/workflows.md).", "",
            "| shape | tasks | tasks/s | vs plain | enqueue (one transaction) |", "| --- | --- | --- | --- | --- |",
            *(f"| {labels[s]} | {v['tasks']:,} | {v['rate']:,.0f} | {v['rate'] / plain:.2f} | "
              f"{v['enqueue_seconds']:.2f} s |" for s, v in w.items()), ""]


def _latency(lat: dict) -> list[str]:
    rows = [(name, values) for name, values in (("echo", lat), ("django.tasks function", lat["django.tasks"]))]
    return ["## 3. Pickup latency", "",
            "An idle worker (4 slots, LISTEN/NOTIFY); 200 tasks enqueued one at a time every 20 ms; from the "
            "enqueue's commit to the start of the handler.", "",
            "| tasks | p50 | p99 | max |", "| --- | --- | --- | --- |",
            *(f"| {name} | {v['p50_ms']:.2f} ms | {v['p99_ms']:.2f} ms | {v['max_ms']:.1f} ms |" for name, v in rows),
            ""]


def _flow(f: dict) -> list[str]:
    ab, lim, rate = f["ab"], f["limited"], f["rate"]
    return ["## Flow control", "",
            "Each run drains three times in turn (docs/flow-control.md): no-op tasks with no limit anywhere, "
            "with a limited queue the workers do not serve, and with the workers also serving it (idle):", "",
            "| drain | tasks/s |", "| --- | --- |",
            f"| no limits | {ab['plain']:,.0f} |", f"| a limited queue elsewhere | {ab['limit_elsewhere']:,.0f} |",
            f"| also serving a limited queue | {ab['limit_served_too']:,.0f} |", "",
            f"A queue with max_running {lim['limit']}, {lim['slots']} slots, sleep tasks: "
            f"{lim['rate']:,.1f} tasks/s from the resume, {lim['steady_rate']:,.1f} from the first start, "
            f"against a bound of {lim['bound']:,.0f}; {lim['gap_ms']:.1f} ms from a task's end to the next start. "
            f"rate_limit {rate['limit']} per {rate['period']:g} s over {rate['seconds']:g} s: "
            f"{rate['observed']:,.2f} starts/s against {rate['expected']:,.2f} "
            f"({100 * (rate['observed'] / rate['expected'] - 1):+.1f}%).", ""]


def _scale(s: dict) -> list[str]:
    empty, full = s["empty"], s["full"]

    def row(label, field):
        a, b = getattr(empty, field), getattr(full, field)
        if a is None or b is None:
            return f"| {label} | not on this branch yet | | |"
        return f"| {label} | {a:.2f} ms | {b:.2f} ms | {b / a:.2f}× |"

    uses = "" if "task_claim_idx" in s["plan"] else " (**not** through task_claim_idx in this run)"
    return ["## 5. Scale", "",
            f"Median latency with {empty.rows:,} and with {full.rows:,} finished tasks in the table (completed, failed, "
            "cancelled over four queues, with payloads and results; vacuumed and analysed), plus 1,240 pending tasks "
            "in the queue that is claimed:", "",
            f"| operation | {empty.rows:,} rows | {full.rows:,} rows | ratio |", "| --- | --- | --- | --- |",
            row("`tasks.telemetry.summary.stats()`", "stats_ms"),
            row("`GET /api/stats` (in process)", "stats_http_ms"),
            row("task list page: newest 50, serialized", "list_ms"),
            row("task list page: newest 50 failed, serialized", "list_filtered_ms"),
            row("`GET /api/tasks?limit=50` (in process)", "list_http_ms"),
            row("claim of 10, named queue", "claim_ms"),
            row("claim of 10, every queue (`--queues '*'`)", "claim_all_ms"),
            row("dashboard: task list page (in process)", "dashboard_tasks_ms"),
            row("dashboard: dead letters page (in process)", "dashboard_dead_ms"),
            row("dashboard: metrics over 7 days (in process)", "dashboard_metrics_ms"),
            row("admin: task list (in process)", "admin_tasks_ms"),
            "", f"The claim at {full.rows:,} finished rows, with 1,000 pending tasks in its queue "
            f"(`EXPLAIN (ANALYZE, BUFFERS)`){uses}:", "",
            "```", s["plan"], "```", ""]
