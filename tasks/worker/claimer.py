"""Which statement claims what: the plain claim for queues without limits, the
flow-control claim (tasks/queue/flow.py) for each limited queue, and the order
in which a worker serving several queues takes them (weighted or strict).

A worker whose queues have no limits and no weights runs exactly the plain
claim, one statement, as it always did.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from tasks import queue
from tasks.jobs import Job
from tasks.queue import flow
from tasks.queue.limits import LimitsCache


@dataclass
class Claim:
    jobs: list[Job] = field(default_factory=list)
    # Seconds until a rate-limited queue of this worker may start more; None: not waiting on a rate.
    opens_in: float | None = None
    limited: frozenset[str] = frozenset()  # this worker's queues under flow control


class Claimer:
    """Claims for one worker. `weights` (queue → weight) takes the queues in a
    weighted random order at each claim, so each comes first in proportion to its
    weight and none starves; `strict` takes them in the order given."""

    def __init__(self, worker_id: UUID, queues: Sequence[str] | None, *,
                 weights: dict[str, int] | None = None, strict: bool = False, rng: random.Random | None = None) -> None:
        self.worker_id = worker_id
        self.queues = None if queues is None else list(queues)
        self.weights = weights
        self.strict = strict
        self.cache = LimitsCache()
        self.rng = rng or random.Random()
        self.busy: set[str] = set()  # limited queues whose last claim found work: no need to probe first

    def claim(self, cursor, limit: int) -> Claim:
        limited = self.cache.among(cursor, self.queues)
        if not limited and not self.weights and not self.strict:
            return Claim(queue.claim(cursor, self.worker_id, self.queues, limit))
        result = Claim(limited=frozenset(limited))
        for group in self.groups():
            names = group if group is not None else list(limited)
            for name in names:
                if name in limited and len(result.jobs) < limit:
                    self._claim_limited(cursor, limited[name], limit - len(result.jobs), result)
            rest = None if group is None else [name for name in group if name not in limited]
            if len(result.jobs) < limit and (rest is None or rest):
                result.jobs += queue.claim(cursor, self.worker_id, rest, limit - len(result.jobs), skip=list(limited))
            if len(result.jobs) >= limit:
                break
        return result

    def groups(self) -> list[list[str] | None]:
        """The queues in the order of this claim, each group one plain statement."""
        if self.queues is None:
            return [None]
        if self.strict:
            return [[name] for name in self.queues]
        if self.weights:
            return [[name] for name in weighted_order(self.weights, self.rng)]
        return [self.queues]

    def _claim_limited(self, cursor, limits, limit: int, result: Claim) -> None:
        claimed = flow.claim_limited(cursor, self.worker_id, limits, limit, probe=limits.name not in self.busy)
        (self.busy.add if claimed.jobs else self.busy.discard)(limits.name)
        result.jobs += claimed.jobs
        if claimed.opens_in is not None:
            result.opens_in = min(claimed.opens_in, result.opens_in or claimed.opens_in)


def weighted_order(weights: dict[str, int], rng: random.Random) -> list[str]:
    """The queues in a random order where each comes first with probability
    weight / total (weighted sampling without replacement)."""
    # Efraimidis-Spirakis: sort by u ** (1 / weight), u uniform in (0, 1).
    return sorted(weights, key=lambda name: rng.random() ** (1.0 / weights[name]), reverse=True)
