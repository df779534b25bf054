"""Unit: the O(n log n) queue numbering gives exactly the order of the straightforward O(n²) simulation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import fair_queue
from tests.unit.test_fair_queue import job


def reference_positions(queue, running, last, starts) -> dict[int, int]:
    """The former implementation: scan the whole queue for the smallest key at every pick."""
    queue, last, order = list(queue), dict(last), {}
    tick = max([starts, *last.values()])
    while queue:
        index = min(range(len(queue)), key=lambda i: (running.get(queue[i].user_id, 0),
                                                       last.get(queue[i].user_id, float("-inf")), queue[i].id))  # fmt: skip
        picked = queue.pop(index)
        tick += 1
        last[picked.user_id] = tick
        order[picked.id] = len(order) + 1
    return order


QUEUES = st.lists(st.integers(1, 6), max_size=40)  # the user of each waiting job, in arrival order
STATE = st.dictionaries(st.integers(1, 6), st.tuples(st.integers(0, 3), st.integers(0, 20)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(users=QUEUES, state=STATE, starts=st.integers(0, 20), shuffle=st.randoms())
def test_heap_numbering_matches_the_reference_simulation(users, state, starts, shuffle):
    """For any waiting queue, jobs in flight per user and last starts, both numberings agree."""
    queue = [job(index + 1, user) for index, user in enumerate(users)]
    shuffle.shuffle(queue)  # arrival order need not be id order
    running = {user: count for user, (count, _) in state.items() if count}
    last = {user: seen for user, (_, seen) in state.items()}
    assert fair_queue.positions(queue, running, last, starts) == reference_positions(queue, running, last, starts)
