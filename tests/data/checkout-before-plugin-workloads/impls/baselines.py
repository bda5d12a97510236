"""Synchronous baselines: the floor for a workload that never suspends.

They run inside the same coroutine harness as the async implementations
(consumed by a plain ``for``), so only the ``none`` workload exists for them.
"""


def range_iter(n):
    """``sync_iter``: a ``range`` iterator."""
    return iter(range(n))


def count_up(n):
    """``sync_gen``: a plain generator."""
    for i in range(n):
        yield i


IMPLS = {
    "sync_iter": {"family": "sync", "workloads": {"none": range_iter}},
    "sync_gen": {"family": "sync", "workloads": {"none": count_up}},
}
