"""The worker's pure policies, in-process, as tables: how much it claims, how
much it sends to a slot at once, when outcomes are flushed, and how the backlog
is shared among slots (with real slot processes, and nothing to run)."""

import time
import uuid
from collections import deque
from datetime import UTC, datetime

import pytest

from tasks.jobs import Job, Outcome
from tasks.worker.outcomes import Outcomes
from tasks.worker.pacing import BATCH_WORK, Pacer
from tasks.worker.slots import Slots

SHORT = 2**-13  # seconds (0.12 ms), exact in binary: 16 of them are a batch, 17 are not


def job(type: str = "echo", **fields) -> Job:
    values = dict(id=uuid.uuid4(), type=type, payload_json=None, queue="default", priority=0, attempt=1,
                  retry_count=0, max_retries=3, timeout=10.0, worker_id=uuid.uuid4())
    return Job(**{**values, **fields})


def pacer(concurrency=4, prefetch=-1, slot_batch=32, claim_batch=100, seconds=None) -> Pacer:
    p = Pacer(concurrency=concurrency, prefetch=prefetch, slot_batch=slot_batch, claim_batch=claim_batch)
    if seconds is not None:
        p.observe(job(), seconds)
    return p


@pytest.mark.parametrize("concurrency, prefetch, seconds, capacity", [
    (4, -1, None, 8),        # nothing seen yet: one per slot, plus as many again
    (4, 0, None, 4),         # no prefetch: one per slot
    (4, 10, None, 14),       # a fixed prefetch
    (4, -1, 1.0, 8),         # slow tasks: one per slot (HOLD_WORK is 20 ms)
    (4, -1, 0.001, 160),     # 1 ms tasks: 20 per slot, doubled by the prefetch
    (4, -1, 0.000001, 800),  # no-op tasks: capped at the claim batch (100) per slot
    (1, -1, 0.005, 8),       # 5 ms tasks: 4 per slot
])
def test_capacity_holds_about_twenty_milliseconds_of_work_per_slot(concurrency, prefetch, seconds, capacity):
    assert pacer(concurrency, prefetch, seconds=seconds).capacity() == capacity


@pytest.mark.parametrize("backlog, queued, allowed, size", [
    (0, 0, None, 8),    # empty: fill the capacity
    (0, 6, None, 2),    # slots hold 6 of 8
    (0, 8, None, 0),    # full
    (3, 2, None, 0),    # a backlog and less than half the capacity free: wait, top up in batches
    (2, 2, None, 4),    # half free: claim
    (0, 0, 3, 3),       # --max-tasks leaves 3
    (0, 0, 0, 0),       # --max-tasks reached
])
def test_claim_size_tops_up_in_batches(backlog, queued, allowed, size):
    assert pacer(concurrency=4).claim_size(backlog=backlog, queued=queued, allowed=allowed) == size


def test_claim_size_never_exceeds_the_claim_batch():
    fast = pacer(concurrency=8, claim_batch=100, seconds=0.000001)
    assert fast.capacity() > 100
    assert fast.claim_size(backlog=0, queued=0) == 100


@pytest.mark.parametrize("seen, held, wants", [
    ({}, 0, True),                  # an empty slot always takes more
    ({"echo": 0.0001}, 5, True),    # 0.5 ms of short work: under half a batch
    ({"echo": 0.0001}, 11, False),  # 1.1 ms: more than half a batch (2 ms)
    ({}, 1, False),                 # an unknown type counts as a whole batch
    ({"echo": 1.0}, 1, False),      # one slow task is plenty
])
def test_a_slot_takes_more_while_it_holds_at_most_half_a_batch(seen, held, wants):
    p = pacer()
    p.type_seconds.update(seen)
    assert p.wants_more([job() for _ in range(held)]) is wants


@pytest.mark.parametrize("types, seconds, limit, taken", [
    (["echo"] * 50, {"echo": SHORT}, 32, 16),          # 16 short jobs make a batch of about 2 ms
    (["echo"] * 50, {"echo": SHORT}, 8, 8),            # the limit wins
    (["slow", "echo"], {"slow": 1.0, "echo": SHORT}, 32, 1),  # a slow job travels alone
    (["echo", "slow"], {"slow": 1.0, "echo": SHORT}, 32, 1),  # and does not ride behind short ones
    (["new", "new"], {}, 32, 1),                        # an unknown type travels alone
])
def test_jobs_go_to_a_slot_in_batches_of_about_two_milliseconds(types, seconds, limit, taken):
    p = pacer()
    p.type_seconds.update(seconds)
    backlog = deque(job(type) for type in types)
    first = list(backlog)
    assert p.take(backlog, limit) == first[:taken]
    assert list(backlog) == first[taken:]
    assert sum(seconds.get(t, BATCH_WORK) for t in types[:taken]) <= BATCH_WORK or taken == 1


