"""Round-robin by user: which waiting job starts next, and the queue positions that order promises."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from bot.domain import Job


def holding_by_user(jobs: Iterable[Job]) -> dict[int, int]:
    """Per user, how many of `jobs` (the jobs holding a provider slot) are theirs."""
    counts: dict[int, int] = {}
    for job in jobs:
        counts[job.user_id] = counts.get(job.user_id, 0) + 1
    return counts


def next_index(waiting: Sequence[Job], running: Mapping[int, int], last_start: Mapping[int, int]) -> int:
    """The waiting job whose user has the fewest jobs in flight, then whose user started a job least
    recently, then the oldest."""
    best, best_key = 0, None
    for index, job in enumerate(waiting):
        key = (running.get(job.user_id, 0), last_start.get(job.user_id, float("-inf")), job.id)
        if best_key is None or key < best_key:
            best, best_key = index, key
    return best


def positions(
    waiting: Iterable[Job], running: Mapping[int, int], last_start: Mapping[int, int], starts: int
) -> dict[int, int]:
    """Simulate the dispatcher's picks to number the waiting jobs 1..n: each pick takes the job with the
    smallest (user's jobs in flight, user's last start, job id), as next_index does, and makes its user the
    most recent starter. Only each user's oldest job can be the smallest, so a heap of users gives the same
    order in O(n log n) (a scan per pick was O(n²) per enqueue, which stalled the loop under a burst)."""
    by_user: dict[int, deque[Job]] = {}
    for job in sorted(waiting, key=lambda queued: queued.id):
        by_user.setdefault(job.user_id, deque()).append(job)
    heap = [
        (running.get(user, 0), last_start.get(user, float("-inf")), jobs[0].id, user) for user, jobs in by_user.items()
    ]
    heapq.heapify(heap)
    order: dict[int, int] = {}
    tick: float = max([starts, *last_start.values()])
    while heap:
        in_flight, _, _, user = heapq.heappop(heap)
        jobs = by_user[user]
        order[jobs.popleft().id] = len(order) + 1
        tick += 1
        if jobs:
            heapq.heappush(heap, (in_flight, tick, jobs[0].id, user))
    return order
