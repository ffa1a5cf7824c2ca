"""docs/benchmarks.md from the results of one run of the benchmark."""

from pathlib import Path
from statistics import median

NOTE = """\
Measured on a **shared, noisy 2-core machine**: several engineers run test suites on it at the
same time, and the load generator, the web server, the workers and PostgreSQL all share its two
cores. Absolute numbers move by ±30% from run to run; compare the ratios measured in one run
(the floor and the drain below come from the same run)."""


def render(r: dict) -> str:
    out = ["# Benchmarks", "", f"Produced by `{r['command']}` on {r['date']} "
           f"({r['runs']} runs per figure, medians; the whole run took {r['minutes']:.0f} minutes).", "", NOTE, ""]
    out += _targets(r)
    if "enqueue" in r:
        out += _enqueue(r["enqueue"])
    if "drain" in r or "floor" in r:
        out += _drain(r.get("drain"), r.get("floor"))
    if r.get("drain", {}).get("profile"):
        out += _profile(r["drain"])
    if "latency" in r:
        out += _latency(r["latency"])
    if "scale" in r:
        out += _scale(r["scale"])
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
        two = r["drain"][2]["rate"]
        target("drain, 2 worker processes", f"{two:,.0f} tasks/s", "≥ 2,000/s", two >= 2000)
    if "latency" in r:
        lat = r["latency"]
        target("pickup latency p50 / p99", f"{lat['p50_ms']:.1f} / {lat['p99_ms']:.1f} ms", "< 5 / < 50 ms",
               lat["p50_ms"] < 5 and lat["p99_ms"] < 50)
    if "enqueue" in r:
        e = r["enqueue"]
        target("bulk enqueue (Python)", f"{e['bulk']:,.0f} tasks/s", "≥ 20,000/s", e["bulk"] >= 20000)
        if "http_bulk" in e:
            target("bulk enqueue (HTTP)", f"{e['http_bulk']['tasks_per_s']:,.0f} tasks/s", "≥ 20,000/s",
                   e["http_bulk"]["tasks_per_s"] >= 20000)
        target("single enqueue (Python)", f"{e['single']:,.0f} tasks/s", "≥ 1,000/s", e["single"] >= 1000)
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
    out = ["## 1. Enqueue", "", "| how | tasks/s | latency p50 / p99 |", "| --- | --- | --- |",
           f"| `queue.enqueue`, one task per transaction (2,000; median of 5 runs) | {e['single']:,.0f} | |",
           f"| `queue.build` + `queue.enqueue_many` (20,000 in one COPY; median of 5 runs) | {e['bulk']:,.0f} | |"]
    if "http" in e:
        out.append(_http_row("`POST /api/tasks`, wrk, 16 connections, 2 uvicorn processes", e["http"]))
    else:
        out.append("| `POST /api/tasks` | not measured: wrk is not installed | |")
    if "http_one" in e:
        out.append(_http_row("`POST /api/tasks`, wrk, 1 connection (one request after another)", e["http_one"]))
    if "http_bulk" in e:
        b = e["http_bulk"]
        out.append(_http_row(f"`POST /api/tasks/bulk`, {b['size']:,} tasks per request, wrk, 4 connections", b,
                             f"{b['tasks_per_s']:,.0f} ({b['requests_per_s']:,.0f} requests/s)"))
    else:
        out.append("| `POST /api/tasks/bulk` | pending: the endpoint is not on this branch yet | |")
    return out + [""]


def _http_row(how: str, run: dict, rate: str | None = None) -> str:
    """A table row for a wrk run: requests/s (or `rate`), then p50 / p99."""
    rate = rate or f"{run['requests_per_s']:,.0f}"
    return f"| {how} | {rate} | {run['p50_ms']:.1f} / {run['p99_ms']:.1f} ms |"


def _drain(d: dict | None, f: dict | None) -> list[str]:
    out = ["## 2. Drain, and 4. the floor", ""]
    if d:
        out += ["No-op tasks (`echo` of null), pre-queued, run to completion; every task verified completed at "
                "attempt 1 and counted once by the workers.", "",
                "| worker processes | best slots per process | tasks/s | tried (slots: tasks/s) |",
                "| --- | --- | --- | --- |"]
        for processes in (1, 2):
            row = d[processes]
            tried = ", ".join(f"{c}: {rate:,.0f}" for c, rate in row["tried"].items())
            out.append(f"| {processes} | {row['concurrency']} | {row['rate']:,.0f} | {tried} |")
        out += ["", "The ratio to the floor pairs each 1-process run with a floor run (batches of 100) made "
                "just before it, under the same load from elsewhere: "
                f"default {', '.join(f'{x:.0%}' for x in d['ratios'])}; "
                f"tuned {', '.join(f'{x:.0%}' for x in d['tuned_ratios'])}.",
                "", "Default settings: every task logs its two INFO lines (to a file). Tuned "
                "(`LOG_LEVEL=WARNING QUEUE_ASYNC_COMMIT=true`), same slots:", "",
                "| worker processes | tasks/s, default | tasks/s, tuned |", "| --- | --- | --- |"]
        out += [f"| {p} | {d[p]['rate']:,.0f} | {d['tuned'][p]:,.0f} |" for p in (1, 2)]
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


def _latency(lat: dict) -> list[str]:
    return ["## 3. Pickup latency", "",
            "An idle worker (4 slots, LISTEN/NOTIFY); 200 tasks enqueued one at a time every 20 ms; from the "
            "enqueue's commit to the start of the handler.", "",
            "| p50 | p99 | max |", "| --- | --- | --- |",
            f"| {lat['p50_ms']:.2f} ms | {lat['p99_ms']:.2f} ms | {lat['max_ms']:.1f} ms |", ""]


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