def test_moving_averages_follow_recent_run_times():
    p = pacer()
    p.observe(job("a"), 1.0)
    assert p.expected(job("a")) == 1.0
    for _ in range(50):
        p.observe(job("a"), 0.001)
    assert p.expected(job("a")) < 0.01


def outcome(j: Job) -> Outcome:
    now = time.time()
    return Outcome(j.id, j.attempt, True, "null", None, now, now)


@pytest.mark.parametrize("waiting, age, stopping, due", [
    (0, 1.0, True, False),      # nothing to flush
    (1, 0.0, False, False),     # one fresh outcome waits for company
    (1, 0.01, False, True),     # until FLUSH_INTERVAL (5 ms) has passed
    (1, 0.0, True, True),       # stopping: at once
    (100, 0.0, False, True),    # FLUSH_SIZE reached: at once
])
def test_outcomes_are_flushed_when_enough_wait_or_the_oldest_waited_long_enough(waiting, age, stopping, due, settings):
    buffer = Outcomes()
    for _ in range(waiting):
        j = job()
        buffer.completed(1, j, outcome(j))
    buffer.since -= age
    assert buffer.due(stopping=stopping) is due


def test_a_refused_batch_comes_back_in_front_of_newer_outcomes():
    buffer = Outcomes()
    old = [job() for _ in range(2)]
    for j in old:
        buffer.completed(1, j, outcome(j))
    done, failed = buffer.take()
    assert not buffer and done and failed == []
    newer = job()
    buffer.completed(1, newer, outcome(newer))
    buffer.put_back(done, [])
    assert [o.id for o in buffer.done] == [old[0].id, old[1].id, newer.id]
    assert buffer.finished == 3 and buffer.unreported == [3, 0]


def test_a_failed_attempt_carries_the_retry_policys_verdict():
    buffer = Outcomes()
    now = datetime(2030, 1, 1, tzinfo=UTC)
    error = {"type": "builtins.ValueError", "message": "boom", "traceback": ""}
    buffer.failed_attempt(1, job(retry_count=0, max_retries=1), error, started_at=None, now=now)
    buffer.failed_attempt(1, job(retry_count=1, max_retries=1), error, started_at=None, now=now)
    retried, dead = buffer.failed
    assert (retried.status, retried.retry_count) == ("scheduled", 1) and retried.run_at > now
    assert (dead.status, dead.run_at, dead.completed_at) == ("failed", None, now)
    assert buffer.unreported == [0, 2]


def test_an_interrupted_attempt_goes_back_to_pending_without_using_a_retry():
    buffer = Outcomes()
    now = datetime(2030, 1, 1, tzinfo=UTC)
    buffer.interrupted(1, job(retry_count=2), now)
    (failure,) = buffer.failed
    assert (failure.status, failure.retry_count, failure.run_at) == ("pending", 2, now)
    assert failure.error["type"] == "tasks.exceptions.WorkerShutdown"


@pytest.fixture
def slots(settings):
    """Three real slot processes; jobs sent to them are only counted, never collected."""
    backlog, p = deque(), pacer(concurrency=3)
    p.type_seconds["sleep"] = SHORT
    real = Slots(3, backlog=backlog, outcomes=Outcomes(), pacer=p)
    real.start()
    yield real
    for slot in real:
        slot.kill()


@pytest.mark.parametrize("waiting, shares", [
    (1, [1, 0, 0]),
    (3, [1, 1, 1]),
    (10, [4, 3, 3]),   # an even share of what is left, first slots first
    (70, [16, 16, 16]),  # each at most a batch of work (16 short jobs); 22 stay in the backlog
])
def test_dispatch_shares_the_backlog_evenly_among_slots_that_want_more(slots, waiting, shares):
    slots.backlog.extend(job("sleep", payload_json="30") for _ in range(waiting))
    slots.dispatch()
    assert [len(slot.jobs) for slot in slots] == shares
    assert len(slots.backlog) == waiting - sum(shares)
    assert slots.queued == sum(shares) and slots.busy == sum(1 for share in shares if share)
